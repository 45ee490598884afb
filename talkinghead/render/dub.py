"""The dub compositor: re-syncs the mouth of a real video to new lip motion, leaving the rest of each frame untouched.

Per shot, one frame whose mouth rests shut is the *reference*. Each frame's new shape is its own landmarks with the
lips taken from the reference rigged (:class:`FaceRig`) to the new lip channels and posed by a 3D similarity fitted
to the frame's steady landmarks, while the rest of the lower face keeps the frame's own shape, its old jaw opening
traded for the new one and its slow smile kept. Two layers are warped onto that shape: the frame's own pixels (neck,
collar and face outline stay the frame's) and, inside the lower face, the reference's, which has no old mouth to
show (its interior is painted), colour-matched on the skin of the blend ring. The window is pasted back at working
resolution; outside the mask the pixels stay as decoded. The lower face is drawn by :meth:`DubCompositor.draw_lower`
(the warp renderer's: the reference moved along the mesh, its mouth interior painted; a fitted renderer draws the
mouth over the frame's own moved pixels instead).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterator

import cv2
import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from talkinghead.face import regions
from talkinghead.face.align import similarity
from talkinghead.face.normalize import STABLE, face_frame
from talkinghead.face.pose import head_pose
from talkinghead.face.smooth import smooth_track
from talkinghead.io.playback import FrameReader
from talkinghead.motion.motion import Motion
from talkinghead.motion.signals import masked_smooth
from talkinghead.render.mouth import MouthColors, MouthPainter
from talkinghead.render.paste import Window, color_correction, feathered_mask, paste
from talkinghead.render.piecewise_affine import PiecewiseAffineWarp
from talkinghead.render.rig import FaceRig, RigConfig, polygon_distance, smoothstep
from talkinghead.render.stats import RenderStats
from talkinghead.render.topology import background_ring, face_triangles, follow_face, with_mouth_center

# the lower face, from the right cheek (image left) round the chin to the left cheek, then across the nose base
LOWER_FACE = regions.FACE_OVAL[10:27] + [98, 2, 327]
CHIN_ARC = set(regions.FACE_OVAL[13:24])


@dataclass
class DubRenderConfig:
    """How the new mouth is cut in (lengths in eye distances: the outer eye corners' distance)."""

    work_size: int = 512  # the face region is processed at most this many pixels across
    feather: float = 0.08  # Gaussian width of the blend ring
    chin_margin: float = -0.08  # the reference's lower face reaches this far below the new chin (- : stops short)
    cheek_inset: float = 0.12  # the mask's sides sit this fraction of the way in from the face outline
    max_yaw: float = 40.0  # faces turned further than this (degrees) pass through untouched
    fade_s: float = 0.2  # the dub fades in and out over this long around frames it leaves alone
    window: float = 3.0  # side of the working window
    mouth_scale: float = 1.0  # jaw travel relative to the rig's
    rig: RigConfig = field(default_factory=RigConfig)


def similarity3d(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale, rotation and translation taking 3D points ``src`` onto ``dst`` (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d) / (a ** 2).sum(1).mean())
    return scale, rot, md - scale * rot @ ms


@dataclass
class DubPlan:
    """What pass one learns from a source video: steady landmarks, shots, references, windows and blend weights."""

    landmarks: np.ndarray  # (T, 478, 3) smoothed, source pixels, NaN outside the shots
    raw: np.ndarray  # (T, 478, 3) as tracked
    shot_of: np.ndarray  # (T,) shot index, -1 where the face was lost
    references: list[int]  # per shot, the reference frame
    weight: np.ndarray  # (T,) 0..1: how much of the dub a frame gets
    side: int  # working window side in source pixels
    scale: float  # working resolution / source resolution
    expression: dict[str, np.ndarray]  # (T,) per rig channel: the source's slow mouth expression over its reference's

    @classmethod
    def from_track(cls, landmarks: np.ndarray, fps: float, config: DubRenderConfig) -> "DubPlan":
        """Plan the dub of a tracked video ((T, 478, 3) landmarks, NaN where the face was lost)."""
        smooth, shot_of = smooth_track(landmarks, fps)
        found = shot_of >= 0
        yaw = np.full(len(landmarks), np.inf)
        for i in np.flatnonzero(found):
            yaw[i] = head_pose(smooth[i])[0]
        facing = smoothstep(config.max_yaw, config.max_yaw - 10, np.abs(yaw)) * found
        fade = max(1, int(round(config.fade_s * fps / 2)))
        weight = uniform_filter1d(minimum_filter1d(facing, 2 * fade + 1, mode="nearest"), 2 * fade + 1, mode="nearest")
        weight = np.where(found, np.round(weight, 6), 0.0)  # no rounding residue: 0 means left alone
        references = [choose_reference(landmarks, np.flatnonzero(shot_of == k), fps) for k in range(shot_of.max() + 1)]
        eye = regions.eye_distance(smooth[found]) if found.any() else np.array([64.0])
        side = int(np.ceil(config.window * np.percentile(eye, 95)))
        return cls(smooth, landmarks, shot_of, references, weight, side, min(1.0, config.work_size / side),
                   mouth_expression(landmarks, shot_of, references, fps, config.rig))

    def window(self, i: int) -> Window:
        """The working window of frame ``i``: centred a little below the mouth."""
        lms = self.landmarks[i]
        centre = lms[regions.LIPS_OUTER, :2].mean(0) + [0, 0.15 * regions.eye_distance(lms)]
        x0, y0 = np.round(centre - self.side / 2).astype(int)
        return Window(int(x0), int(y0), self.side, self.scale)


def choose_reference(landmarks: np.ndarray, frames: np.ndarray, fps: float) -> int:
    """The frame of ``frames`` whose mouth is most closed and relaxed, among those with open eyes and a typical pose.

    Closed and relaxed: shut for a while around the frame (a pause, not the instant of an m or b) and as wide as the
    mouth usually is (neither rounded nor spread). Frames where the face was not tracked are not candidates.
    """
    lms = landmarks[frames]
    tracked = np.isfinite(lms).all(axis=(1, 2))
    pose = np.full((len(lms), 3), np.nan)
    pose[tracked] = [head_pose(f)[:3] for f in lms[tracked]]
    median = np.nanmedian(pose, 0)
    eyes = regions.eye_opening(lms).mean(-1)
    typical = tracked & (np.abs(pose - median) < np.maximum(2.5 * np.nanstd(pose, 0), 3.0)).all(1)
    typical &= eyes >= 0.8 * np.nanmedian(eyes)
    candidates = np.flatnonzero(typical) if typical.any() else np.flatnonzero(tracked)
    opening = np.nan_to_num(regions.mouth_opening(lms), nan=1.0)
    around = maximum_filter1d(opening, 2 * int(round(0.12 * fps)) + 1, mode="nearest")
    width = regions.mouth_width(lms)
    score = around + np.abs(width - np.nanmedian(width)) + 0.002 * np.abs(pose - median).sum(1)
    return int(frames[candidates[np.argmin(score[candidates])]])


def mouth_expression(landmarks: np.ndarray, shot_of: np.ndarray, references: list[int], fps: float,
                     rig: RigConfig, seconds: float = 0.4) -> dict[str, np.ndarray]:
    """The smile and mouth width each source frame shows beyond its shot's reference, as rig channel values.

    Speech moves the lip corners quickly; expressions move them slowly, so only the part of the corners' height
    (over the upper lip's middle) and of the mouth's width that changes more slowly than ``seconds`` is kept.
    """
    lms = face_frame(landmarks)
    lift = lms[:, [0, 13], 1].mean(1) - lms[:, [regions.MOUTH_RIGHT, regions.MOUTH_LEFT], 1].mean(1)
    width = lms[:, regions.MOUTH_LEFT, 0] - lms[:, regions.MOUTH_RIGHT, 0]
    smile, spread = np.zeros(len(lms)), np.zeros(len(lms))
    for k, ref in enumerate(references):
        frames = np.flatnonzero(shot_of == k)
        slow_lift, slow_width = (masked_smooth(np.nan_to_num(v[frames]), np.isfinite(v[frames]), fps, seconds)
                                 for v in (lift, width))
        at = np.searchsorted(frames, ref)
        smile[frames] = np.clip((slow_lift - slow_lift[at]) / rig.smile_lift, 0, 1)
        spread[frames] = np.clip((slow_width - slow_width[at]) / (slow_width[at] * rig.spread), -1, 1)
    return {"smile": smile, "mouth_width": spread}


class Reference:
    """One shot's reference frame cut at working resolution, rigged, with its mesh and mouth colours."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, window: Window, config: DubRenderConfig) -> None:
        self.crop = window.crop(image)
        lms = window.to_crop(landmarks)
        self.rig = FaceRig(lms, config.rig)
        self.face = with_mouth_center(lms)[:, :2]
        self.anchors, ring = background_ring(self.face, window.size, window.size)
        self.warp = PiecewiseAffineWarp(np.concatenate([face_triangles(), ring]), window.size, window.size)
        self.painter = MouthPainter(MouthColors.sample(self.crop, lms), self.rig.scale)
        local = self.rig.local
        # below the nose the frame's shape follows the rig, fading in down to the upper lip; on and near the lips
        # (within about 0.15 eye distances) the reference's own shape replaces the frame's
        self.follow = smoothstep(local[2, 1], local[0, 1], local[:, 1])[:, None]
        outside = -polygon_distance(local[:, :2], local[regions.LIPS_OUTER, :2])
        self.lips = np.exp(-(np.clip(outside, 0, None) / 0.15) ** 2)[:, None]
        # mask outline offsets in the face frame: sides drawn in, the chin edge moved by chin_margin
        outline = local[LOWER_FACE]
        cx = local[regions.LIPS_INNER, 0].mean()
        chin = np.array([i in CHIN_ARC for i in LOWER_FACE], float)
        self.outline_offset = np.zeros_like(outline)
        self.outline_offset[:len(LOWER_FACE) - 3, 0] = -(outline[:-3, 0] - cx) * config.cheek_inset
        self.outline_offset[:, 1] = config.chin_margin * chin


@dataclass
class DubSource:
    """A video to dub: its frames, what pass one planned for them, the source frame each output frame shows, and how
    the new mouth is cut in."""

    reader: FrameReader
    plan: DubPlan
    order: np.ndarray  # (frames out,) source frame index per output frame
    config: DubRenderConfig = field(default_factory=DubRenderConfig)


class DubCompositor:
    """``DubCompositor(source).render(motion, stats)``: the source frames in order, the mouth region following
    ``motion``, cut in as ``source.config`` says."""

    def __init__(self, source: DubSource) -> None:
        self.source = source
        self.config = source.config

    def references(self) -> list[Reference]:
        """Decode and rig every shot's reference frame."""
        c, plan, reader = self.config, self.source.plan, self.source.reader
        config = dataclasses.replace(c, rig=dataclasses.replace(c.rig, jaw=c.mouth_scale * c.rig.jaw))
        frames = np.sort(plan.references)
        images = dict(zip(frames.tolist(), reader.frames(frames)))
        return [Reference(images[i], plan.raw[i], plan.window(i), config) for i in plan.references]

    def render(self, motion: Motion, stats: RenderStats | None = None) -> Iterator[np.ndarray]:
        """One frame per entry of the source's order, streamed; ``motion`` frame j drives output j.

        The blend ring's flicker, against the source's own there, accumulates in ``stats`` on the way.
        """
        plan, reader, order = self.source.plan, self.source.reader, self.source.order
        flicker = (stats or RenderStats()).flicker
        refs = self.references()
        previous = None  # (source index, source frame, output frame)
        for j, (i, frame) in enumerate(zip(order, reader.frames(order))):
            i = int(i)
            original = frame.copy()
            if plan.weight[i] > 0:
                box, mask = self.dub_frame(frame, plan, i, refs[plan.shot_of[i]], motion.frame(j))
                if previous is not None and abs(previous[0] - i) == 1:
                    flicker.add((previous[2], frame), (previous[1], original), box, mask)
            previous = i, original, frame
            yield frame

    def geometry(self, ref: Reference, own: np.ndarray, values: dict[str, float]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the frame's landmarks ``own`` (479, 3, crop pixels): target landmarks (479, 3), the face frame's axes
        there (3x3, scaled) and the 2x3 transform that carries the reference's background ring along."""
        rig = ref.rig
        scale, rot, shift = similarity3d(rig.local[STABLE], own[STABLE])
        axes = scale * rot
        shape = rig.local_shape(values)
        posed = shape @ axes.T + shift  # the reference's lips and mouth, in the frame's pose
        # the rest of the lower face keeps the frame's own shape, its old jaw opening traded for the new one
        old_jaw = float(np.clip(regions.mouth_opening(own) / rig.config.jaw, 0, 1))
        moved = own + (shape - rig.rest - old_jaw * rig.basis["jaw_open"]) @ axes.T
        target = own + ref.follow * (ref.lips * posed + (1 - ref.lips) * moved - own)
        return target, axes, similarity(ref.face[STABLE], target[STABLE, :2])

    def dub_frame(self, frame: np.ndarray, plan: DubPlan, i: int, ref: Reference,
                  values: dict[str, float]) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """Re-sync source frame ``i``'s mouth, in place, to ``values``.

        Two layers meet in the window: the frame's own pixels warped with its jaw onto the new shape (neck, collar
        and face outline stay the frame's), and inside the lower face the reference's, which has no old mouth to
        show. Returns the box of the frame that was worked on and the blend mask over it.
        """
        window = plan.window(i)
        crop = window.crop(frame)
        values = {**values, "smile": max(values["smile"], plan.expression["smile"][i]),
                  "mouth_width": float(np.clip(values["mouth_width"] + plan.expression["mouth_width"][i], -1, 1))}
        own3d = with_mouth_center(window.to_crop(plan.landmarks[i]))
        target, axes, ring_map = self.geometry(ref, own3d, values)
        own, face = own3d[:, :2], target[:, :2]
        anchors, ring = background_ring(own, window.size, window.size)
        warp = PiecewiseAffineWarp(np.concatenate([face_triangles(), ring]), window.size, window.size)
        # the neck stretches with the jaw up to the outer ring; beyond it nothing moves
        dx, dy = warp.displacement(np.concatenate([own, anchors]),
                                   np.concatenate([face, follow_face(anchors, own, face, outer=0.0)]))
        moved = warp.remap(crop, dx, dy).astype(np.float32)
        lower = self.draw_lower(ref, face, ref.anchors @ ring_map[:, :2].T + ring_map[:, 2], moved)
        scale = regions.eye_distance(target)
        outline = face[LOWER_FACE] + (ref.outline_offset @ axes.T)[:, :2]
        inside = feathered_mask(window.size, [outline], self.config.feather * scale)
        lower = lower + color_correction(moved, lower, inside, 0.5 * scale, face[regions.FACE_OVAL])
        patch = moved + inside[..., None] * (lower - moved)
        # where the frame's own pixels moved at all, and inside the lower face, the patch replaces the frame
        shifted = cv2.GaussianBlur(np.clip(np.hypot(dx, dy) / 0.5, 0, 1), (0, 0), 1.0)
        mask = np.maximum(inside, shifted) * np.float32(plan.weight[i])
        return paste(frame, window, patch, mask)

    def draw_lower(self, ref: Reference, face: np.ndarray, anchors: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """The layer cut into the lower face (float32 RGB): here the reference's crop moved onto the target ``face``
        landmarks (479, 2; its background ring onto ``anchors``), the mouth interior painted. ``moved`` is the
        frame's own crop moved onto ``face``, old mouth and all."""
        lower = ref.warp.warp(ref.crop, np.concatenate([ref.face, ref.anchors]), np.concatenate([face, anchors]))
        ref.painter.paint(lower, face)
        return lower
