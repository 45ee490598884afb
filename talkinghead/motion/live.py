"""Blinks, brows, head motion and gaze decided frame by frame from the sound heard so far (live streaming).

The causal counterparts of the ``natural`` expression, ``prosody`` pose and ``camera`` gaze generators, with their
constants: the same renewal process for blinks and saccades, the same drift, posture shifts, intonation and accent
nods for the head, run as state machines. What the offline generators place before an event (a nod peaking on its
syllable) starts here when the event is heard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from talkinghead.audio.live import FrameSound
from talkinghead.motion.channels import CHANNELS
from talkinghead.motion.expression import DOUBLE_BLINK, MAX_LEAD_S, MIN_BLINK_GAP_S
from talkinghead.motion.gaze import FIXATION_RATE, saccade_duration
from talkinghead.motion.head import IDLE, PITCH_PER_SEMITONE, POSTURE, QUICK, TALK
from talkinghead.motion.options import BlinkRate, BrowScale, HeadMotion, Seed
from talkinghead.motion.signals import SPEECH_ACTIVITY, bump

BRIDGE_S = 0.2  # a pause shorter than this does not end a phrase
NUCLEUS_ONSET_S = 0.1  # a syllable's loudness rise is measured over this much of its past


@dataclass
class LiveMotionConfig(Seed, BlinkRate, BrowScale, HeadMotion):
    """Options of the live face: seed, blink rate, brow scale, head motion."""


class Smoother:
    """Two cascaded one-pole low-passes of time constant ``seconds``: a causal, smooth follower."""

    def __init__(self, fps: float, seconds: float, start: np.ndarray | float = 0.0) -> None:
        self.a = float(np.exp(-1.0 / max(seconds * fps, 1e-6)))
        self.y1 = self.y2 = np.asarray(start, np.float64)

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        self.y1 = self.a * self.y1 + (1 - self.a) * np.asarray(x, np.float64)
        self.y2 = self.a * self.y2 + (1 - self.a) * self.y1
        return self.y2


class Wander:
    """``dims`` unit-variance random walks smoothed at time scale ``seconds``: the live :func:`signals.drift`."""

    def __init__(self, rng: np.random.Generator, fps: float, seconds: float, dims: int) -> None:
        self.rng, self.dims = rng, dims
        self.smoother = Smoother(fps, seconds, np.zeros(dims))
        a = self.smoother.a
        self.gain = 1 / np.sqrt((1 - a) ** 4 * (1 + a * a) / (1 - a * a) ** 3)
        for _ in range(int(5 * seconds * fps)):  # start in the stationary state
            self()

    def __call__(self) -> np.ndarray:
        return self.smoother(self.rng.standard_normal(self.dims)) * self.gain


@dataclass
class Bumps:
    """Raised-cosine bumps scheduled as they are decided (:func:`signals.bump`), summed at any later time."""

    # each one's peak time, height, rise, fall and hold
    events: list[tuple[float, float, float, float, float]] = field(default_factory=list)

    def add(self, peak: float, height: float, rise: float, fall: float, hold: float = 0.0) -> None:
        self.events.append((peak, height, rise, fall, hold))

    def at(self, t: float) -> float:
        """Their sum at ``t`` seconds; the ones that ended are forgotten."""
        self.events = [e for e in self.events if t < e[0] + e[4] + e[3]]
        return float(sum(h * bump(np.asarray(t - p), r, f, d) for p, h, r, f, d in self.events))


class Renewal:
    """Event times of a gamma renewal process with a refractory gap, run in operational time (the per-frame hazard
    relative to ``mean_hazard`` speeds it up or slows it down): the live :func:`signals.renewal_times`."""

    def __init__(self, rng: np.random.Generator, rate_per_min: float, min_gap_s: float, shape: float,
                 mean_hazard: float = 1.0) -> None:
        self.rng, self.min_gap, self.shape, self.mean_hazard = rng, min_gap_s, shape, mean_hazard
        self.excess = max(60.0 / rate_per_min - min_gap_s, 0.05) if rate_per_min > 0 else np.inf
        self.clock = 0.0
        self.next = rng.uniform(0, min_gap_s + self.excess) if rate_per_min > 0 else np.inf

    def step(self, dt: float, hazard: float = 1.0) -> bool:
        """Advance ``dt`` seconds at ``hazard``; True when an event falls in this step."""
        self.clock += dt * max(hazard, 1e-3) / self.mean_hazard
        if self.clock < self.next:
            return False
        self.next = self.clock + self.min_gap + self.rng.gamma(self.shape, self.excess / self.shape)
        return True


class Phrases:
    """Speech or pause per frame, with pauses under :data:`BRIDGE_S` bridged and one-frame blips ignored."""

    def __init__(self, fps: float) -> None:
        self.hangover = int(round(BRIDGE_S * fps))
        self.speaking, self.loud_run, self.quiet_run = False, 0, 0

    def step(self, activity: float) -> tuple[bool, bool, bool]:
        """(speaking, a phrase starts here, a phrase ended here)."""
        loud = activity > SPEECH_ACTIVITY
        self.loud_run, self.quiet_run = (self.loud_run + 1, 0) if loud else (0, self.quiet_run + 1)
        was = self.speaking
        if not was and self.loud_run >= 2:
            self.speaking = True
        elif was and self.quiet_run > self.hangover:
            self.speaking = False
        return self.speaking, self.speaking and not was, was and not self.speaking


class Accents:
    """Stressed syllables heard so far: loudness peaks in speech scored by pitch accent, stress and onset, as
    :func:`signals.syllable_prominence` scores them, one frame after the peak."""

    def __init__(self, fps: float) -> None:
        self.loud: list[float] = []
        self.onset_frames = max(1, round(NUCLEUS_ONSET_S * fps))
        self.median_st = None  # running median pitch, semitones re 100 Hz
        self.nucleus_level = Smoother(fps, 0.4)
        self.contour = Smoother(fps, 0.3)

    def step(self, sound: FrameSound, speaking: bool) -> tuple[float, float]:
        """(prominence 0..1 of a syllable that peaked on the previous frame or 0, pitch in semitones about the
        speaker's running median or 0 when unvoiced)."""
        st = 12 * np.log2(sound.f0 / 100) if sound.f0 > 0 else None
        if st is not None:
            self.median_st = st if self.median_st is None else self.median_st + 0.1 * np.sign(st - self.median_st)
        rel = 0.0 if st is None else float(np.clip(st - self.median_st, -6, 6))
        contour = float(self.contour(rel))
        self.loud = (self.loud + [sound.loudness])[-(self.onset_frames + 3):]
        if not speaking or len(self.loud) < 3 or not self.loud[-3] < self.loud[-2] >= self.loud[-1]:
            return 0.0, rel
        peak = self.loud[-2]
        stress = peak - float(self.nucleus_level(peak))
        onset = float(np.clip(peak - min(self.loud[:-2]), 0, 24))
        accent = 0.5 * rel + (rel - contour)
        score = accent / 2.5 + stress / 3 + onset / 12 - 1.5
        return float(1 / (1 + np.exp(-score))), rel


class LiveMotion:
    """Per frame of sound -> the blink, brow, head and gaze channels, decided from the past only."""

    def __init__(self, config: LiveMotionConfig | None = None, fps: float = 25.0) -> None:
        self.config = c = config or LiveMotionConfig()
        self.fps, self.t = fps, 0.0
        rngs = np.random.default_rng(c.seed + 4001).spawn(5)
        self.rng = rngs[0]
        self.phrases, self.accents = Phrases(fps), Accents(fps)
        self.blinks = Renewal(rngs[1], c.blink_rate / (1 + DOUBLE_BLINK), MIN_BLINK_GAP_S, 2.0, mean_hazard=0.8)
        self.saccades = Renewal(rngs[2], FIXATION_RATE, 0.5, 2.5)
        self.slow, self.quick = Wander(rngs[3], fps, 1.2, 3), Wander(rngs[3], fps, 0.3, 3)
        self.sway, self.brow_drift = Wander(rngs[4], fps, 2.0, 2), Wander(rngs[4], fps, 0.8, 1)
        self.talking, self.voicing = Smoother(fps, 0.3), Smoother(fps, 0.08)
        self.intonation = Smoother(fps, 0.06)
        self.posture_target, self.posture = np.zeros(3), Smoother(fps, 0.08, np.zeros(3))
        self.eyes = (Bumps(), Bumps())
        self.blink_hazard, self.nods, self.brows = Bumps(), Bumps(), Bumps()
        self.last_nod = self.last_brow = -np.inf
        self.gaze_from = self.gaze_to = np.zeros(2)
        self.saccade_at = 0.0
        self.second_blink = np.inf  # when a double blink's second one starts

    def step(self, sound: FrameSound) -> dict[str, float]:
        """The channels of the next frame."""
        t, dt = self.t + 0.5 / self.fps, 1 / self.fps
        speaking, starts, ends = self.phrases.step(sound.activity)
        prominence, semitone = self.accents.step(sound, speaking)
        talking = float(self.talking(float(speaking)))
        if ends:
            self.blink_hazard.add(t + 0.1, 3.0, 0.1, 0.6)
        if self.blinks.step(dt, (0.5 if speaking else 1.0) + self.blink_hazard.at(t)):
            self._blink(t)
        if t >= self.second_blink:
            self.second_blink = np.inf
            self._blink(t, double=False)
        channels = {**self._head(t, speaking, starts, talking, prominence, semitone, sound.f0 > 0),
                    **self._brows_and_eyes(t, talking, prominence)}
        self.t += dt
        return {name: float(np.clip(v, CHANNELS[name].low, CHANNELS[name].high)) for name, v in channels.items()}

    def _blink(self, t: float, double: bool = True) -> None:
        """Schedule a blink (fast close, short hold, slow reopen) starting now, sometimes followed by a second."""
        duration = float(np.clip(self.rng.lognormal(np.log(0.21), 0.2), 0.15, 0.3))
        close, hold, reopen = 0.3 * duration, 0.12 * duration, 0.58 * duration
        lead = self.rng.uniform(0, MAX_LEAD_S) * (1 if self.rng.random() < 0.7 else -1)
        for side, eye in zip((-1, 1), self.eyes):
            eye.add(t + close + side * lead / 2, 1.0, close, reopen, hold)
        if double and self.rng.random() < DOUBLE_BLINK:
            self.second_blink = t + close + hold + reopen + self.rng.uniform(0.1, 0.2)

    def _head(self, t: float, speaking: bool, starts: bool, talking: float, prominence: float, semitone: float,
              voiced: bool) -> dict[str, float]:
        """Head rotation (degrees) and translation (face widths): drift, posture per phrase, intonation, nods."""
        if starts:
            self.posture_target = self.rng.standard_normal(3) * POSTURE
        if prominence > 0.6 and t - self.last_nod > 0.7:
            depth = (1.0 + 2.0 * (prominence - 0.6) / 0.4) * self.rng.uniform(0.8, 1.2)
            self.nods.add(t + 0.18, depth, 0.18, 0.35)
            self.last_nod = t
        rotation = ((IDLE + (TALK - IDLE) * talking) * self.slow() + QUICK * talking * self.quick()
                    + self.posture(self.posture_target))
        yaw, pitch, roll = rotation
        voicing = float(self.voicing(float(voiced and speaking)))
        pitch += PITCH_PER_SEMITONE * float(self.intonation(semitone if voiced else 0.0)) * voicing - self.nods.at(t)
        roll += 0.12 * yaw
        sway = self.sway() * (0.004 + 0.006 * talking)
        k = self.config.head_motion
        return {"head_yaw": k * yaw, "head_pitch": k * pitch, "head_roll": k * roll,
                "head_x": k * (0.004 * yaw + 0.005 * roll + sway[0]), "head_y": k * (-0.004 * pitch + sway[1])}

    def _brows_and_eyes(self, t: float, talking: float, prominence: float) -> dict[str, float]:
        """Brows lifting on strong accents, eyelids, and gaze fixations broken by small saccades."""
        if prominence > 0.75 and t - self.last_brow > 1.5:
            self.brows.add(t + 0.12, (0.2 + 0.4 * (prominence - 0.75) / 0.25) * self.rng.uniform(0.85, 1.15), 0.12, 0.4)
            self.last_brow = t
        animated = 0.04 * talking + (0.01 + 0.04 * talking) * float(self.brow_drift()[0])
        brow = self.config.expression * (0.7 * np.tanh(self.brows.at(t) / 0.7) + animated)
        if self.saccades.step(1 / self.fps):
            here = self.gaze_to
            angle = (np.arctan2(-here[1], -here[0]) + self.rng.normal(0, 0.8) if np.hypot(*here) > 0.8
                     else self.rng.uniform(-np.pi, np.pi))
            self.gaze_from = self._gaze(t)
            self.gaze_to = here + self.rng.uniform(0.5, 2.0) * np.array([np.cos(angle), np.sin(angle)])
            self.saccade_at = t
        gaze = self._gaze(t)
        left, right = (min(eye.at(t), 1.0) for eye in self.eyes)
        return {"brow_raise": brow, "blink_left": left, "blink_right": right, "gaze_yaw": gaze[0],
                "gaze_pitch": gaze[1]}

    def _gaze(self, t: float) -> np.ndarray:
        """Gaze (yaw, pitch) at ``t``: moving from the last fixation to the next along a smooth saccade."""
        span = float(saccade_duration(np.linalg.norm(self.gaze_to - self.gaze_from)))
        u = float(np.clip((t - self.saccade_at) / max(span, 1e-6), 0, 1))
        return self.gaze_from + (self.gaze_to - self.gaze_from) * u * u * (3 - 2 * u)
