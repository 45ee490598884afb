"""Mouth-crop fidelity: the generated mouth against the real one, each crop cut by its own video's landmarks.

A crop is the outer lips' landmark box padded by half the mouth width on every side, resampled to
:data:`CROP_SIZE`. Against the real crops: SSIM and PSNR; on their own: the sharpness ratio (mean variance of the
Laplacian, generated over real: 1 is as sharp as real, above 1 grainier or harder-edged) and the change ratio (mean
frame-to-frame change, generated over real: 1 is as steady as real, above 1 shimmer or jumps).
"""

from __future__ import annotations

import cv2
import numpy as np

from talkinghead.face import regions

CROP_SIZE = (128, 96)  # width, height


def mouth_crop(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """The mouth of an RGB frame as a :data:`CROP_SIZE` crop (edges repeated outside the frame); None when lost."""
    lips = landmarks[regions.LIPS_OUTER, :2]
    if not np.isfinite(lips).all():
        return None
    (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
    pad = 0.5 * (x1 - x0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    sx, sy = CROP_SIZE[0] / (x1 - x0), CROP_SIZE[1] / (y1 - y0)
    matrix = np.array([[sx, 0, -sx * x0], [0, sy, -sy * y0]])
    return cv2.warpAffine(frame, matrix, CROP_SIZE, flags=cv2.INTER_AREA if min(sx, sy) < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the crop's grey levels: high-frequency energy."""
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def change(previous: np.ndarray, crop: np.ndarray) -> float:
    """Mean absolute grey-level change between two consecutive crops (0..255)."""
    grey = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY).astype(np.float32) for c in (previous, crop)]
    return float(np.abs(grey[1] - grey[0]).mean())


class MouthFidelity:
    """Running mouth-crop scores of a generated video against the real one, frame by frame."""

    def __init__(self) -> None:
        self.ssim: list[float] = []
        self.psnr: list[float] = []
        self.sharp: dict[str, list[float]] = {"generated": [], "real": []}
        self.change: dict[str, list[float]] = {"generated": [], "real": []}
        self._previous: dict[str, np.ndarray | None] = {"generated": None, "real": None}

    def add(self, generated: np.ndarray | None, real: np.ndarray | None) -> None:
        """One frame's crops (None where that video's face was lost)."""
        for kind, crop in (("generated", generated), ("real", real)):
            if crop is not None:
                self.sharp[kind].append(sharpness(crop))
                if self._previous[kind] is not None:
                    self.change[kind].append(change(self._previous[kind], crop))
            self._previous[kind] = crop
        if generated is not None and real is not None:
            grey = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in (generated, real)]
            self.ssim.append(float(cv2.quality.QualitySSIM_compute(grey[0], grey[1])[0][0]))
            mse = float(np.mean((generated.astype(np.float32) - real.astype(np.float32)) ** 2))
            self.psnr.append(10 * np.log10(255.0 ** 2 / mse) if mse > 0 else 100.0)

    def metrics(self) -> dict[str, float]:
        """``mouth_ssim``, ``mouth_psnr`` (dB), ``mouth_sharpness`` and ``mouth_change`` (ratios to the real video)."""
        if not self.ssim:
            return {}
        out = {"mouth_ssim": float(np.mean(self.ssim)), "mouth_psnr": float(np.mean(self.psnr)),
               "mouth_sharpness": float(np.mean(self.sharp["generated"]) / max(np.mean(self.sharp["real"]), 1e-9))}
        if self.change["real"]:
            out["mouth_change"] = float(np.mean(self.change["generated"]) / max(np.mean(self.change["real"]), 1e-9))
        return out
