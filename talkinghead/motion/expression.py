"""Eyelids and brows: spontaneous blinks timed by a refractory gamma renewal process, brow raises on pitch accents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import BlinkRate, BrowScale
from talkinghead.motion.registry import Generator, GeneratorConfig, register
from talkinghead.motion.signals import (accents, drift, frame_times, pulses, renewal_times, runs, smooth,
                                        speech_mask)

MIN_BLINK_GAP_S = 1.2  # refractory period between blinks (double blinks excepted)
DOUBLE_BLINK = 0.06  # share of blinks followed at once by a second one
MAX_LEAD_S = 0.008  # how much one eye may lead the other


@register
class BlinksAndBrows(Generator):
    """Natural blinks (skewed intervals, more at phrase ends, fast close, slow reopen) and brows lifting on emphasis."""

    kind = "expression"
    name = "natural"

    @dataclass
    class Config(GeneratorConfig, BlinkRate, BrowScale):
        """blink_rate: mean blinks per minute (people: 10-25); expression: scale of the brow movements."""

    def generate(self, features: AudioFeatures) -> Motion:
        """Blink and brow channels for every frame of ``features``."""
        blink_rng, brow_rng = np.random.default_rng(self.config.seed + 1009).spawn(2)
        speech = speech_mask(features)
        left, right = self._blinks(blink_rng, speech, features.n_frames, features.fps)
        return Motion(features.fps).update(blink_left=left, blink_right=right,
                                           brow_raise=self._brows(brow_rng, features))

    def _blinks(self, rng: np.random.Generator, speech: np.ndarray, n: int,
                fps: float) -> tuple[np.ndarray, np.ndarray]:
        """Left and right lid closure: blinks rarer mid-speech, likelier just after a phrase ends."""
        phrase_ends = frame_times(n, fps)[runs(speech)[:, 1] - 1]
        hazard = np.where(speech, 0.5, 1.0) + pulses(n, fps, phrase_ends + 0.1, 3.0, rise=0.1, fall=0.6)
        times = renewal_times(rng, hazard, fps, self.config.blink_rate / (1 + DOUBLE_BLINK), MIN_BLINK_GAP_S, shape=2.0)
        duration = np.clip(rng.lognormal(np.log(0.21), 0.2, len(times)), 0.15, 0.3)
        close, hold, reopen = 0.3 * duration, 0.12 * duration, 0.58 * duration
        double = rng.random(len(times)) < DOUBLE_BLINK
        times = np.concatenate([times, (times + hold + reopen + close + rng.uniform(0.1, 0.2, len(times)))[double]])
        close, hold, reopen = (np.concatenate([v, v[double]]) for v in (close, hold, reopen))
        centre = (np.floor(times * fps) + 0.5) / fps  # full closure lands on a frame
        lead = rng.uniform(0, MAX_LEAD_S, len(times)) * np.where(rng.random(len(times)) < 0.7, 1, -1)
        eyes = (pulses(n, fps, centre - hold / 2 + side * lead / 2, 1.0, close, reopen, hold) for side in (-1, 1))
        left, right = (np.minimum(eye, 1.0) for eye in eyes)
        return left, right

    def _brows(self, rng: np.random.Generator, features: AudioFeatures) -> np.ndarray:
        """Brow raise: a lift of 0.2-0.6 on each strong pitch accent; slightly up and slowly varying while speaking."""
        fps, n = features.fps, features.n_frames
        frames, prominence = accents(features, threshold=0.75, min_gap_s=1.5)
        lift = (0.2 + 0.4 * (prominence - 0.75) / 0.25) * rng.uniform(0.85, 1.15, len(frames))
        raises = pulses(n, fps, frame_times(n, fps)[frames], lift, rise=0.12, fall=0.4)
        talking = smooth(features.activity, fps, 0.5)
        animated = 0.04 * talking + (0.01 + 0.04 * talking) * drift(rng, n, fps, 0.8)
        return self.config.expression * (0.7 * np.tanh(raises / 0.7) + animated)
