"""The square a fitted renderer draws in: around the lips, cut by the face's own landmarks, with what its decoder is
shown there (the reference moved into place as the warp renderer moves it, a landmark sketch, real mouths of the
person moved into place) and the mask its drawing is blended through.

Training pairs and rendering build these the same way, so the decoder sees at render time what it learnt on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkinghead.face import regions
from talkinghead.render.mouth import MouthColors, MouthPainter
from talkinghead.render.piecewise_affine import PiecewiseAffineWarp
from talkinghead.render.topology import background_ring, face_triangles, follow_face

SPAN = 1.1  # side of the square in eye distances (the outer eye corners' distance)
DROP = 0.1  # its centre sits this far below the lips' centre, in eye distances
LIP_SHAPE = regions.LIPS_OUTER + regions.LIPS_INNER
NOSE_BASE = [129, 98, 97, 2, 326, 327, 358]
SKETCH = [(regions.LIPS_OUTER, True), (regions.LIPS_INNER, True), (regions.FACE_OVAL[10:27], False),
          (NOSE_BASE, False)]


@dataclass(frozen=True)
class MouthCrop:
    """A similarity from image pixels to a ``size`` square around the mouth, upright along the eye line."""

    matrix: np.ndarray  # 2x3, image -> crop
    size: int

    @classmethod
    def around(cls, points: np.ndarray, size: int) -> "MouthCrop":
        """The square around the mouth of ``points`` (478+ landmarks, image pixels)."""
        eye_line = points[regions.LEFT_EYE_OUTER, :2] - points[regions.RIGHT_EYE_OUTER, :2]
        distance = float(np.hypot(*eye_line))
        cos, sin = eye_line / distance
        down = np.array([-sin, cos])
        centre = points[regions.LIPS_OUTER, :2].mean(0) + DROP * distance * down
        scale = size / (SPAN * distance)
        rotation = scale * np.array([[cos, sin], [-sin, cos]])
        return cls(np.hstack([rotation, (size / 2 - rotation @ centre)[:, None]]), size)

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return float(np.hypot(*self.matrix[0, :2]))

    def points(self, points: np.ndarray) -> np.ndarray:
        """(N, 2+) image points in crop pixels (x, y only)."""
        return points[:, :2] @ self.matrix[:, :2].T + self.matrix[:, 2]

    def cut(self, image: np.ndarray) -> np.ndarray:
        """The square of ``image`` (edges repeated outside it), area-filtered when shrinking."""
        flags = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        return cv2.warpAffine(image, self.matrix, (self.size, self.size), flags=flags,
                              borderMode=cv2.BORDER_REPLICATE)

    def paste(self, canvas: np.ndarray, crop: np.ndarray, alpha: np.ndarray) -> None:
        """Blend ``crop`` into ``canvas`` (float32 or uint8, image pixels) through ``alpha`` (crop pixels), in place;
        only the square's bounding box is touched."""
        corners = np.array([[0, 0], [self.size, 0], [0, self.size], [self.size, self.size]], np.float64)
        inverse = cv2.invertAffineTransform(self.matrix)
        box = corners @ inverse[:, :2].T + inverse[:, 2]
        h, w = canvas.shape[:2]
        x0, y0 = np.clip(np.floor(box.min(0)).astype(int), 0, [w, h])
        x1, y1 = np.clip(np.ceil(box.max(0)).astype(int) + 1, 0, [w, h])
        if x1 <= x0 or y1 <= y0:
            return
        shifted = inverse.copy()
        shifted[:, 2] -= (x0, y0)
        size = (int(x1 - x0), int(y1 - y0))
        layer = cv2.warpAffine(crop.astype(np.float32), shifted, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        weight = cv2.warpAffine(alpha.astype(np.float32), shifted, size, flags=cv2.INTER_LINEAR)[..., None]
        region = canvas[y0:y1, x0:x1].astype(np.float32)
        blended = region + weight * (layer - region)
        canvas[y0:y1, x0:x1] = np.clip(blended, 0, 255) if canvas.dtype == np.uint8 else blended


def sketch(points: np.ndarray, size: int) -> np.ndarray:
    """The lip contours, lower face outline and nose base of ``points`` (crop pixels) drawn as 1-pixel
    anti-aliased lines on a ``size`` square (uint8)."""
    canvas = np.zeros((size, size), np.uint8)
    lines = [np.round(points[idx, :2] * 16).astype(np.int32) for idx, _ in SKETCH]
    for line, (_, closed) in zip(lines, SKETCH):
        cv2.polylines(canvas, [line], closed, 255, 1, cv2.LINE_AA, shift=4)
    return canvas


def blend_mask(points: np.ndarray, size: int) -> np.ndarray:
    """Where the fitted drawing replaces the moved reference: the lips and a band around them (a quarter of the
    mouth's width), feathered, fading out before the square's edges (float32 0..1)."""
    width = float(np.hypot(*(points[regions.MOUTH_LEFT, :2] - points[regions.MOUTH_RIGHT, :2])))
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [np.round(points[regions.LIPS_OUTER, :2] * 4).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    radius = max(1, int(round(0.25 * width)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.1 * width))
    edge = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    taper = np.clip(edge / (0.08 * size), 0, 1)
    return mask * taper[:, None] * taper[None, :]


def lip_shape(points: np.ndarray) -> np.ndarray:
    """The lip contours in crop pixels, centred and flattened: what mouths are matched on. Works on (..., N, 2)."""
    lips = points[..., LIP_SHAPE, :2]
    return (lips - lips.mean(-2, keepdims=True)).reshape(*points.shape[:-2], -1)


def moved(image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``image`` (a crop) with its face mesh moved from ``source`` to ``target`` (479 points, crop pixels), the
    background ring following as the warp renderer's does."""
    size = image.shape[0]
    anchors, ring = background_ring(source, size, size)
    warp = PiecewiseAffineWarp(np.concatenate([face_triangles(), ring]), size, size, map_step=1)
    return warp.warp(image, np.concatenate([source, anchors]), np.concatenate([target, follow_face(anchors, source,
                                                                                                   target)]))


@dataclass
class MouthReference:
    """A still of the person the base face is moved from: an image, its 479 landmarks there and its mouth colours."""

    image: np.ndarray
    points: np.ndarray
    colors: MouthColors

    @classmethod
    def of(cls, image: np.ndarray, points: np.ndarray) -> "MouthReference":
        """The reference ``image`` with its landmarks (479, 2+, image pixels), colours sampled from it."""
        return cls(image, points[:, :2], MouthColors.sample(image, points))

    def base(self, crop: MouthCrop, target: np.ndarray) -> np.ndarray:
        """What the warp renderer draws in ``crop`` for a face at ``target`` (crop pixels): this reference moved
        along the mesh, the mouth interior painted (uint8)."""
        face = moved(crop.cut(self.image), crop.points(self.points), target)
        painter = MouthPainter(self.colors, float(regions.eye_distance(target)))
        painter.paint(face, target)
        return face
