"""Phonetic lips: phones -> viseme targets -> coarticulated lip curves (Cohen-Massaro dominance) -> loudness."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.channels import LIP_CHANNELS
from talkinghead.motion.motion import Motion
from talkinghead.motion.registry import Generator, GeneratorConfig, register
from talkinghead.motion.visemes import BILABIALS, Viseme, viseme_segments

NEIGHBOURS = 4  # segments on each side whose dominance reaches a frame
JAW, PRESS = LIP_CHANNELS.index("jaw_open"), LIP_CHANNELS.index("lip_press")
SHAPE_CHANNELS = ("mouth_width", "lip_round")  # anticipated further ahead than the rest
PRESS_FREE_JAW = 0.3  # jaw opening at which the lips can no longer press together
FILL_WINDOW_S = 0.5  # loudness rising above its minimum over this window counts as syllables
Phones = list[tuple[float, float, str]]


@dataclass
class PhoneticLipsConfig(GeneratorConfig):
    """Timing, coarticulation and loudness options of the phonetic lips (defaults tuned on real video)."""

    lead_s: float = 0.02  # the lips move this long before the sound they shape
    spread_s: float = 0.03  # how far a phone's dominance reaches beyond its own half-length
    anticipation: float = 2.0  # lip shape (rounding, spreading) reaches this many times further ahead than behind
    breath_open: float = 0.6  # jaw opening of the breath taken in a pause before speech
    breath_s: float = 0.3  # length of that breath
    loudness_weight: float = 0.5  # share of each phone's jaw target scaled by its loudness (louder opens wider)
    silence_fill: float = 0.5  # jaw opening driven by loudness where the recogniser heard no phone


def coarticulate(segments: list[tuple[float, float, Viseme]], times: np.ndarray,
                 config: PhoneticLipsConfig) -> np.ndarray:
    """Lip channels at ``times``, shape (len(times), 6): per channel, the dominance-weighted mean of the targets."""
    starts = np.array([s for s, _, _ in segments])
    ends = np.array([e for _, e, _ in segments])
    targets = np.stack([v.targets for _, _, v in segments])
    dominance = np.stack([v.dominance for _, _, v in segments])
    here = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(segments) - 1)
    near = here[:, None] + np.arange(-NEIGHBOURS, NEIGHBOURS + 1)
    valid = (near >= 0) & (near < len(segments))
    near = np.clip(near, 0, len(segments) - 1)
    offset = times[:, None] - (starts + ends)[near] / 2  # > 0 after the segment's centre
    ahead = np.where(np.isin(LIP_CHANNELS, SHAPE_CHANNELS), config.anticipation, 1.0)
    width = ((ends - starts)[near] / 2 + config.spread_s)[..., None] * np.where(offset[..., None] < 0, ahead, 1.0)
    weight = dominance[near] * np.exp(-np.abs(offset)[..., None] / width) * valid[..., None]
    return (weight * targets[near]).sum(1) / np.maximum(weight.sum(1), 1e-12)


def frames_of(phones: Phones, keep: frozenset[str], fps: float, n_frames: int) -> np.ndarray:
    """Frames centred inside the segments of the ``keep`` phones; a segment too short for that gets its middle frame."""
    frames = []
    for start, end, phone in phones:
        if phone in keep:
            inside = np.arange(np.ceil(start * fps - 0.5), np.ceil(end * fps - 0.5)).astype(int)
            frames.extend(inside if len(inside) else [int((start + end) / 2 * fps)])
    return np.clip(np.asarray(frames, int), 0, n_frames - 1)


@register
class PhoneticLips(Generator):
    """Lips from recognised (or transcript-aligned) phones; the jaw also follows loudness."""

    kind: ClassVar[str] = "lips"
    name: ClassVar[str] = "phonetic"
    Config: ClassVar[type] = PhoneticLipsConfig

    def jaw_gain(self, phones: Phones, features: AudioFeatures) -> np.ndarray:
        """Per phone, the factor on its jaw target from its loudness (the loudest frame it overlaps)."""
        fps, n, loud = features.fps, features.n_frames, features.activity
        peak = np.array([loud[min(int(s * fps), n - 1):max(int(np.ceil(e * fps)), int(s * fps) + 1)].max()
                         for s, e, _ in phones])
        return 1 - self.config.loudness_weight + self.config.loudness_weight * peak

    def loudness_fill(self, jaw: np.ndarray, phones: Phones, features: AudioFeatures) -> np.ndarray:
        """Open the jaw where loud, syllable-like audio got no phone (noise, speech in other languages).

        Only loudness above half the speech level and above its running minimum counts, so that quiet noise and
        steady sound (hum, tone, stationary noise) leave it shut.
        """
        fps, n = features.fps, features.n_frames
        silent = np.zeros(n)
        silent[frames_of(phones, frozenset({"SIL"}), fps, n)] = 1.0
        loud = features.activity
        floor = np.maximum(minimum_filter1d(loud, int(fps * FILL_WINDOW_S) | 1), 0.5)
        syllables = np.clip(2 * (loud - floor), 0, 1)
        return np.maximum(jaw, self.config.silence_fill * syllables * uniform_filter1d(silent, 3))

    def generate(self, features: AudioFeatures) -> Motion:
        """Lip channels for every video frame of ``features``; the phones go to ``meta["phones"]``."""
        cfg, fps, n = self.config, features.fps, features.n_frames
        phones = features.phones
        segments = viseme_segments(phones, self.jaw_gain(phones, features), cfg.breath_open, cfg.breath_s)
        lips = coarticulate(segments, (np.arange(n) + 0.5) / fps + cfg.lead_s, cfg)
        lips[:, JAW] = self.loudness_fill(lips[:, JAW], phones, features)
        lips[:, PRESS] *= np.clip(1 - lips[:, JAW] / PRESS_FREE_JAW, 0, 1)
        shut = frames_of(phones, BILABIALS, fps, n)
        lips[shut, JAW], lips[shut, PRESS] = 0.0, 1.0
        motion = Motion(fps, meta={"phones": [[s, e, p] for s, e, p in phones]})
        return motion.update(**{name: lips[:, j] for j, name in enumerate(LIP_CHANNELS)})
