"""Eye gaze: fixations on the camera broken by small saccades, and optionally glances away in pauses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.motion import Motion
from talkinghead.motion.registry import Generator, GeneratorConfig, register
from talkinghead.motion.signals import frame_times, renewal_times, speech_mask

FIXATION_RATE = 45.0  # small saccades per minute while looking at the camera (a fixation lasts 0.5-2.5 s)
# glance-away directions: (probability, yaw magnitude range, pitch range) in degrees; yaw sign is random
GLANCES = ((0.55, (6, 15), (-3, 1)), (0.35, (2, 8), (-10, -5)), (0.10, (3, 8), (5, 9)))


def saccade_duration(amplitude: np.ndarray) -> np.ndarray:
    """Seconds a saccade of ``amplitude`` degrees takes (the main sequence: ~21 ms + 2.2 ms per degree)."""
    return 0.021 + 0.0022 * amplitude


def hold_and_jump(n: int, fps: float, times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per-frame (yaw, pitch) that holds each target and moves to the next in a saccade starting at ``times``."""
    t = frame_times(n, fps)
    before = np.vstack([np.zeros(2), targets[:-1]]) if len(targets) else np.zeros((0, 2))
    k = np.searchsorted(times, t, side="right") - 1
    out = np.zeros((n, 2))
    moving = k >= 0
    kk = k[moving]
    start, end = before[kk], targets[kk]
    progress = np.clip((t[moving] - times[kk]) / saccade_duration(np.linalg.norm(end - start, axis=1)), 0, 1)
    out[moving] = start + (end - start) * (progress * progress * (3 - 2 * progress))[:, None]
    return out


@register
class Gaze(Generator):
    """Eyes on the camera with small saccades every 0.5-2.5 s; ``look_away_rate`` adds glances away in pauses."""

    kind = "gaze"
    name = "camera"

    @dataclass
    class Config(GeneratorConfig):
        """look_away_rate: glances away from the camera per minute (0: never)."""

        look_away_rate: float = 0.0

    def generate(self, features: AudioFeatures) -> Motion:
        """Gaze yaw and pitch (degrees) for every frame of ``features``."""
        fps, n = features.fps, features.n_frames
        fix_rng, glance_rng = np.random.default_rng(self.config.seed + 3001).spawn(2)
        times, targets = self._fixations(fix_rng, n, fps)
        gaze = hold_and_jump(n, fps, times, targets)
        if self.config.look_away_rate > 0:
            gaze += hold_and_jump(n, fps, *self._glances(glance_rng, speech_mask(features), fps))
        return Motion(fps).update(gaze_yaw=gaze[:, 0], gaze_pitch=gaze[:, 1])

    @staticmethod
    def _fixations(rng: np.random.Generator, n: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
        """Saccade times and fixation points: steps of 0.5-2 degrees, pulled back towards the camera."""
        times = renewal_times(rng, np.ones(n), fps, FIXATION_RATE, min_gap_s=0.5, shape=2.5)
        targets = np.zeros((len(times), 2))
        here = np.zeros(2)
        for i in range(len(times)):
            towards_camera = np.arctan2(-here[1], -here[0]) + rng.normal(0, 0.8)
            angle = towards_camera if np.hypot(*here) > 0.8 else rng.uniform(-np.pi, np.pi)
            here = here + rng.uniform(0.5, 2.0) * np.array([np.cos(angle), np.sin(angle)])
            targets[i] = here
        return times, targets

    def _glances(self, rng: np.random.Generator, speech: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
        """Glances away (5-15 degrees, mostly sideways or down) and back, likelier in pauses than mid-speech."""
        starts = renewal_times(rng, np.where(speech, 0.25, 1.0), fps, self.config.look_away_rate, min_gap_s=2.5,
                               shape=1.5)
        kind = rng.choice(len(GLANCES), size=len(starts), p=[g[0] for g in GLANCES])
        away = np.array([[rng.choice((-1, 1)) * rng.uniform(*GLANCES[k][1]), rng.uniform(*GLANCES[k][2])]
                         for k in kind]).reshape(-1, 2)
        back = starts + np.minimum(np.clip(rng.lognormal(np.log(1.0), 0.4, len(starts)), 0.5, 3.0),
                                   np.append(np.diff(starts), np.inf) - 0.3)
        times = np.ravel(np.column_stack([starts, back]))
        targets = np.ravel(np.column_stack([away, np.zeros_like(away)])).reshape(-1, 2)
        return times, targets


@register
class FreeGaze(Gaze):
    """Gaze that mostly holds the camera but glances away now and then, as people do while thinking."""

    name = "free"

    @dataclass
    class Config(Gaze.Config):
        """look_away_rate: glances away from the camera per minute."""

        look_away_rate: float = 6.0
