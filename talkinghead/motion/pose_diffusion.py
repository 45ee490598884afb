"""The ``diffusion`` pose generator (GoHD, DAE-Talker): head motion sampled by the conformer denoiser of
:mod:`talkinghead.models.pose_diffusion` from the sound's rhythm and intonation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from talkinghead.audio.features import AudioFeatures
from talkinghead.models.pose_diffusion import HEAD_CHANNELS, PoseDiffusion, at_fps, audio_inputs
from talkinghead.models.weights import shared_model
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import HeadMotion, PoseWeights
from talkinghead.motion.registry import Generator, GeneratorConfig, register


@dataclass
class DiffusionPoseConfig(GeneratorConfig, HeadMotion, PoseWeights):
    """head_motion: scale of the head motion (0 keeps the head still); pose_weights: a checkpoint (None: the shipped
    ``assets/pose_diffusion.pt``); steps: DDIM sampling steps (more: slower, slightly finer)."""

    steps: int = 12


@register
class DiffusionPose(Generator):
    """Head motion sampled by a conformer diffusion model from the sound's rhythm and intonation (GoHD)."""

    kind: ClassVar[str] = "pose"
    name: ClassVar[str] = "diffusion"
    Config: ClassVar[type] = DiffusionPoseConfig

    def generate(self, features: AudioFeatures) -> Motion:
        """Head rotation (degrees) and shift (face widths) for every frame of ``features``."""
        model = shared_model(PoseDiffusion, self.config.pose_weights or "pose_diffusion")
        mel, pro, _ = audio_inputs(features)
        head = model.generate(mel, pro, self.config.steps, self.config.seed).numpy()
        head = self.config.head_motion * at_fps(head, features.n_frames, features.fps)
        return Motion(features.fps).update(**{name: head[:, j] for j, name in enumerate(HEAD_CHANNELS)})
