"""Backward piecewise-affine image warp over a triangle mesh, computed at reduced map resolution."""

from __future__ import annotations

import cv2
import numpy as np


class PiecewiseAffineWarp:
    """Warps an image so that mesh vertices move from ``src`` to ``dst``; pixels outside the mesh stay.

    Per frame: rasterise the destination triangles into an id map, build the destination->source
    affine of every triangle, evaluate the sampling map on a grid ``map_step`` pixels apart, upsample
    it (the map is piecewise linear, so this is nearly exact) and remap.
    """

    def __init__(self, triangles: np.ndarray, width: int, height: int, map_step: int = 2) -> None:
        self.triangles = triangles
        self.width, self.height, self.step = width, height, map_step

    def affines(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """(M, 3, 2) matrices A with src = [x, y, 1] @ A for points of each destination triangle."""
        d = np.concatenate([dst[self.triangles], np.ones((len(self.triangles), 3, 1))], axis=2)
        s = src[self.triangles]
        det = np.linalg.det(d)
        ok = np.abs(det) > 1e-6
        a = np.zeros((len(d), 3, 2))
        a[ok] = np.linalg.solve(d[ok], s[ok])
        a[~ok] = np.array([[1, 0], [0, 1], [0, 0]])  # collapsed triangles cover no pixels
        return a

    def maps(self, src: np.ndarray, dst: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Sampling maps (float32) for the pixels of ``box`` = (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = box
        s = self.step
        gw, gh = (x1 - x0 + s - 1) // s + 1, (y1 - y0 + s - 1) // s + 1
        ids = np.zeros((gh, gw), np.int32)
        scale = 1.0 / s
        for k, tri in enumerate(dst[self.triangles]):
            pts = np.round(((tri - (x0, y0)) * scale) * 16).astype(np.int32)
            cv2.fillConvexPoly(ids, pts, k + 1, lineType=cv2.LINE_8, shift=4)
        a = np.concatenate([np.array([[[1, 0], [0, 1], [0, 0]]], float), self.affines(src, dst)])
        gx, gy = np.meshgrid(x0 + s * np.arange(gw, dtype=np.float64), y0 + s * np.arange(gh, dtype=np.float64))
        m = a[ids]
        # displacement (sample position minus pixel position) is smooth, so it is what gets upsampled
        dx = (gx * (m[..., 0, 0] - 1) + gy * m[..., 1, 0] + m[..., 2, 0]).astype(np.float32)
        dy = (gx * m[..., 0, 1] + gy * (m[..., 1, 1] - 1) + m[..., 2, 1]).astype(np.float32)
        if s > 1:
            dx, dy = (_upsample(d, s, x1 - x0, y1 - y0) for d in (dx, dy))
        px, py = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        mx, my = px + dx, py + dy
        return mx, my

    def warp(self, image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """``image`` with the mesh moved from ``src`` to ``dst`` (both (N, 2) pixel coordinates)."""
        pts = np.concatenate([src, dst])
        x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 2, (self.width, self.height))
        mx, my = self.maps(src, dst, (x0, y0, x1, y1))
        out = image.copy()
        out[y0:y1, x0:x1] = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out


def _upsample(grid: np.ndarray, step: int, width: int, height: int) -> np.ndarray:
    """Corner-aligned bilinear upsampling of values sampled every ``step`` pixels."""
    gh, gw = grid.shape
    xs = np.minimum(np.arange(width) / step, gw - 1).astype(np.float32)
    ys = np.minimum(np.arange(height) / step, gh - 1).astype(np.float32)
    mx, my = np.meshgrid(xs, ys)
    return cv2.remap(grid, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
