"""Learned lips while the sound arrives (live streaming), and the ``causal`` lips generator that streams a whole file.

The causal lips network (:class:`~talkinghead.models.lips_net.LipsNet` trained with ``lookahead_ms``) reads each
chunk's new mel rows, normalised from the past (:class:`~talkinghead.models.layers.CausalMelNorm`), and, when it
was trained with them, the live phone posteriors (:class:`~talkinghead.audio.phone_posteriors.LivePhonePosteriors`);
a frame is emitted once the sound its convolutions read ahead (and those rows' deltas) has arrived. Only the rows
that later frames still read are kept, so cost per chunk and memory stay flat. The lips rest in silence by a causal
:func:`learned_lips.sound_gate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from talkinghead.audio.decode import SAMPLE_RATE
from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.phone_posteriors import PHONES, LivePhonePosteriors
from talkinghead.audio.signal import SILENCE_DB, mel_of_frames, mel_sizes
from talkinghead.errors import InputError
from talkinghead.models.layers import CausalMelNorm, edge_padded, peak_level, phone_features
from talkinghead.models.lips_net import HOP_S, MEL_BANDS, ROW_S, LipsNet
from talkinghead.models.weights import shared_model
from talkinghead.motion.channels import CHANNELS
from talkinghead.motion.learned_lips import GATE_REACH_S
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import LipsWeights
from talkinghead.motion.registry import Generator, GeneratorConfig, register

HOP = int(ROW_S * SAMPLE_RATE)  # samples per mel row
LEVEL_RELEASE_DB = 0.06  # the running speech level (peak loudness) falls by this per row (6 dB/s)


class StreamingLips:
    """16 kHz mono samples in chunks of any size -> (k, 6) rows of :attr:`channels` (within their ranges), one per
    video frame."""

    channels: tuple[str, ...] = LipsNet.channels

    def __init__(self, weights: str | None = None, fps: float = 25.0) -> None:
        self.net = shared_model(LipsNet, weights or "lips_causal")
        if not self.net.config.causal:
            raise InputError(weights, "not a causal lips checkpoint (trained without --lookahead-ms)")
        self.fps = fps
        self.ahead = self.net.config.lookahead_rows
        self.behind = self.net.config.reach_rows + self.net.config.reach_rows % 2  # even: the stem halves the rate
        self.gate_reach = int(round(GATE_REACH_S / ROW_S))
        self.win, self.n_fft = mel_sizes(SAMPLE_RATE)
        self.phones = self.net.config.phones
        self.row_ahead = max(self.win - self.n_fft // 2, LivePhonePosteriors.ahead_samples * self.phones)  # samples
        self._ranges = np.array([(CHANNELS[c].low, CHANNELS[c].high) for c in self.channels], np.float32).T
        self.reset()

    def reset(self) -> None:
        """Forget the sound so far: the next sample pushed is the start of a new stream."""
        self._pending = np.zeros(self.n_fft // 2, np.float32)  # sound from row `_rows`'s frame on (centred frames)
        self._received = self._rows = self._first = self._frames = 0  # samples, rows made, first row kept, frames
        self._norm, self._level, self._ended = CausalMelNorm(), -np.inf, False
        self._sound = torch.zeros(MEL_BANDS, 0)  # normalised mel rows from row `_first`
        self._live = LivePhonePosteriors() if self.phones else None
        self._phones = torch.zeros(len(PHONES) * self.phones, 0)  # phone features (if any) from row `_first`
        self._active = np.zeros(0, bool)  # whether each row is sound above silence, from row `_first`

    @property
    def lookahead_s(self) -> float:
        """Seconds of sound past a frame's end needed before the frame is emitted (the most over a second's frames)."""
        return max(self._needed(i) / SAMPLE_RATE - (i + 1) / self.fps for i in range(int(np.ceil(self.fps))))

    def push(self, samples: np.ndarray) -> np.ndarray:
        """(k, 6) lip rows of the next k frames that the sound so far decides, in order."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        self._received += len(samples)
        self._pending = np.concatenate([self._pending, samples])
        self._add_rows((len(self._pending) - self.win) // HOP + 1)
        self._add_phones(self._live.push(samples) if self.phones else None)
        frames = 0
        while self._needed(self._frames + frames) <= self._received:
            frames += 1
        return self._emit(frames)

    def flush(self) -> np.ndarray:
        """The remaining frames, the sound's end repeated as what comes after it; then :meth:`reset`."""
        rows = max(1, -(-self._received // HOP))  # as many as the whole sound's mel
        self._pending = np.concatenate([self._pending, np.zeros((rows - self._rows) * HOP + self.n_fft, np.float32)])
        self._add_rows(rows - self._rows)
        self._add_phones(self._live.flush() if self.phones else None)
        self._ended = True
        out = self._emit(max(1, int(round(self._received / SAMPLE_RATE * self.fps))) - self._frames)
        self.reset()
        return out

    def _position(self, frame: int) -> float:
        """Where a frame's centre falls in the network's output columns (as :func:`~talkinghead.models.layers.at_frames`
        puts it)."""
        return (frame + 0.5) / self.fps / HOP_S

    def _last_column(self, frame: int) -> int:
        """The last output column a frame's lips are interpolated from (a column's rounding error is no column)."""
        return int(np.ceil(self._position(frame) - 1e-9))

    def _needed(self, frame: int) -> int:
        """Samples the sound must reach before ``frame`` is decided: its last column's look-ahead, mel-framed."""
        return (2 * self._last_column(frame) + self.ahead) * HOP + self.row_ahead

    def _add_rows(self, count: int) -> None:
        """Analyse the next ``count`` rows of pending sound: mel (normalised), loudness; drop what they used up."""
        if count <= 0:
            return
        sound = np.concatenate([self._pending[:(count - 1) * HOP + self.win], np.zeros(self.n_fft - self.win,
                                                                                      np.float32)])
        frames = np.lib.stride_tricks.sliding_window_view(sound, self.n_fft)[::HOP][:count]
        self._pending = self._pending[count * HOP:]
        self._rows += count
        loudness = 10 * np.log10((frames[:, :self.win].astype(np.float64) ** 2).mean(1) + 1e-10)
        levels = peak_level(loudness, self._level, LEVEL_RELEASE_DB)
        self._level = levels[-1]
        floor = np.maximum(SILENCE_DB, levels - 35.0)
        self._active = np.concatenate([self._active, loudness > floor + 0.05 * (levels - floor)])
        self._sound = torch.cat([self._sound, self._norm(mel_of_frames(frames, SAMPLE_RATE))], 1)

    def _add_phones(self, log_posteriors: np.ndarray | None) -> None:
        """Append the live front end's next rows (None: the network reads no phones)."""
        if log_posteriors is not None and len(log_posteriors):
            self._phones = torch.cat([self._phones, phone_features(log_posteriors, len(log_posteriors))], 1)

    def _emit(self, count: int) -> np.ndarray:
        """The next ``count`` frames' lips (their rows must have arrived, or the sound ended), gated by the sound."""
        if count <= 0:
            return np.zeros((0, len(self.channels)), np.float32)
        pos = self._position(np.arange(self._frames, self._frames + count))
        low, high = int(np.floor(pos[0])), self._last_column(self._frames + count - 1)
        start = 2 * low - self.behind
        end = 2 * high + self.ahead + 1 - self._first
        rows = [self._sound, self._phones] if self.phones else [self._sound]
        window = torch.cat([edge_padded(x, start - self._first, end) for x in rows])
        with torch.no_grad():
            columns = self.net(window[None])[0, :, self.behind // 2:self.behind // 2 + high - low + 1].numpy()
        at = pos - low
        left = np.floor(at).astype(int)
        right = np.minimum(left + 1, columns.shape[1] - 1)
        w = (at - left)[None]
        lips = (columns[:, left] * (1 - w) + columns[:, right] * w) * self._gate(np.round(2 * pos).astype(int))
        self._frames += count
        keep = 2 * int(np.floor(self._position(self._frames))) - max(self.behind, 2 * self.gate_reach)
        if keep > self._first:
            drop = keep - self._first
            self._sound, self._phones, self._active = self._sound[:, drop:], self._phones[:, drop:], self._active[drop:]
            self._first = keep
        return np.clip(lips.T, *self._ranges).astype(np.float32)

    def _gate(self, rows: np.ndarray) -> np.ndarray:
        """Per row 0..1: the share of the last :data:`GATE_REACH_S` whose rows have sound within that reach behind or
        the look-ahead in front (lips rest in longer silences); before the sound, its first row repeated."""
        reach, ahead = self.gate_reach, min(self.gate_reach, self.ahead)
        start = rows[0] - 2 * reach
        active = edge_padded(self._active, start - self._first, rows[-1] + ahead + 1 - self._first)
        near = np.lib.stride_tricks.sliding_window_view(active, reach + ahead + 1).max(1)  # near[j]: row start+reach+j
        return np.stack([near[r - start - 2 * reach:r - start - reach + 1].mean() for r in rows]).astype(np.float32)


@dataclass
class CausalLipsConfig(GeneratorConfig, LipsWeights):
    """Which weights the causal lips use (None: the shipped ``assets/lips_causal.pt``)."""


@register
class CausalLips(Generator):
    """The streaming lips over a whole sound, as they come out live (the same frames for any chunking)."""

    kind: ClassVar[str] = "lips"
    name: ClassVar[str] = "causal"
    Config: ClassVar[type] = CausalLipsConfig

    def generate(self, features: AudioFeatures) -> Motion:
        """Lip channels for every video frame of ``features``, pushed as one chunk."""
        stream = StreamingLips(self.config.lips_weights, features.fps)
        lips = np.concatenate([stream.push(features.audio.samples), stream.flush()])
        return Motion(features.fps).update(**{name: lips[:, j] for j, name in enumerate(StreamingLips.channels)})
