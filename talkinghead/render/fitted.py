"""The ``hrdecoder`` renderer: the warp renderer with the mouth drawn by a decoder fitted to one person
(HyperLips' HRDecoder stage, ``talkinghead fit``), from the person's avatar file.

Everything but the mouth is the warp renderer's (on a video, the frame's own pixels moved with the jaw, as the dub
compositor moves them). Around the lips the decoder (:mod:`talkinghead.models.hr_decoder`) blends the reference moved along the mesh with the person's nearest
real mouths moved onto the target lips, and its drawing is cut in through a feathered mask around the lips. Jaw
travel is scaled to the person's own (the avatar's ``mouth_scale``), the lips move as the person's own (the
avatar's :class:`~talkinghead.render.rig.LipModel`), and any performance is played over the person's range
(:func:`in_own_range`).
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import ClassVar, Iterator, Mapping

import numpy as np
import torch

from talkinghead.face.portrait import Portrait
from talkinghead.models.hr_decoder import HRDecoder, HRDecoderConfig
from talkinghead.motion.channels import LIP_CHANNELS
from talkinghead.motion.motion import Motion
from talkinghead.render.avatar import Avatar, MouthBank
from talkinghead.render.dub import DubCompositor, DubSource, Reference
from talkinghead.render.mouth_crop import MouthCrop, MouthReference, blend_mask, sketch
from talkinghead.render.registry import Source, register
from talkinghead.render.rig import RigConfig
from talkinghead.render.stats import RenderStats
from talkinghead.render.topology import with_mouth_center
from talkinghead.render.warp import LiveDrawer, MouthDrawer, WarpConfig, WarpRenderer


def in_own_range(motion: Motion, floor: float = 0.3) -> Motion:
    """The lip channels scaled so that each one's 95th percentile (of its size) reads 1, as `track` scales a person's
    own performance: the avatar plays any performance over the person's own range (a tracked one is unchanged;
    one that barely moves is raised at most 1 / ``floor`` times)."""
    return motion.update(**{name: v / max(float(np.percentile(np.abs(v), 95)), floor)
                            for name, v in motion.channels.items() if name in LIP_CHANNELS})


class RunningRange:
    """The live :func:`in_own_range`: each lip channel divided by a running 95th percentile of its size, tracked
    frame by frame (it rises fast on louder speech and sinks slowly), never below ``floor``."""

    def __init__(self, start: float = 0.6, floor: float = 0.3, step: float = 0.02) -> None:
        self.level = dict.fromkeys(LIP_CHANNELS, start)
        self.floor, self.step = floor, step

    def __call__(self, values: Mapping[str, float]) -> dict[str, float]:
        out = dict(values)
        for name in LIP_CHANNELS:
            size = abs(values[name])
            self.level[name] = max(self.floor, self.level[name] + self.step * (0.95 - (size < self.level[name])))
            out[name] = float(np.clip(values[name] / self.level[name], -1, 1))
        return out


def to_tensor(*images: np.ndarray) -> list[torch.Tensor]:
    """(S, S, C) or (S, S) 0..255 arrays -> (1, C, S, S) float tensors in 0..1."""
    return [torch.from_numpy(np.asarray(a, np.float32).reshape(*a.shape[:2], -1) / 255).permute(2, 0, 1)[None]
            for a in images]


class MouthDecoder:
    """Draws the mouth square of one frame with the fitted decoder and the person's mouth bank."""

    def __init__(self, network: HRDecoder, bank: MouthBank) -> None:
        self.network, self.bank = network, bank
        self.size = network.config.size

    @classmethod
    def of(cls, avatar: Avatar) -> "MouthDecoder":
        """The decoder and bank stored in ``avatar``."""
        network = HRDecoder(HRDecoderConfig(**avatar.model["config"]))
        network.load_state_dict(avatar.model["state"])
        return cls(network.eval(), avatar.bank)

    def inputs(self, reference: MouthReference, crop: MouthCrop, target: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the decoder sees for a face at ``target`` (crop pixels): base face, moved real mouths, sketch."""
        return reference.base(crop, target), self.bank.real_mouth(target), sketch(target, self.size)

    @torch.no_grad()
    def draw(self, canvas: np.ndarray, reference: MouthReference, face: np.ndarray) -> None:
        """Draw the mouth of the face at ``face`` (479 landmarks, canvas pixels) into ``canvas``, in place."""
        crop = MouthCrop.around(face, self.size)
        target = crop.points(face)
        out = self.network(*to_tensor(*self.inputs(reference, crop, target)))
        crop.paste(canvas, out[0].permute(1, 2, 0).numpy() * 255, blend_mask(target, self.size))


class FittedCompositor(DubCompositor):
    """The dub compositor with the lower face's mouth drawn by a :class:`MouthDecoder`."""

    def __init__(self, source: DubSource, decoder: MouthDecoder) -> None:
        super().__init__(source)
        self.decoder = decoder
        self._references: dict[int, MouthReference] = {}

    def draw_lower(self, ref: Reference, face: np.ndarray, anchors: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """The frame's own pixels moved onto ``face`` with the decoder's mouth cut in over the old one: cheeks,
        chin, beard and light stay the frame's."""
        lower = moved.copy()
        reference = self._references.setdefault(id(ref), MouthReference(ref.crop, ref.face, ref.painter.colors))
        self.decoder.draw(lower, reference, face)
        return lower


@register
class FittedRenderer(WarpRenderer):
    """``render(source, motion)`` yields RGB frames: the warp renderer's, the mouth drawn by the avatar's decoder."""

    name: ClassVar[str] = "hrdecoder"
    sources: ClassVar[tuple[type, ...]] = (Portrait, DubSource)
    needs_avatar: ClassVar[bool] = True

    def __init__(self, config: WarpConfig | None = None, avatar: str | Path | None = None) -> None:
        if avatar is None:
            raise ValueError("the hrdecoder renderer needs an avatar")
        self.avatar = Avatar.load(avatar)
        config = config or WarpConfig()
        super().__init__(dataclasses.replace(config, rig=self.person(config.rig)))

    def person(self, rig: RigConfig) -> RigConfig:
        """``rig`` with the person's own lips and jaw travel."""
        return dataclasses.replace(rig, jaw=rig.jaw * self.avatar.mouth_scale, lips=self.avatar.lips)

    def render(self, source: Source, motion: Motion, stats: RenderStats | None = None) -> Iterator[np.ndarray]:
        """One frame per Motion frame, streamed: the whole face of a portrait, or a video's frames re-mouthed."""
        decoder = MouthDecoder.of(self.avatar)
        motion = in_own_range(motion)
        if isinstance(source, DubSource):
            config = dataclasses.replace(source.config, rig=self.person(source.config.rig))
            return FittedCompositor(dataclasses.replace(source, config=config), decoder).render(motion, stats)
        return self.animate(source, motion, self.decoded_mouth(source, decoder))

    def live_drawer(self, portrait: Portrait) -> LiveDrawer:
        """Each frame's values in order -> its drawing, the lips played over the person's range as they are heard
        (in order), drawn by the decoder (on any thread)."""
        draw = self.drawer(portrait, self.decoded_mouth(portrait, MouthDecoder.of(self.avatar)))
        scale = RunningRange()
        return lambda values: partial(draw, scale(values))

    @staticmethod
    def decoded_mouth(portrait: Portrait, decoder: MouthDecoder) -> MouthDrawer:
        """Draws the mouth of a warped frame of ``portrait`` with ``decoder``."""
        reference = MouthReference.of(portrait.image, with_mouth_center(portrait.landmarks))
        return lambda frame, face: decoder.draw(frame, reference, face)
