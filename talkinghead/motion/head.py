"""Head pose from prosody: aperiodic drift that grows with speech, posture shifts per phrase, nods on accents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import HeadMotion
from talkinghead.motion.registry import Generator, GeneratorConfig, register
from talkinghead.motion.signals import (accents, drift, frame_times, masked_smooth, pulses, runs, semitones, smooth,
                                        speech_mask)

ROTATIONS = ("head_yaw", "head_pitch", "head_roll")
# degrees (std) per rotation: slow drift at rest, slow drift while talking, faster talking motion, posture per phrase
IDLE = np.array([1.2, 0.8, 0.5])
TALK = np.array([2.5, 1.3, 1.0])
QUICK = np.array([1.0, 0.5, 0.5])
POSTURE = np.array([2.0, 1.2, 0.8])
PITCH_PER_SEMITONE = 0.2  # head lifts slightly with rising intonation


@register
class ProsodyHead(Generator):
    """Rhythm-aware head motion: calm idle sway in silence, livelier drift, posture shifts and accent nods in speech."""

    kind = "pose"
    name = "prosody"

    @dataclass
    class Config(GeneratorConfig, HeadMotion):
        """head_motion: scale of all head motion (0 keeps the head still)."""

    def generate(self, features: AudioFeatures) -> Motion:
        """Head rotation (degrees) and translation (face widths) for every frame of ``features``."""
        fps, n = features.fps, features.n_frames
        drift_rng, posture_rng, nod_rng = np.random.default_rng(self.config.seed + 2003).spawn(3)
        speech = speech_mask(features)
        talking = smooth(speech, fps, 0.6)[:, None]
        slow = np.stack([drift(drift_rng, n, fps, 1.2) for _ in ROTATIONS], axis=1)
        quick = np.stack([drift(drift_rng, n, fps, 0.3) for _ in ROTATIONS], axis=1)
        rotation = ((IDLE + (TALK - IDLE) * talking) * slow + QUICK * talking * quick
                    + self._posture(posture_rng, speech, fps))
        yaw, pitch, roll = rotation.T
        roll = roll + 0.12 * yaw
        pitch = pitch + self._intonation(features, speech) - self._nods(nod_rng, features)
        sway = np.stack([drift(drift_rng, n, fps, 2.0) for _ in range(2)], axis=1) * (0.004 + 0.006 * talking)
        head_x = 0.004 * yaw + 0.005 * roll + sway[:, 0]
        head_y = -0.004 * pitch + sway[:, 1]
        k = self.config.head_motion
        return Motion(fps).update(head_yaw=k * yaw, head_pitch=k * pitch, head_roll=k * roll,
                                  head_x=k * head_x, head_y=k * head_y)

    @staticmethod
    def _posture(rng: np.random.Generator, speech: np.ndarray, fps: float) -> np.ndarray:
        """A new resting orientation at each phrase start, eased in over ~0.5 s (the first stays facing the camera)."""
        phrase = np.zeros(len(speech), int)
        phrase[runs(speech)[:, 0]] = 1
        targets = np.vstack([np.zeros(3), rng.standard_normal((phrase.sum(), 3)) * POSTURE])
        return np.stack([smooth(column, fps, 0.15) for column in targets[np.cumsum(phrase)].T], axis=1)

    @staticmethod
    def _intonation(features: AudioFeatures, speech: np.ndarray) -> np.ndarray:
        """Head pitch following the smoothed intonation contour, faded out in pauses."""
        st, voiced = semitones(features, speech)
        contour = np.clip(masked_smooth(st, voiced, features.fps, 0.12), -6, 6)
        return PITCH_PER_SEMITONE * contour * smooth(voiced, features.fps, 0.15)

    @staticmethod
    def _nods(rng: np.random.Generator, features: AudioFeatures) -> np.ndarray:
        """Downward nods of 1-3 degrees peaking on stressed syllables, back up over ~350 ms."""
        frames, prominence = accents(features, threshold=0.6, min_gap_s=0.7)
        depth = (1.0 + 2.0 * (prominence - 0.6) / 0.4) * rng.uniform(0.8, 1.2, len(frames))
        times = frame_times(features.n_frames, features.fps)[frames]
        return pulses(features.n_frames, features.fps, times, depth, rise=0.18, fall=0.35)
