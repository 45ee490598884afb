"""Sound arriving in chunks -> per video frame loudness, activity and pitch, causally (for live streaming).

The live counterpart of :class:`~talkinghead.audio.features.AudioFeatures`: the same measures (30 ms log RMS at
100 Hz, YIN pitch, activity relative to the speech level), computed from the past only. The speech level, a whole
recording's 90th percentile offline, is tracked as a running quantile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinghead.audio.decode import SAMPLE_RATE
from talkinghead.audio.signal import HOP_S, SILENCE_DB, yin_f0

LEVEL_START_DB = -26.0  # speech level assumed before any speech was heard (a close microphone's)
LEVEL_STEP_DB = 0.3  # the running 90th percentile moves by this (up) or a ninth of it (down) per 10 ms hop
YIN_CONTEXT = int(2 * SAMPLE_RATE / 60)  # samples of the past that YIN's longest window needs (60 Hz, two periods)


@dataclass
class FrameSound:
    """One video frame's sound: log RMS (dBFS), activity 0..1 relative to the speech level, pitch (Hz, 0 unvoiced)."""

    loudness: float
    activity: float
    f0: float


class LiveSound:
    """16 kHz samples in any chunks -> a :class:`FrameSound` for each video frame whose sound has all arrived."""

    def __init__(self, fps: float = 25.0) -> None:
        self.fps = fps
        self.level = LEVEL_START_DB
        self._buffer = np.zeros(YIN_CONTEXT, np.float32)  # the past YIN needs, then what no frame has used yet
        self._frames = 0  # frames emitted
        self._received = 0  # samples received

    def push(self, samples: np.ndarray) -> list[FrameSound]:
        """The frames completed by ``samples`` (float32 mono at 16 kHz), in order."""
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)])
        self._received += len(samples)
        out = []
        while self._frame_end(self._frames) <= self._received:
            out.append(self._next_frame())
        return out

    def _frame_end(self, i: int) -> int:
        return int(round((i + 1) / self.fps * SAMPLE_RATE))

    def _next_frame(self) -> FrameSound:
        """Measure the oldest complete frame and drop what no later frame needs."""
        start = int(round(self._frames / self.fps * SAMPLE_RATE))
        length = self._frame_end(self._frames) - start
        span = self._buffer[:YIN_CONTEXT + length]
        hop = int(HOP_S * SAMPLE_RATE)
        hops = max(1, length // hop)
        first = YIN_CONTEXT + length - (hops + 2) * hop  # 30 ms windows ending at each hop's end, as the frame's
        windows = np.lib.stride_tricks.sliding_window_view(span[first:], 3 * hop)[::hop][:hops]
        loud = 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1) + 1e-10)
        for value in loud[loud > SILENCE_DB]:
            self.level += LEVEL_STEP_DB if value > self.level else -LEVEL_STEP_DB / 9
        complete = (len(span) - YIN_CONTEXT // 2) // hop + 1  # hops whose centred window lies in what has arrived
        pitch = yin_f0(span, SAMPLE_RATE)[:complete][-hops:]
        voiced = pitch[(pitch > 0) & (loud > max(SILENCE_DB, self.level - 30))]
        loudness = float(10 * np.log10(np.mean(10 ** (loud / 10))))
        floor = max(SILENCE_DB, self.level - 35.0)
        activity = float(np.clip((loudness - floor) / max(self.level - floor, 1e-6), 0, 1))
        self._buffer = self._buffer[length:]
        self._frames += 1
        return FrameSound(loudness, activity, float(np.median(voiced)) if len(voiced) else 0.0)
