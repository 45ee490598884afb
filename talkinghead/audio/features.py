"""AudioFeatures: everything motion generators read from speech (loudness, pitch, mel, phones), per video frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from talkinghead.audio.decode import Audio
from talkinghead.audio.phone_posteriors import live_phone_log_posteriors, phone_log_posteriors
from talkinghead.audio.phones import recognize_phones
from talkinghead.audio.signal import HOP_S, SILENCE_DB, log_mel, rms_db, speech_level, to_video_frames, yin_f0


@dataclass
class AudioFeatures:
    """Everything motion generators read from speech, indexed by video frame at ``fps``."""

    audio: Audio
    fps: float = 25.0
    transcript: str | None = None
    n_frames: int = field(init=False)

    def __post_init__(self) -> None:
        self.n_frames = self.audio.n_frames(self.fps)

    @cached_property
    def loudness_100hz(self) -> np.ndarray:
        """Log RMS (dBFS) at 100 Hz over 30 ms windows."""
        return rms_db(self.audio.samples, self.audio.rate, HOP_S, 0.03)

    @cached_property
    def loudness(self) -> np.ndarray:
        """Log RMS (dBFS) per video frame."""
        return to_video_frames(self.loudness_100hz, HOP_S, self.fps, self.n_frames)

    @cached_property
    def speech_level(self) -> float:
        """Loudness (dBFS) of the speech itself: the 90th percentile of frames above silence."""
        return speech_level(self.loudness_100hz)

    @cached_property
    def activity(self) -> np.ndarray:
        """0..1 per video frame: how loud the frame is relative to the speech level (0 = silence)."""
        floor = max(SILENCE_DB, self.speech_level - 35.0)
        return np.clip((self.loudness - floor) / max(self.speech_level - floor, 1e-6), 0, 1)

    @cached_property
    def f0_100hz(self) -> np.ndarray:
        """Pitch in Hz at 100 Hz, 0 where unvoiced or silent."""
        f0 = yin_f0(self.audio.samples, self.audio.rate)
        n = min(len(f0), len(self.loudness_100hz))
        f0 = f0[:n]
        f0[self.loudness_100hz[:n] < max(SILENCE_DB, self.speech_level - 30)] = 0
        return f0

    @cached_property
    def f0(self) -> np.ndarray:
        """Pitch in Hz per video frame (median of voiced hops), 0 where unvoiced."""
        f0 = self.f0_100hz
        edges = np.clip(np.round(np.arange(self.n_frames + 1) / self.fps / HOP_S).astype(int), 0, len(f0))
        out = np.zeros(self.n_frames)
        for i in range(self.n_frames):
            seg = f0[edges[i]:edges[i + 1]]
            seg = seg[seg > 0]
            out[i] = np.median(seg) if len(seg) else 0.0
        return out

    @cached_property
    def voiced(self) -> np.ndarray:
        """True where the frame has a pitch."""
        return self.f0 > 0

    @cached_property
    def mel(self) -> np.ndarray:
        """80-bin log-mel at 100 Hz, shape (hops, 80)."""
        return log_mel(self.audio.samples, self.audio.rate)

    @cached_property
    def phone_posteriors(self) -> np.ndarray:
        """(hops at 100 Hz, 42) log posteriors of the bundled acoustic model's phones, frame by frame (no decoding)."""
        return phone_log_posteriors(self.audio)

    @cached_property
    def live_phone_posteriors(self) -> np.ndarray:
        """:attr:`phone_posteriors` as the live front end gives them (a running cepstral mean: what a stream sees)."""
        return live_phone_log_posteriors(self.audio)

    @cached_property
    def phones(self) -> list[tuple[float, float, str]]:
        """Phone segments (start s, end s, ARPAbet phone or 'SIL'), aligned to ``transcript`` when given."""
        return recognize_phones(self.audio, self.transcript)
