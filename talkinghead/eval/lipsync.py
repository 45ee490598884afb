"""Lip-sync agreement: Pearson r of per-frame curves at the best lag, and the lips' landmark distance (LMD)."""

from __future__ import annotations

import numpy as np

from talkinghead.face import regions
from talkinghead.face.normalize import face_frame

LIPS = regions.LIPS_OUTER + regions.LIPS_INNER


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the frames where both are finite (NaN if either is constant)."""
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def shift(a: np.ndarray, b: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` cut to their overlap once ``a`` is moved ``lag`` frames earlier."""
    n = min(len(a), len(b))
    return (a[lag:n], b[:n - lag]) if lag >= 0 else (a[:n + lag], b[-lag:n])


def best_lag(generated: np.ndarray, reference: np.ndarray, max_lag: int = 3) -> tuple[float, int]:
    """(r, lag) maximising r; lag > 0 means ``generated`` is late by that many frames (ties: the smaller lag)."""
    g, r = np.asarray(generated, float), np.asarray(reference, float)
    best = (-np.inf, 0)
    for lag in range(-max_lag, max_lag + 1):
        best = max(best, (pearson(*shift(g, r, lag)), lag), key=lambda t: (np.nan_to_num(t[0], nan=-np.inf), -abs(t[1])))
    return best


def mouth_lmd(generated: np.ndarray, reference: np.ndarray, lag: int = 0) -> float:
    """Mean distance of the lip landmarks (outer and inner rings) in the face's own frame, in eye widths, at ``lag``.

    Takes (T, 478, D) landmark tracks; frames without a face in either are left out.
    """
    g, r = shift(face_frame(generated)[:, LIPS], face_frame(reference)[:, LIPS], lag)
    return float(np.nanmean(np.linalg.norm(g - r, axis=-1))) if len(g) else float("nan")
