"""Aligned face crops of a video at a fixed frame rate: one similarity transform per frame, steady over time.

The transform maps the eye corners and the middle of the mouth onto fixed places of a square crop (eyes at 38% of
the height, mouth at 72%), so the lower half holds the mouth and chin and the upper half the eyes. Dataset
preparation and the SyncNet scores crop faces here, so training and evaluation see the same pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from talkinghead.errors import InputError
from talkinghead.face import regions
from talkinghead.face.track import track_frames
from talkinghead.io.video import read_frames, video_info

FPS = 25.0
CROP_SIZE = 256
EYE_CORNERS = [regions.RIGHT_EYE_OUTER, 133, 362, regions.LEFT_EYE_OUTER]  # right eye outer, inner; left inner, outer
# where the eye corners and the mouth centre land, as fractions of the crop side (measured on frontal FaceMesh tracks:
# inner corners 0.19 eye-widths from the middle, the mouth 0.8 eye-widths below the eyes)
TEMPLATE = np.array([[0.29, 0.38], [0.42, 0.388], [0.58, 0.388], [0.71, 0.38], [0.5, 0.716]])


def anchor_points(lms: np.ndarray) -> np.ndarray:
    """The points aligned onto :data:`TEMPLATE`: four eye corners and the midpoint of the mouth corners, (..., 5, 2)."""
    mouth = (lms[..., regions.MOUTH_RIGHT, :2] + lms[..., regions.MOUTH_LEFT, :2]) / 2
    return np.concatenate([lms[..., EYE_CORNERS, :2], mouth[..., None, :]], axis=-2)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation taking points ``src`` (N, 2) to ``dst``, as a 2x3 matrix."""
    s, d = src[:, 0] + 1j * src[:, 1], dst[:, 0] + 1j * dst[:, 1]
    sc, dc = s - s.mean(), d - d.mean()
    a = (np.conj(sc) * dc).sum() / (np.abs(sc) ** 2).sum()
    b = d.mean() - a * s.mean()
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def alignment_matrices(landmarks: np.ndarray, size: int, smooth: int = 5) -> np.ndarray:
    """(T, 2, 3) transforms from source pixels to the ``size`` crop for (T, 478, 3) landmarks (NaN where lost).

    Lost frames take the transform interpolated between their neighbours; the four similarity parameters are then
    averaged over ``smooth`` frames so that landmark jitter does not shake the crop.
    """
    found = np.isfinite(landmarks[:, :, :2]).all(axis=(1, 2))
    if not found.any():
        raise ValueError("no frame has a face")
    dst = TEMPLATE * size
    params = np.full((len(landmarks), 4), np.nan)
    for i in np.flatnonzero(found):
        m = similarity(anchor_points(landmarks[i]), dst)
        params[i] = m[0, 0], m[1, 0], m[0, 2], m[1, 2]
    t = np.arange(len(landmarks))
    params = np.stack([np.interp(t, t[found], p[found]) for p in params.T], axis=1)
    if smooth > 1:
        padded = np.pad(params, ((smooth // 2, smooth - 1 - smooth // 2), (0, 0)), mode="edge")
        params = np.stack([np.convolve(p, np.ones(smooth) / smooth, mode="valid") for p in padded.T], axis=1)
    c, s, tx, ty = params.T
    return np.stack([np.stack([c, -s, tx], 1), np.stack([s, c, ty], 1)], axis=1)


def crop(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` x ``size`` crop of ``rgb`` under ``matrix`` (prefiltered when shrinking, borders replicated)."""
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale < 1:
        rgb = cv2.GaussianBlur(rgb, (0, 0), 0.3 / scale)
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def resampled(frames: Iterable[np.ndarray], source_fps: float, fps: float = FPS) -> Iterator[np.ndarray]:
    """Frames at ``fps``: frame i (at i/fps s) is the source frame nearest in time, source frame k at k/source_fps s."""
    i = 0
    for k, frame in enumerate(frames):
        while int(np.floor(i * source_fps / fps + 0.5)) == k:
            yield frame
            i += 1


@dataclass
class AlignedTrack:
    """A face tracked through a video at ``fps``, with the transform of every frame to its aligned crop."""

    path: Path
    landmarks: np.ndarray  # (T, 478, 3) source pixels, NaN where the face was lost
    matrices: np.ndarray  # (T, 2, 3) source pixels -> crop pixels
    source_fps: float
    size: int
    fps: float = FPS

    @property
    def n_frames(self) -> int:
        return len(self.landmarks)

    @property
    def found(self) -> np.ndarray:
        """True where the face was found."""
        return np.isfinite(self.landmarks[:, :, :2]).all(axis=(1, 2))

    def crops(self) -> Iterator[np.ndarray]:
        """The aligned (size, size, 3) uint8 crops, one per frame, decoded again from the video."""
        frames = resampled(read_frames(self.path), self.source_fps, self.fps)
        n = 0
        for rgb, matrix in zip(frames, self.matrices):
            yield crop(rgb, matrix, self.size)
            n += 1
        if n != self.n_frames:
            raise InputError(self.path, f"decoded {n} frames the second time, {self.n_frames} the first")


def align_video(path: str | Path, size: int = CROP_SIZE, fps: float = FPS, smooth: int = 5) -> AlignedTrack:
    """Track the largest face through a video resampled to ``fps`` and compute its crop transforms."""
    path = Path(path)
    source_fps = video_info(path)[0]
    track = track_frames(resampled(read_frames(path), source_fps, fps), fps)
    if not track.found.any():
        raise InputError(path, "no face found")
    return AlignedTrack(path, track.landmarks.astype(np.float32), alignment_matrices(track.landmarks, size, smooth),
                        source_fps, size, fps)
