"""Steady landmark tracks: shots split at cuts, short losses bridged, jitter smoothed within each shot."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from talkinghead.face import regions
from talkinghead.face.normalize import STABLE

CUT_JUMP = 0.35  # a stable-point jump of this many eye distances between two frames starts a new shot
MAX_GAP_S = 0.2  # losses up to this long are bridged by interpolation; longer ones split the shot


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN frames (per column); all-NaN stays NaN."""
    x = np.array(x, float)
    flat = x.reshape(len(x), -1)
    t = np.arange(len(x))
    for col in flat.T:
        ok = np.isfinite(col)
        if ok.any() and not ok.all():
            col[~ok] = np.interp(t[~ok], t[ok], col[ok])
    return flat.reshape(x.shape)


def shots(landmarks: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """(start, end) frame ranges (end exclusive) where the face is tracked without a cut or a long loss."""
    found = np.isfinite(landmarks[:, :, :2]).all(axis=(1, 2))
    max_gap = int(round(MAX_GAP_S * fps))
    found_idx = np.flatnonzero(found)
    if not len(found_idx):
        return []
    prev, cur = found_idx[:-1], found_idx[1:]
    moved = np.linalg.norm(landmarks[cur][:, STABLE, :2] - landmarks[prev][:, STABLE, :2], axis=-1).mean(-1)
    jump = moved / regions.eye_distance(landmarks[prev]) / (cur - prev)
    starts = [found_idx[0], *cur[(cur - prev - 1 > max_gap) | (jump > CUT_JUMP)]]
    ends = [found_idx[found_idx < s][-1] + 1 for s in starts[1:]] + [found_idx[-1] + 1]
    return list(zip(map(int, starts), map(int, ends)))


def smooth_track(landmarks: np.ndarray, fps: float, sigma_s: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, D) landmarks bridged over short losses and Gaussian-smoothed over ``sigma_s`` within each shot.

    Returns the smoothed landmarks (NaN outside the shots) and the shot index of every frame (-1 outside).
    """
    out = np.full(landmarks.shape, np.nan, np.float32)
    shot_of = np.full(len(landmarks), -1, int)
    sigma = sigma_s * fps
    for k, (a, b) in enumerate(shots(landmarks, fps)):
        seg = landmarks[a:b].astype(np.float64)
        found = np.isfinite(seg[:, :, :2]).all(axis=(1, 2))
        t = np.arange(b - a)
        flat = seg.reshape(b - a, -1)
        filled = np.stack([np.interp(t, t[found], col[found]) for col in flat.T], axis=1) if not found.all() else flat
        if sigma > 0 and b - a > 1:
            filled = gaussian_filter1d(filled, sigma, axis=0, mode="nearest")
        out[a:b] = filled.reshape(seg.shape)
        shot_of[a:b] = k
    return out, shot_of
