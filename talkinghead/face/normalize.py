"""Landmarks in the face's own frame: translation, in-plane rotation and scale removed, so shapes compare across frames."""

from __future__ import annotations

import numpy as np

from talkinghead.face import regions

# points that barely move with speech or expression: eye corners, nose bridge and tip, temples
STABLE = [33, 133, 263, 362, 168, 6, 197, 1, 127, 356]
# the face's identity shape, which speech and expressions leave alone: the outline above the mouth corners
# (the jaw moves with speech), the eye corners and the nose
UPPER_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
              109]
SHAPE = UPPER_OVAL + [33, 133, 263, 362, 168, 6, 197, 195, 5, 4, 1, 98, 327]


def face_frame(lms: np.ndarray) -> np.ndarray:
    """2D landmarks (..., 478, 2) with the eye-corner midpoint at 0, the eye line on +x and the eye distance as unit."""
    right, left = lms[..., regions.RIGHT_EYE_OUTER, :2], lms[..., regions.LEFT_EYE_OUTER, :2]
    axis = left - right
    scale = np.linalg.norm(axis, axis=-1, keepdims=True)
    cos, sin = (axis / scale)[..., :1, None], (axis / scale)[..., 1:, None]
    centred = (lms[..., :2] - ((left + right) / 2)[..., None, :]) / scale[..., None]
    x, y = centred[..., 0:1], centred[..., 1:2]
    return np.concatenate([x * cos + y * sin, -x * sin + y * cos], axis=-1)


def procrustes_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean point distance after the best similarity alignment of ``a`` onto ``b`` (points (N, D)), in units of ``b``'s
    RMS size."""
    a, b = a - a.mean(0), b - b.mean(0)
    a_norm, b_norm = np.linalg.norm(a), np.linalg.norm(b)
    a, b = a / a_norm, b / b_norm
    u, s, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    u[:, -1] *= d
    s[-1] *= d
    aligned = s.sum() * a @ (u @ vt)
    return float(np.linalg.norm(aligned - b, axis=1).mean() * np.sqrt(len(b)))
