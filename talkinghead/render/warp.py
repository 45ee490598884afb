"""The default renderer, ``warp``: moves the picture's own pixels along a deformed face mesh, on the CPU, any face.

On a portrait it draws the whole face; on a video to dub, the dub compositor (:mod:`talkinghead.render.dub`) cuts in
the lower face of each shot's reference frame, moved the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, ClassVar, Iterator, Mapping

import numpy as np

from talkinghead.face.portrait import Portrait
from talkinghead.motion.motion import Motion
from talkinghead.render.dub import DubCompositor, DubSource
from talkinghead.render.mouth import MouthColors, MouthPainter, paint_lash_line
from talkinghead.render.piecewise_affine import PiecewiseAffineWarp
from talkinghead.render.registry import Source, register
from talkinghead.render.rig import FaceRig, RigConfig
from talkinghead.render.stats import RenderStats
from talkinghead.render.topology import background_ring, face_triangles, follow_face, with_mouth_center

MouthDrawer = Callable[[np.ndarray, np.ndarray], None]  # (frame, its 479 landmarks) -> draws the mouth in place
FrameDrawer = Callable[[Mapping[str, float]], np.ndarray]  # one frame's channel values -> the frame
# one frame's channel values, given in frame order -> its drawing, to run on any thread
LiveDrawer = Callable[[Mapping[str, float]], Callable[[], np.ndarray]]


@dataclass
class WarpConfig:
    """Options of the warp renderer."""

    map_step: int = 2  # sampling-map grid spacing in pixels (1 = exact, 2 = 4x fewer map evaluations)
    rig: RigConfig = field(default_factory=RigConfig)


@register
class WarpRenderer:
    """``render(source, motion)`` yields RGB frames: mesh warp + painted mouth interior + lash lines."""

    name: ClassVar[str] = "warp"
    Config: ClassVar[type] = WarpConfig
    sources: ClassVar[tuple[type, ...]] = (Portrait, DubSource)
    needs_avatar: ClassVar[bool] = False

    def __init__(self, config: WarpConfig | None = None) -> None:
        self.config = config or WarpConfig()

    def render(self, source: Source, motion: Motion, stats: RenderStats | None = None) -> Iterator[np.ndarray]:
        """One frame per Motion frame, streamed: the whole face of a portrait, or a video's frames re-mouthed."""
        if isinstance(source, DubSource):
            return DubCompositor(source).render(motion, stats)
        return self.animate(source, motion)

    def animate(self, portrait: Portrait, motion: Motion, mouth: MouthDrawer | None = None) -> Iterator[np.ndarray]:
        """The portrait's whole face following ``motion``, one frame per Motion frame; ``mouth(frame, face)`` draws
        the mouth on each warped frame (default: its interior painted)."""
        draw = self.drawer(portrait, mouth)
        return (draw(motion.frame(i)) for i in range(motion.n_frames))

    def drawer(self, portrait: Portrait, mouth: MouthDrawer | None = None) -> FrameDrawer:
        """Draws the portrait's whole face at one frame's channel values (streaming: frames as their motion comes)."""
        w, h = portrait.size
        rig = FaceRig(portrait.landmarks, self.config.rig)
        src_face = with_mouth_center(portrait.landmarks)[:, :2]
        anchors, ring_tris = background_ring(src_face, w, h)
        src = np.concatenate([src_face, anchors])
        warp = PiecewiseAffineWarp(np.concatenate([face_triangles(), ring_tris]), w, h, self.config.map_step)
        mouth = mouth or MouthPainter(MouthColors.sample(portrait.image, portrait.landmarks), rig.scale).paint

        def draw(values: Mapping[str, float]) -> np.ndarray:
            face = rig.landmarks(values)[:, :2]
            frame = warp.warp(portrait.image, src, np.concatenate([face, follow_face(anchors, src_face, face)]))
            mouth(frame, face)
            paint_lash_line(frame, face, (values["blink_right"], values["blink_left"]), rig.scale)
            return frame

        return draw

    def live_drawer(self, portrait: Portrait) -> LiveDrawer:
        """What a live stream draws with: each frame's values in order -> its drawing by :meth:`drawer` (painted
        mouth), which may run on several threads at once."""
        draw = self.drawer(portrait)
        return lambda values: partial(draw, dict(values))
