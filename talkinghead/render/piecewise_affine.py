"""Backward piecewise-affine image warp over a triangle mesh, computed at reduced map resolution."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

SHIFT = 4  # sub-pixel bits of the rasterised triangle id map


class PiecewiseAffineWarp:
    """Warps an image so that mesh vertices move from ``src`` to ``dst``; pixels outside the mesh stay.

    Per frame: rasterise the destination triangles into an id map on a grid ``map_step`` pixels apart,
    look up each triangle's destination->source affine there, upsample the resulting displacement
    (piecewise linear, so this is nearly exact) and remap.
    """

    def __init__(self, triangles: np.ndarray, width: int, height: int, map_step: int = 2) -> None:
        self.triangles = triangles
        self.width, self.height, self.step = width, height, map_step

    def displacement_coefficients(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """(M+1, 6) float32 per triangle: src - dst = (a x + b y + c, d x + e y + f); row 0 is the identity."""
        d, s = dst[self.triangles], src[self.triangles]
        (x0, y0), (x1, y1), (x2, y2) = d[:, 0].T, d[:, 1].T, d[:, 2].T
        det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        ok = np.abs(det) > 1e-9
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        # barycentric gradients of the destination triangle
        gx = np.stack([y1 - y2, y2 - y0, y0 - y1], 1) * inv[:, None]
        gy = np.stack([x2 - x1, x0 - x2, x1 - x0], 1) * inv[:, None]
        g0 = np.stack([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], 1) * inv[:, None]
        coef = np.empty((len(d) + 1, 6), np.float64)
        coef[0] = 0
        for axis in (0, 1):
            v = s[..., axis]
            coef[1:, 3 * axis] = (gx * v).sum(1) - (axis == 0)
            coef[1:, 3 * axis + 1] = (gy * v).sum(1) - (axis == 1)
            coef[1:, 3 * axis + 2] = (g0 * v).sum(1)
        coef[1:][~ok] = 0  # collapsed triangles cover no pixels
        return coef.astype(np.float32)

    def displacement(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution (dx, dy) float32 maps: where each output pixel samples the input, minus itself."""
        s = self.step
        gw, gh = (self.width - 1) // s + 2, (self.height - 1) // s + 2
        ids = np.zeros((gh, gw), np.int32)
        polys = np.round(dst[self.triangles] * ((1 << SHIFT) / s)).astype(np.int32)
        for k, poly in enumerate(polys, 1):
            cv2.fillConvexPoly(ids, poly, k, cv2.LINE_8, SHIFT)
        coef = self.displacement_coefficients(src, dst)
        px, py = _grid(gw, gh, float(s))
        c = coef[ids]
        dx = px * c[..., 0] + py * c[..., 1] + c[..., 2]
        dy = px * c[..., 3] + py * c[..., 4] + c[..., 5]
        if s == 1:
            return dx[: self.height, : self.width], dy[: self.height, : self.width]
        ux, uy = _upsample_grid(self.width, self.height, s)
        return tuple(cv2.remap(d, ux, uy, cv2.INTER_LINEAR) for d in (dx, dy))

    def warp(self, image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """``image`` with the mesh moved from ``src`` to ``dst`` (both (N, 2) pixel coordinates)."""
        return self.remap(image, *self.displacement(src, dst))

    def remap(self, image: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """``image`` sampled along a :meth:`displacement` field."""
        px, py = _grid(self.width, self.height, 1.0)
        return cv2.remap(image, px + dx, py + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=8)
def _grid(width: int, height: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates of a ``width`` x ``height`` grid with spacing ``step`` (float32)."""
    return np.meshgrid(np.arange(width, dtype=np.float32) * step, np.arange(height, dtype=np.float32) * step)


@lru_cache(maxsize=8)
def _upsample_grid(width: int, height: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Corner-aligned sampling positions that upsample a ``step``-spaced grid to full resolution."""
    px, py = _grid(width, height, 1.0)
    return px / step, py / step
