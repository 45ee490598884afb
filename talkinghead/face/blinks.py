"""Blinks on a landmark track: each eye's lid gap against its running open level (facts about faces, shared by
tracking and evaluation)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import percentile_filter

from talkinghead.face.smooth import fill_gaps


def open_level(eyes: np.ndarray, fps: float) -> np.ndarray:
    """The eyes' running open level: the 90th percentile of the lid gap over 3 s (gaps filled)."""
    return percentile_filter(fill_gaps(eyes), 90, size=max(3, int(round(3 * fps))), mode="nearest")


def detect_blinks(eyes: np.ndarray, fps: float, closed: float = 0.65, moving: float = 0.8,
                  max_s: float = 1.0) -> np.ndarray:
    """(N, 2) start and end (exclusive) frames of blinks: the eyes drop below ``closed`` x their running open level.

    Each blink spans the frames around that dip where the lids are below ``moving`` x open (closing and reopening).
    The open level is :func:`open_level`; closures longer than ``max_s`` are not blinks.
    """
    e = fill_gaps(eyes)
    if not np.isfinite(e).any():
        return np.zeros((0, 2), int)
    level = open_level(e, fps)
    blinks = []
    for a, b in _runs(e < moving * level):
        dips = _runs(e[a:b] < closed * level[a:b]) + a
        # two dips without a full reopening between them are two blinks, split where the lids rise highest
        cuts = [a] + [int(d0 + np.argmax(e[d0:d1])) for (_, d0), (d1, _) in zip(dips[:-1], dips[1:])] + [b]
        blinks += [(s, t) for s, t in zip(cuts[:-1], cuts[1:])] if len(dips) else []
    return np.array([(s, t) for s, t in blinks if t - s <= max_s * fps], int).reshape(-1, 2)


def _runs(mask: np.ndarray) -> np.ndarray:
    """(N, 2) start and end (exclusive) of the runs of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return edges.reshape(-1, 2)
