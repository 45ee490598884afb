"""Paints what an open mouth reveals (cavity, teeth, tongue) in the portrait's own colours, blur and grain, and the lash
line of a closed eye.

The mouth is drawn sharp in a box around the inner lips, then blurred with the blur measured on the portrait's lips and
given the portrait's grain, so it looks taken by the same camera; its darkest shade is the portrait's own black level.
Teeth follow a dental arch sized by the eye distance: each tooth is shaded by how far it turns away around the arch, its
own curvature and the upper lip's shadow. Specks the warp leaves near the inner lips are cleaned away first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from talkinghead.face import regions
from talkinghead.render.rig import smoothstep

SUPERSAMPLE = 4  # sub-pixel precision of the polygon masks (cv2 shift = 2)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
PROBE_BLUR = 2.0  # sigma (pixels) of the re-blur that measures the portrait's own blur
SOBEL_BLUR = 0.75  # the blur (sigma, pixels) that the 3x3 Sobel kernel adds to what it measures
TEETH_SHADE = 0.8  # guessed teeth's brightness against the cheeks'
ARCH_RADIUS = 0.3  # radius of the dental arch, in eye distances
SPECK_REACH = 0.08  # how far (eye distances) around the inner lips specks are cleaned
GRAIN_TILE = 256  # side (pixels) of the repeating grain pattern
# the teeth from the midline outwards (incisors, canine, premolars): arc width in eye distances, relative length and
# brightness
UPPER_TEETH = np.array([[0.095, 1.0, 1.0], [0.075, 0.88, 0.93], [0.08, 0.95, 0.88], [0.075, 0.8, 0.82],
                        [0.075, 0.75, 0.78]])
LOWER_TEETH = np.array([[0.06, 1.0, 1.0], [0.065, 1.0, 0.95], [0.075, 0.9, 0.9]])


@dataclass
class MouthColors:
    """What the painted mouth takes from the portrait: colours (RGB floats 0..255), black level, blur and grain."""

    lip: np.ndarray
    skin: np.ndarray
    teeth: np.ndarray
    black: float  # grey level of the face's darkest things (pupils, lashes): how dark a hole gets in this picture
    blur: float  # Gaussian sigma (pixels) of the portrait's edges around the lips
    grain: float  # standard deviation (grey levels) of the portrait's fine noise around the lips

    @classmethod
    def sample(cls, image: np.ndarray, lms: np.ndarray) -> MouthColors:
        """Lip and cheek colours, the teeth's (shown or guessed), the black level, and the blur and grain of the lips'
        surroundings."""
        shape = image.shape[:2]
        lips = _mask(shape, lms[regions.LIPS_OUTER, :2]) & ~_mask(shape, lms[regions.LIPS_INNER, :2])
        cheeks = np.zeros(shape, bool)
        for idx in (50, 280):  # cheek centres
            x, y = lms[idx, :2].astype(int)
            r = max(2, int(0.05 * regions.eye_distance(lms)))
            cheeks[max(0, y - r):y + r, max(0, x - r):x + r] = True
        lip = image[lips].mean(0) if lips.any() else np.array([150.0, 80, 80])
        skin = image[cheeks].mean(0) if cheeks.any() else np.array([190.0, 150, 130])
        teeth = _shown_teeth(image, lms, lip)
        if teeth is None:
            teeth = _teeth_lit_like(skin, _eye_white(image, lms))
        grey = _grey_around_lips(image, lms)
        return cls(lip.astype(np.float32), skin.astype(np.float32), teeth.astype(np.float32),
                   _black_level(image, lms), _edge_blur(grey), _grain(grey))


def _mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(polygon).astype(np.int32)], 1)
    return m.astype(bool)


def _shown_teeth(image: np.ndarray, lms: np.ndarray, lip: np.ndarray) -> np.ndarray | None:
    """The colour of the teeth the portrait shows between its lips (the brightest pixels there), or None."""
    inside = cv2.erode(_mask(image.shape[:2], lms[regions.LIPS_INNER, :2]).astype(np.uint8), np.ones((3, 3), np.uint8))
    pixels = image[inside > 0].astype(np.float32)
    bright = pixels[pixels @ LUMA > 1.3 * float(lip @ LUMA)]
    if len(bright) < max(12, 0.002 * regions.eye_distance(lms) ** 2):
        return None
    return bright[bright @ LUMA >= np.percentile(bright @ LUMA, 90)].mean(0)


def _eyes(shape: tuple[int, int], lms: np.ndarray) -> np.ndarray:
    """Mask of the open eyes (between the lids)."""
    return _mask(shape, lms[regions.RIGHT_EYE, :2]) | _mask(shape, lms[regions.LEFT_EYE, :2])


def _eye_white(image: np.ndarray, lms: np.ndarray) -> np.ndarray | None:
    """The colour of the whites of the eyes (the brightest third of the eyes outside the irises), or None."""
    whites = _eyes(image.shape[:2], lms).astype(np.uint8)
    for iris in (regions.RIGHT_IRIS, regions.LEFT_IRIS):  # centre, then four points on the rim
        radius = 1.2 * float(np.linalg.norm(lms[iris[1:], :2] - lms[iris[0], :2], axis=1).mean())
        cv2.circle(whites, tuple(np.round(lms[iris[0], :2]).astype(int)), round(radius), 0, -1)
    pixels = image[whites > 0].astype(np.float32)
    if len(pixels) < 20:
        return None
    return pixels[pixels @ LUMA >= np.percentile(pixels @ LUMA, 67)].mean(0)


def _teeth_lit_like(skin: np.ndarray, white: np.ndarray | None) -> np.ndarray:
    """Teeth a little darker than the cheeks (the lips shade them), with half the tint of the whites of the eyes (the
    picture's colour cast) or, without them, a quarter of the cheeks' tint."""
    luma = float(skin @ LUMA)
    tint = 0.25 * (skin - luma) if white is None else 0.5 * (white - float(white @ LUMA))
    return np.clip(min(TEETH_SHADE * luma, 235.0) + tint, 0, 255)


def _black_level(image: np.ndarray, lms: np.ndarray) -> float:
    """How dark the darkest things of the face are: the pupils and lashes (or, with the eyes shut, a little below the
    darkest pixels under the nose)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    eyes = _eyes(grey.shape, lms)
    if eyes.sum() >= 20:
        return float(np.percentile(grey[eyes], 5))
    below_nose = _mask(grey.shape, lms[regions.FACE_OVAL, :2])
    below_nose[:max(0, int(lms[regions.NOSE_TIP, 1]))] = False
    return 0.7 * float(np.percentile(grey[below_nose], 0.5)) if below_nose.any() else 0.0


def _grey_around_lips(image: np.ndarray, lms: np.ndarray) -> np.ndarray:
    """Grey levels (float32) of the lips' box padded by a fifth of the eye distance."""
    lips = lms[regions.LIPS_OUTER, :2]
    pad = 0.2 * float(regions.eye_distance(lms))
    x0, y0 = np.maximum(np.floor(lips.min(0) - pad).astype(int), 0)
    x1, y1 = np.ceil(lips.max(0) + pad).astype(int)
    return cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)


