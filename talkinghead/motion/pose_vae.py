"""The ``vae`` pose generator (ICASSP 2023): head pose and blinks sampled from the transformer VAE of
:mod:`talkinghead.models.pose_vae`; its blinks replace the expression generator's (``replaces``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from talkinghead.audio.features import AudioFeatures
from talkinghead.models.pose_diffusion import HEAD_CHANNELS, at_fps, audio_inputs
from talkinghead.models.pose_vae import BLINK_CHANNELS, VAE_CHANNELS, PoseVAE
from talkinghead.models.weights import shared_model
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import HeadMotion, PoseWeights
from talkinghead.motion.registry import Generator, GeneratorConfig, register


@dataclass
class VAEPoseConfig(GeneratorConfig, HeadMotion, PoseWeights):
    """head_motion: scale of the head motion (0 keeps the head still; blinks are not scaled); pose_weights: a
    checkpoint (None: the shipped ``assets/pose_vae.pt``)."""


@register
class VAEPose(Generator):
    """Head motion and blinks sampled from a transformer VAE conditioned on the sound; also sets blink_left and
    blink_right, which replace the expression generator's blinks."""

    kind: ClassVar[str] = "pose"
    name: ClassVar[str] = "vae"
    Config: ClassVar[type] = VAEPoseConfig
    replaces: ClassVar[tuple[str, ...]] = BLINK_CHANNELS

    def generate(self, features: AudioFeatures) -> Motion:
        """Head rotation (degrees), shift (face widths) and eyelid closure for every frame of ``features``."""
        model = shared_model(PoseVAE, self.config.pose_weights or "pose_vae")
        mel, pro, _ = audio_inputs(features)
        values = at_fps(model.generate(mel, pro, self.config.seed).numpy(), features.n_frames, features.fps)
        k = np.where(np.isin(VAE_CHANNELS, HEAD_CHANNELS), self.config.head_motion, 1.0)
        values = values * k
        return Motion(features.fps).update(**{name: values[:, j] for j, name in enumerate(VAE_CHANNELS)})
