"""Face regions cut from a frame at working resolution and pasted back: feathered, colour-matched, exact elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

COLOR_DOWNSAMPLE = 4  # the colour correction field is estimated at this fraction of the working resolution


@dataclass(frozen=True)
class Window:
    """A square of ``side`` source pixels at integer ``x0``, ``y0``, processed at ``scale`` (<= 1)."""

    x0: int
    y0: int
    side: int
    scale: float

    @property
    def size(self) -> int:
        """Side of the working-resolution crop."""
        return max(2, int(round(self.side * self.scale)))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2+) source-pixel points in crop pixels (z scaled alike)."""
        k = self.size / self.side
        out = np.array(points, np.float64) * k
        out[:, 0] -= k * self.x0
        out[:, 1] -= k * self.y0
        return out

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """The window of ``frame`` at working resolution (borders replicated; an exact copy at scale 1)."""
        square = _cut(frame, self.x0, self.y0, self.side)
        if self.size == self.side:
            return square
        return cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_AREA)


def _cut(frame: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """``frame[y0:y0+side, x0:x0+side]``, replicating the border where the square leaves the frame."""
    h, w = frame.shape[:2]
    cx0, cy0 = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1)
    cx1, cy1 = max(min(x0 + side, w), cx0 + 1), max(min(y0 + side, h), cy0 + 1)
    part = frame[cy0:cy1, cx0:cx1]
    if part.shape[:2] == (side, side):
        return part
    return cv2.copyMakeBorder(part, cy0 - y0, y0 + side - cy1, cx0 - x0, x0 + side - cx1, cv2.BORDER_REPLICATE)


def feathered_mask(size: int, polygons: list[np.ndarray], sigma: float) -> np.ndarray:
    """The union of ``polygons`` (crop pixels) as a float32 mask in 0..1, its edge blurred by ``sigma`` pixels.

    A wide blur is computed at reduced resolution and scaled back up: the mask is smooth, so nothing is lost.
    """
    step = max(1, int(sigma // 3))
    small = -(-size // step)
    mask = np.zeros((small, small), np.float32)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(poly[:, :2] * (4 / step)).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    mask = cv2.GaussianBlur(mask, (0, 0), max(sigma / step, 0.5))
    if step > 1:
        mask = cv2.resize(mask, (small * step, small * step), interpolation=cv2.INTER_LINEAR)[:size, :size]
    return mask


def color_correction(target: np.ndarray, patch: np.ndarray, mask: np.ndarray, sigma: float,
                     within: np.ndarray | None = None) -> np.ndarray:
    """A smooth (H, W, 3) offset that brings ``patch`` to the colours of ``target`` where they meet.

    The difference is taken on the blend ring (0.05 < mask < 0.95) inside the polygon ``within`` (crop pixels; the
    face, where both should show the same skin) and spread over the whole mask by normalised convolution with a
    Gaussian of ``sigma`` pixels, at reduced resolution.
    """
    size = mask.shape[0]
    small = max(4, size // COLOR_DOWNSAMPLE)
    shrink = lambda a: cv2.resize(a, (small, small), interpolation=cv2.INTER_AREA)  # noqa: E731
    ring = ((mask > 0.05) & (mask < 0.95)).astype(np.float32)
    if within is not None:
        inside = np.zeros_like(ring)
        cv2.fillPoly(inside, [np.round(within[:, :2]).astype(np.int32)], 1.0)
        ring *= inside
    ring = shrink(ring)
    diff = shrink(np.asarray(target, np.float32)) - shrink(np.asarray(patch, np.float32))
    s = max(sigma * small / size, 0.5)
    weight = cv2.GaussianBlur(ring, (0, 0), s)
    if ring.sum() < 1:
        return np.zeros(target.shape, np.float32)
    overall = (diff * ring[..., None]).sum((0, 1)) / ring.sum()
    eps = 1e-2
    field = (cv2.GaussianBlur(diff * ring[..., None], (0, 0), s) + eps * overall) / (weight + eps)[..., None]
    return cv2.resize(field, (size, size), interpolation=cv2.INTER_LINEAR)


def paste(frame: np.ndarray, window: Window, crop: np.ndarray, mask: np.ndarray) -> tuple[tuple[int, int, int, int],
                                                                                       np.ndarray]:
    """Blend ``crop`` (working resolution) into ``frame`` in place through ``mask``; where it is 0, pixels stay.

    Mask values too small to change a pixel count as 0. Returns the box (x0, y0, x1, y1) of the frame that the
    window covers and the mask over it at source resolution.
    """
    side = window.side
    if window.size != side:
        crop = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC)
        mask = cv2.resize(mask, (side, side), interpolation=cv2.INTER_LINEAR)
    h, w = frame.shape[:2]
    x0, y0 = min(max(window.x0, 0), w), min(max(window.y0, 0), h)
    x1, y1 = max(min(window.x0 + side, w), x0), max(min(window.y0 + side, h), y0)
    m = np.where(mask[y0 - window.y0:y1 - window.y0, x0 - window.x0:x1 - window.x0] > 1 / 512, mask[
        y0 - window.y0:y1 - window.y0, x0 - window.x0:x1 - window.x0], 0).astype(np.float32)
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    if len(rows):
        sub = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        c = np.clip(crop[y0 - window.y0:y1 - window.y0, x0 - window.x0:x1 - window.x0][sub], 0, 255).astype(np.uint8)
        roi = frame[y0:y1, x0:x1][sub]
        roi[:] = cv2.blendLinear(c, roi, m[sub], 1 - m[sub])
    return (x0, y0, x1, y1), m