def _gradient(grey: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude (float32)."""
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def _edge_blur(grey: np.ndarray) -> float:
    """Gaussian sigma of the strongest edges: a step blurred by b keeps b / sqrt(b^2 + s^2) of its slope when
    blurred again by s (b as the Sobel kernel sees it, with its own blur, which is taken out)."""
    if min(grey.shape) < 8:
        return 0.0
    before = _gradient(grey)
    after = _gradient(cv2.GaussianBlur(grey, (0, 0), PROBE_BLUR))
    edges = before >= np.percentile(before, 98)
    kept = float(np.clip(after[edges].sum() / max(float(before[edges].sum()), 1e-6), 0.05, 0.95))
    seen = PROBE_BLUR * kept / np.sqrt(1 - kept ** 2)
    return float(np.sqrt(max(seen ** 2 - SOBEL_BLUR ** 2, 0.0)))


def _grain(grey: np.ndarray) -> float:
    """Noise level of the smoother half of the pixels: robust spread of what a 1-pixel blur removes."""
    if min(grey.shape) < 8:
        return 0.0
    fine = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    smooth = _gradient(cv2.GaussianBlur(grey, (0, 0), 1.0))
    residual = fine[smooth <= np.median(smooth)]
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def _edge_y(contour: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The height of a lip edge (points ordered along x either way) at columns ``xs``."""
    order = np.argsort(contour[:, 0])
    return np.interp(xs, contour[order, 0], contour[order, 1]).astype(np.float32)


@dataclass
class Arch:
    """Per column of a row of teeth seen from the front: shading, length factor and opacity (0 past the last tooth)."""

    shade: np.ndarray
    height: np.ndarray
    opacity: np.ndarray


def _arch(xs: np.ndarray, cx: float, scale: float, teeth: np.ndarray) -> Arch:
    """Columns ``xs`` on a dental arch of ``teeth`` centred at ``cx``: teeth turn away (darker, shorter, fading into
    the dark) towards the corners, each tooth convex with a faint seam at its sides."""
    widths = teeth[:, 0]
    radius = ARCH_RADIUS * scale
    angle = np.arcsin(np.clip((xs - cx) / radius, -1, 1))
    arc = np.abs(angle) * ARCH_RADIUS  # eye distances along the arch from the midline
    ends = np.cumsum(widths)
    k = np.minimum(np.searchsorted(ends, arc), len(widths) - 1)
    t = np.clip((arc - (ends[k] - widths[k])) / widths[k], 0, 1)  # 0..1 across the tooth
    facing = np.clip(np.cos(angle), 0, 1)
    seam_px = np.minimum(t, 1 - t) * widths[k] * scale * facing  # pixels to the nearest gap between teeth
    convex = 0.9 + 0.1 * (1 - (2 * t - 1) ** 2)
    shade = teeth[k, 2] * (0.75 + 0.25 * facing) * convex * (1 - 0.2 * np.exp(-seam_px ** 2))
    height = np.sqrt(facing) * (1 - 0.2 * (2 * t - 1) ** 6) * teeth[k, 1]
    opacity = (arc < ends[-1]) * smoothstep(0.45, 0.85, facing)
    return Arch(shade.astype(np.float32), height.astype(np.float32), opacity.astype(np.float32))


class MouthPainter:
    """Draws the inside of the mouth into the inner-lip polygon of warped landmarks."""

    def __init__(self, colors: MouthColors, scale: float) -> None:
        self.colors = colors
        self.scale = scale  # eye distance in pixels
        self.cavity = colors.lip * min(colors.black / max(float(colors.lip @ LUMA), 1.0), 0.6)
        self.mucosa = (colors.lip + self.cavity) / 2
        self.tongue = colors.lip * 0.8 + 0.1 * colors.skin
        self.blur = float(np.sqrt(max(colors.blur ** 2 - 0.25, 0.0)))  # less what the anti-aliased edges already have
        self.noise = _unit_grain() * colors.grain

    def paint(self, frame: np.ndarray, lms: np.ndarray) -> None:
        """Paint the mouth interior into ``frame`` in place; ``lms`` are the frame's landmarks (479x2+)."""
        inner = lms[regions.LIPS_INNER, :2]
        upper = lms[regions.UPPER_INNER, :2]
        lower = lms[regions.LOWER_INNER, :2]
        xs = np.linspace(upper[:, 0].min(), upper[:, 0].max(), 16)
        gap = float(np.max(_edge_y(lower, xs) - _edge_y(upper, xs)))
        if gap < 0.01 * self.scale:
            return
        pad = int(SPECK_REACH * self.scale + 3 * self.blur) + 2
        x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + pad, (frame.shape[1], frame.shape[0]))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        off = np.array([x0, y0], np.float64)
        inner, upper, lower = inner - off, upper - off, lower - off
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [np.round(inner * SUPERSAMPLE).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
        roi = _without_specks(frame[y0:y1, x0:x1], mask, max(2, int(SPECK_REACH * self.scale)))
        content = self._content(mask, upper, lower, gap)
        frame[y0:y1, x0:x1] = self._composite(roi, content, mask, (y0, x0))

    def _content(self, mask: np.ndarray, upper: np.ndarray, lower: np.ndarray, gap: float) -> np.ndarray:
        """The sharp interior over the whole box (float32 RGB): cavity, tongue, lower and upper teeth, lip shadow."""
        s = self.scale
        xs = np.arange(mask.shape[1], dtype=np.float32)
        ys = np.arange(mask.shape[0], dtype=np.float32)[:, None]
        top, bottom = _edge_y(upper, xs), _edge_y(lower, xs)
        cx = float(upper[[0, -1], 0].mean())
        inside = cv2.distanceTransform((mask > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        depth = smoothstep(0.0, 0.2 * gap + 1, inside)[..., None]  # wet inner lips, then the dark
        content = self.mucosa + depth * (self.cavity - self.mucosa)
        self._tongue(content, xs, ys, cx, float(np.ptp(upper[:, 0])) / 2, float(np.interp(cx, xs, bottom)), gap)
        self._teeth(content, xs, ys, bottom, cx, LOWER_TEETH, min(0.045 * s, 0.3 * (gap - 0.08 * s)), 0.85, False)
        self._teeth(content, xs, ys, top, cx, UPPER_TEETH, min(0.1 * s, 0.4 * gap), 1.0, True)
        shadow = 0.3 * np.exp(-np.clip(ys - top, 0, None) / (0.015 * s))  # cast by the upper lip
        content += shadow[..., None] * (self.cavity - content)
        return content

    def _tongue(self, content: np.ndarray, xs: np.ndarray, ys: np.ndarray, cx: float, half: float, floor: float,
                gap: float) -> None:
        """The tongue's front lying on the mouth's ``floor`` (the lower lip's height at ``cx``), lit in front and
        sinking into the dark behind, shown once the mouth is well open; painted over ``content`` in place."""
        shown = float(smoothstep(0.05 * self.scale, 0.12 * self.scale, gap))
        if shown <= 0:
            return
        y = floor - 0.1 * gap
        ellipse = ((xs - cx) / max(0.6 * half, 1.0)) ** 2 + ((ys - y) / (0.45 * gap)) ** 2
        cover = np.clip((1 - ellipse) * 0.1 * gap, 0, 1) * shown
        lit = 0.9 * smoothstep(y - 0.45 * gap, y + 0.2 * gap, ys)
        content += cover[..., None] * (self.cavity + lit[..., None] * (self.tongue - self.cavity) - content)

    def _teeth(self, content: np.ndarray, xs: np.ndarray, ys: np.ndarray, edge: np.ndarray, cx: float,
               teeth: np.ndarray, height: float, light: float, down: bool) -> None:
        """A row of teeth ``height`` tall hanging from a lip ``edge`` (``down``) or standing on it, painted over
        ``content`` in place."""
        if height < 1.0:
            return
        arch = _arch(xs, cx, self.scale, teeth)
        tip = edge + (1 if down else -1) * height * arch.height
        reach = (tip - ys) if down else (ys - tip)  # pixels inside the teeth from their tips
        cover = np.clip(reach + 0.5, 0, 1) * arch.opacity
        from_tip = smoothstep(0.0, 0.25 * height, reach)  # the biting edge is translucent: darker
        shade = (light * arch.shade * (0.85 + 0.15 * from_tip))[..., None]
        content += cover[..., None] * (self.cavity + shade * (self.colors.teeth - self.cavity) - content)

    def _composite(self, roi: np.ndarray, content: np.ndarray, mask: np.ndarray, corner: tuple[int, int]) -> np.ndarray:
        """``content`` over ``roi`` inside ``mask``, layer and edge blurred like the portrait, grain added (uint8)."""
        if self.blur > 0.05:
            layer = cv2.GaussianBlur(content * mask[..., None], (0, 0), self.blur)
            mask = cv2.GaussianBlur(mask, (0, 0), self.blur)
        else:
            layer = content * mask[..., None]
        out = roi.astype(np.float32) * (1 - mask[..., None]) + layer
        if self.colors.grain > 0:
            out += (mask * self._grain_at(corner, mask.shape))[..., None]
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def _grain_at(self, corner: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
        """The grain pattern, fixed to the frame, over the box at ``corner`` (top, left)."""
        return self.noise[np.arange(corner[0], corner[0] + shape[0])[:, None] % GRAIN_TILE,
                          np.arange(corner[1], corner[1] + shape[1]) % GRAIN_TILE]


@lru_cache(maxsize=1)
def _unit_grain() -> np.ndarray:
    """Deterministic white noise whose fine part (what :func:`_grain` measures) has unit spread."""
    noise = np.random.default_rng(0).standard_normal((GRAIN_TILE, GRAIN_TILE)).astype(np.float32)
    return noise / float(np.std(noise - cv2.GaussianBlur(noise, (0, 0), 1.0)))


def _without_specks(roi: np.ndarray, mask: np.ndarray, reach: int) -> np.ndarray:
    """``roi`` with specks near the inner lips (left by the warp's stretch there), light or dark and under 5 pixels
    across, replaced by their surroundings: a morphological opening then closing, kept where it changed much."""
    ring = cv2.dilate((mask > 0).astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8))
    square = np.ones((5, 5), np.uint8)
    smooth = cv2.morphologyEx(cv2.morphologyEx(roi, cv2.MORPH_OPEN, square), cv2.MORPH_CLOSE, square)
    speck = np.abs((roi.astype(np.float32) - smooth) @ LUMA) > 8
    return np.where((speck & (ring > 0))[..., None], smooth, roi)


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
