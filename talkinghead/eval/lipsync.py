"""Lip-sync agreement between two per-frame curves: Pearson r at the best lag."""

from __future__ import annotations

import numpy as np


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the frames where both are finite (NaN if either is constant)."""
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def best_lag(generated: np.ndarray, reference: np.ndarray, max_lag: int = 3) -> tuple[float, int]:
    """(r, lag) maximising r; lag > 0 means ``generated`` is late by that many frames."""
    n = min(len(generated), len(reference))
    g, r = np.asarray(generated[:n], float), np.asarray(reference[:n], float)
    best = (-np.inf, 0)
    for lag in range(-max_lag, max_lag + 1):
        a, b = (g[lag:], r[:n - lag]) if lag >= 0 else (g[:n + lag], r[-lag:])
        best = max(best, (pearson(a, b), lag), key=lambda t: (np.nan_to_num(t[0], nan=-np.inf), -abs(t[1])))
    return best
