"""Does the face stay the same: landmark-geometry distance to the source face, PSNR and SSIM against reference frames."""

from __future__ import annotations

import cv2
import numpy as np

from talkinghead.face.normalize import SHAPE, procrustes_distance
from talkinghead.face.track import FaceTrack


def geometry_distance(track: FaceTrack, source: np.ndarray) -> float:
    """Mean 3D Procrustes distance of the face outline and nose to the source face's, in % of the face's RMS size."""
    target = source[SHAPE]
    dists = [procrustes_distance(lms[SHAPE], target) for lms, ok in zip(track.landmarks, track.found) if ok]
    return float(np.mean(dists) * 100) if dists else float("nan")


class ImageQuality:
    """Running mean PSNR (dB) and SSIM of generated frames against reference frames (resized to the generated size)."""

    def __init__(self) -> None:
        self.psnr: list[float] = []
        self.ssim: list[float] = []

    def add(self, generated: np.ndarray, reference: np.ndarray) -> None:
        """Score one pair of RGB uint8 frames."""
        if reference.shape != generated.shape:
            reference = cv2.resize(reference, generated.shape[1::-1], interpolation=cv2.INTER_AREA)
        mse = np.mean((generated.astype(np.float32) - reference.astype(np.float32)) ** 2)
        self.psnr.append(float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else 100.0)
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (generated, reference)]
        self.ssim.append(float(cv2.quality.QualitySSIM_compute(gray[0], gray[1])[0][0]))

    def metrics(self) -> dict[str, float]:
        """Mean PSNR (capped at 100 dB for identical frames) and SSIM over the frames scored."""
        if not self.psnr:
            return {}
        return {"psnr": float(np.mean(self.psnr)), "ssim": float(np.mean(self.ssim))}
