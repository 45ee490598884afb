"""The ``blend`` lips generator: the mean of the phonetic and the learned lips, a two-model ensemble whose errors
partly cancel (the one reads recognised phones, the other the sound itself); where either shuts the lips (m, b, p)
the lips are that generator's, so closures keep their full depth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.channels import LIP_CHANNELS
from talkinghead.motion.learned_lips import LearnedLips, LearnedLipsConfig
from talkinghead.motion.motion import Motion
from talkinghead.motion.phonetic_lips import PhoneticLips, PhoneticLipsConfig
from talkinghead.motion.registry import Generator, register

PRESSED = 0.5  # lip_press above which a generator has the lips shut


@dataclass
class BlendedLipsConfig(PhoneticLipsConfig, LearnedLipsConfig):
    """The options of both lips it blends."""


@register
class BlendedLips(Generator):
    """The mean of the phonetic and learned lips, closures kept."""

    kind: ClassVar[str] = "lips"
    name: ClassVar[str] = "blend"
    Config: ClassVar[type] = BlendedLipsConfig

    def generate(self, features: AudioFeatures) -> Motion:
        """Lip channels for every frame of ``features``; the phones go to ``meta["phones"]`` as the phonetic lips'."""
        phonetic = PhoneticLips(self.config).generate(features)
        learned = LearnedLips(self.config).generate(features)
        both = {name: np.stack([phonetic[name], learned[name]]) for name in LIP_CHANNELS}
        shut = (both["lip_press"] > PRESSED).any(0)
        closer = both["lip_press"].argmax(0)  # where shut, every channel is the lips of the one pressing harder
        frames = np.arange(len(closer))
        lips = {name: np.where(shut, values[closer, frames], values.mean(0)) for name, values in both.items()}
        return Motion(features.fps, meta=phonetic.meta).update(**lips)
