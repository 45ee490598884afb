"""Paints what an open mouth reveals (cavity, teeth, tongue, lip shadow) and the lash line of a closed eye."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkinghead.face import regions

SUPERSAMPLE = 4  # sub-pixel precision of the polygon masks (cv2 shift = 2)


@dataclass
class MouthColors:
    """Colours (RGB floats 0..255) sampled from the portrait so the mouth matches its lighting."""

    lip: np.ndarray
    skin: np.ndarray

    @classmethod
    def sample(cls, image: np.ndarray, lms: np.ndarray) -> "MouthColors":
        """Mean colours of the lips and of the cheeks below the eyes."""
        lips = _mask(image.shape[:2], lms[regions.LIPS_OUTER, :2]) & ~_mask(image.shape[:2], lms[regions.LIPS_INNER, :2])
        cheeks = np.zeros(image.shape[:2], bool)
        for idx in (50, 280):  # cheek centres
            x, y = lms[idx, :2].astype(int)
            r = max(2, int(0.05 * regions.eye_distance(lms)))
            cheeks[max(0, y - r):y + r, max(0, x - r):x + r] = True
        lip = image[lips].mean(0) if lips.any() else np.array([150.0, 80, 80])
        skin = image[cheeks].mean(0) if cheeks.any() else np.array([190.0, 150, 130])
        return cls(lip.astype(np.float32), skin.astype(np.float32))


def _mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(polygon).astype(np.int32)], 1)
    return m.astype(bool)


def _poly(canvas: np.ndarray, points: np.ndarray, value: float | tuple) -> None:
    cv2.fillPoly(canvas, [np.round(points * SUPERSAMPLE).astype(np.int32)], value, cv2.LINE_AA, shift=2)


class MouthPainter:
    """Draws the inside of the mouth into the inner-lip polygon of warped landmarks."""

    def __init__(self, colors: MouthColors, scale: float) -> None:
        self.colors = colors
        self.scale = scale  # eye distance in pixels
        # teeth take the portrait's brightness so they never glow in a dark picture
        bright = np.clip(colors.skin.mean() / 175.0, 0.4, 1.0)
        self.teeth = np.array([228, 218, 200], np.float32) * bright
        self.cavity = colors.lip * 0.22 + np.array([12, 4, 4], np.float32)
        self.tongue = colors.lip * 0.75 + np.array([30, 0, 0], np.float32)

    def paint(self, frame: np.ndarray, lms: np.ndarray) -> None:
        """Paint the mouth interior into ``frame`` in place; ``lms`` are the frame's landmarks (479x2+)."""
        inner = lms[regions.LIPS_INNER, :2]
        upper = lms[regions.UPPER_INNER, :2]
        lower = lms[regions.LOWER_INNER, :2][::-1]  # right corner to left corner, like ``upper``
        gap = float(np.max(np.interp(upper[:, 0], lower[:, 0], lower[:, 1]) - upper[:, 1]))
        if gap < 0.01 * self.scale:
            return
        pad = int(0.05 * self.scale) + 2
        x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + pad, (frame.shape[1], frame.shape[0]))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        off = np.array([x0, y0], np.float64)
        inner, upper, lower = inner - off, upper - off, lower - off
        h, w = y1 - y0, x1 - x0
        s = self.scale

        content = np.empty((h, w, 3), np.float32)
        # cavity: darker towards the back (centre) of the mouth
        yy = (np.arange(h, dtype=np.float32)[:, None] - upper[:, 1].mean()) / max(gap, 1.0)
        depth = np.clip(1.0 - 0.6 * np.exp(-((yy - 0.5) ** 2) / 0.08), 0.35, 1.0)
        content[:] = self.cavity * depth[..., None]

        cx = (upper[0, 0] + upper[-1, 0]) / 2
        half = max(abs(upper[-1, 0] - upper[0, 0]) / 2, 1.0)
        if gap > 0.06 * s:
            centre = (cx, lower[:, 1].max() - 0.2 * gap)
            axes = (0.55 * half, 0.3 * gap)
            tongue = np.zeros((h, w), np.float32)
            cv2.ellipse(tongue, (int(centre[0] * SUPERSAMPLE), int(centre[1] * SUPERSAMPLE)),
                        (int(axes[0] * SUPERSAMPLE), int(axes[1] * SUPERSAMPLE)), 0, 0, 360, 1.0, -1, cv2.LINE_AA, 2)
            shade = np.clip((np.arange(h)[:, None] - (centre[1] - axes[1])) / (2 * axes[1] + 1), 0.3, 1.0)
            content += tongue[..., None] * (self.tongue * (0.55 + 0.45 * shade[..., None]) - content)

        self._teeth(content, upper, cx, half, min(0.085 * s, 0.45 * gap), 0.92, down=True)
        if gap > 0.14 * s:
            self._teeth(content, lower, cx, half, min(0.06 * s, 0.25 * (gap - 0.1 * s)), 0.7, down=False)

        mask = np.zeros((h, w), np.float32)
        _poly(mask, inner, 1.0)
        # the lips cast a soft shadow over the interior near their edges
        sigma = max(0.6, 0.025 * s)
        shadow = cv2.GaussianBlur(mask, (0, 0), sigma)
        content *= (0.45 + 0.55 * np.clip(2 * shadow - 1, 0, 1))[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi + mask[..., None] * (content - roi), 0, 255).astype(np.uint8)

    def _teeth(self, content: np.ndarray, edge: np.ndarray, cx: float, half: float, height: float,
               light: float, down: bool) -> None:
        """A row of teeth hanging from (``down``) or standing on the lip edge, shaded towards the corners."""
        if height < 1.0:
            return
        u = np.clip(np.abs(edge[:, 0] - cx) / half, 0, 1)
        profile = np.sqrt(np.clip(1 - u ** 2, 0, 1))
        tip = edge + np.stack([np.zeros(len(edge)), (1 if down else -1) * height * profile], 1)
        band = np.zeros(content.shape[:2], np.float32)
        _poly(band, np.concatenate([edge, tip[::-1]]), 1.0)
        xs = np.arange(content.shape[1], dtype=np.float32)
        across = np.clip(1 - np.abs(xs - cx) / (1.15 * half), 0, 1) ** 0.45
        # faint gaps between the incisors and canines
        seams = np.ones_like(xs)
        for k in (-3, -2, -1, 0, 1, 2, 3):
            seams -= 0.18 * np.exp(-((xs - (cx + k * 0.24 * half)) ** 2) / 1.2)
        colour = self.teeth * light * (0.35 + 0.65 * across * seams)[None, :, None]
        content += band[..., None] * (colour - content)


def paint_lash_line(frame: np.ndarray, lms: np.ndarray, closure: tuple[float, float], scale: float) -> None:
    """Darken the line where the lids meet, for eyes more than half closed (right, left)."""
    for amount, contour in zip(closure, (regions.RIGHT_EYE, regions.LEFT_EYE)):
        alpha = np.clip((amount - 0.5) / 0.5, 0, 1) * 0.55
        if alpha <= 0:
            continue
        pts = lms[contour[:9], :2]
        x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - 4, 0)
        x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 5, (frame.shape[1], frame.shape[0]))
        line = np.zeros((y1 - y0, x1 - x0), np.float32)
        thickness = max(1, int(round(0.012 * scale)))
        cv2.polylines(line, [np.round((pts - (x0, y0)) * SUPERSAMPLE).astype(np.int32)], False, 1.0, thickness,
                      cv2.LINE_AA, 2)
        line = cv2.GaussianBlur(line, (0, 0), 0.6) * alpha
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = (roi * (1 - 0.75 * line[..., None])).astype(np.uint8)
