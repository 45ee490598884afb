"""The ``learned`` lips generator, GoHD stage 1: the lip channels from the sound alone by the network of
:mod:`talkinghead.models.lips_net`, at rest where the sound is silent; any language, no transcript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from talkinghead.audio.features import AudioFeatures
from talkinghead.models.lips_net import LipsNet
from talkinghead.models.weights import shared_model
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import LipsWeights
from talkinghead.motion.registry import Generator, GeneratorConfig, register

GATE_REACH_S = 0.12  # the lips may move this long before and after sound (anticipation, release)


@dataclass
class LearnedLipsConfig(GeneratorConfig, LipsWeights):
    """Which weights the learned lips use (None: the shipped ``assets/lips.pt``)."""


@register
class LearnedLips(Generator):
    """Lips straight from the sound (GoHD stage 1): any language, no transcript."""

    kind: ClassVar[str] = "lips"
    name: ClassVar[str] = "learned"
    Config: ClassVar[type] = LearnedLipsConfig

    def generate(self, features: AudioFeatures) -> Motion:
        """Lip channels for every video frame of ``features``, at rest where the sound is silent."""
        lips = shared_model(LipsNet, self.config.lips_weights or "lips").lips(features).numpy() * sound_gate(features)
        return Motion(features.fps).update(**{name: lips[j] for j, name in enumerate(LipsNet.channels)})


def sound_gate(features: AudioFeatures, reach_s: float = GATE_REACH_S) -> np.ndarray:
    """Per frame 0..1: 1 within ``reach_s`` of any sound above silence, easing to 0 over as long in longer silences
    (the network guesses at noise and digital silence; the lips rest there)."""
    reach = max(1, int(round(reach_s * features.fps)))
    near = maximum_filter1d((features.activity > 0.05).astype(float), 2 * reach + 1)
    return uniform_filter1d(near, 2 * reach + 1)
