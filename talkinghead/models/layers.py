"""Building blocks the learned motion models share: audio inputs, frame sampling, convolution and conformer blocks."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.signal import lfilter
from torch import nn
from torch.nn import functional as F

from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.signal import HOP_S

MEL_RANGE = 9.0  # natural-log units (39 dB) below the utterance's loud frames that the models see


def mel_features(mel: np.ndarray) -> torch.Tensor:
    """(80, T) log-mel at 100 Hz, normalised per utterance.

    Levels more than :data:`MEL_RANGE` below the loud frames (99th percentile) are raised to that floor, so the
    noise floor of a recording matters little; then the mean per bin is removed and the overall deviation scaled to 1.
    """
    mel = np.asarray(mel, np.float32)
    floor = np.percentile(mel, 99) - MEL_RANGE if mel.size else 0.0
    x = torch.as_tensor(np.maximum(mel, floor)).T
    x = x - x.mean(1, keepdim=True)
    return x / x.std().clamp_min(1e-3)


def peak_level(values: np.ndarray, previous: float, release: float) -> np.ndarray:
    """Per row the running peak of (T,) ``values``: each new value or the last peak less ``release`` (per row), the
    greater; ``previous`` is the peak before row 0 (-inf: none)."""
    rows = np.arange(len(values))
    return np.maximum(previous - release * (rows + 1), np.maximum.accumulate(values + release * rows) - release * rows)


class CausalMelNorm:
    """:func:`mel_features` from the past only, its state carried from call to call (streaming): the floor
    :data:`MEL_RANGE` below a running peak of the rows' loudest bin (released by ``release`` nats per second), then
    per bin an exponential mean and overall an exponential deviation over about ``memory_s`` seconds."""

    def __init__(self, memory_s: float = 3.0, release: float = 1.0) -> None:
        self.decay, self.release = math.exp(-HOP_S / memory_s), release * HOP_S
        self.peak, self.sums, self.squares, self.rows = -np.inf, np.zeros(1), np.zeros(1), 0  # before row 0

    def __call__(self, mel: np.ndarray) -> torch.Tensor:
        """(T, 80) log-mel rows at 100 Hz, the next ones of the stream -> (80, T) normalised."""
        mel = np.asarray(mel, np.float64)
        if not len(mel):
            return torch.zeros(mel.shape[1], 0)
        peaks = peak_level(mel.max(1), self.peak, self.release)
        x = np.maximum(mel, peaks[:, None] - MEL_RANGE)
        weight = (1 - self.decay ** (self.rows + 1 + np.arange(len(x))))[:, None] / (1 - self.decay)
        start = np.broadcast_to(self.decay * self.sums, (1, x.shape[1]))
        sums = lfilter([1.0], [1.0, -self.decay], x, axis=0, zi=start)[0]
        deviation = x - sums / weight
        squares = lfilter([1.0], [1.0, -self.decay], (deviation ** 2).mean(1), zi=self.decay * self.squares)[0]
        self.peak, self.sums, self.squares, self.rows = peaks[-1], sums[-1], squares[-1:], self.rows + len(x)
        scale = np.sqrt(np.maximum(squares / weight[:, 0], 1e-6))
        return torch.as_tensor((deviation / scale[:, None]).T, dtype=torch.float32)


PHONE_FLOOR = -15.0  # natural-log phone posteriors below this are raised to it


def phone_features(log_posteriors: np.ndarray, rows: int) -> torch.Tensor:
    """(T, 42) phone log posteriors at 100 Hz (:mod:`talkinghead.audio.phone_posteriors`) -> (42, ``rows``), about
    -1.5..1.5, the last row repeated or cut so that they line up with the mel's rows."""
    x = np.maximum(np.asarray(log_posteriors, np.float32), PHONE_FLOOR) / 5.0 + 1.5
    return torch.as_tensor(edge_padded(x.T, 0, rows))


def sound_input(mel: np.ndarray, phone_posteriors: np.ndarray | None = None, causal: bool = False) -> torch.Tensor:
    """(80 (+ 42), T_mel) rows a model reads: the normalised mel (:func:`mel_features`, or :class:`CausalMelNorm`
    from the start when ``causal``), over the phone features (:func:`phone_features`) when ``phone_posteriors`` are
    given."""
    x = CausalMelNorm()(mel) if causal else mel_features(mel)
    return x if phone_posteriors is None else torch.cat([x, phone_features(phone_posteriors, x.shape[1])])


def at_frames(x: torch.Tensor, n_frames: int, fps: float, hop_s: float = HOP_S) -> torch.Tensor:
    """(B, C, T) series, column j at j * ``hop_s`` seconds -> (B, C, n_frames), linearly interpolated at the video
    frames' centres."""
    pos = ((torch.arange(n_frames, device=x.device) + 0.5) / fps / hop_s).clamp(0, x.shape[-1] - 1)
    low = pos.floor().long()
    high = (low + 1).clamp(max=x.shape[-1] - 1)
    w = (pos - low).to(x.dtype)
    return x[..., low] * (1 - w) + x[..., high] * w


def sinusoids(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(N,) positions or diffusion steps -> (N, dim) sinusoidal encoding (sines, then cosines)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos(), torch.zeros(len(positions), dim - 2 * half,
                                                              device=positions.device)], 1)


def edge_padded(x, a: int, b: int):  # noqa: ANN001, ANN201 - a numpy array or a tensor, returned as it came
    """Columns ``a``..``b`` of (..., T) ``x``, the first/last column repeated beyond its ends."""
    return x[..., np.clip(np.arange(a, b), 0, x.shape[-1] - 1)]


def resample_frames(values: np.ndarray, fps: float, n_frames: int, to_fps: float) -> np.ndarray:
    """(T, C) per-frame values at ``fps`` -> (n_frames, C) at ``to_fps``, linearly interpolated in time."""
    t = np.arange(n_frames) / to_fps * fps
    return np.stack([np.interp(t, np.arange(len(values)), v) for v in np.asarray(values).T], 1)


def prosody(features: AudioFeatures) -> np.ndarray:
    """(n_frames, 4) per video frame: activity, pitch in octaves about the median, voicing, activity change."""
    activity = features.activity
    f0 = features.f0
    voiced = f0 > 0
    octaves = np.where(voiced, np.log2(np.maximum(f0, 1) / (np.median(f0[voiced]) if voiced.any() else 1)), 0)
    return np.stack([activity, octaves, voiced, np.gradient(activity)], 1).astype(np.float32)


class PaddedConv1d(nn.Conv1d):
    """:class:`~torch.nn.Conv1d` zero-padded by ``pad`` = (left, right) columns (right 0: causal)."""

    def __init__(self, *args, pad: tuple[int, int], **kwargs) -> None:  # noqa: ANN002, ANN003 - Conv1d's
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pad))


class StepNorm(nn.LayerNorm):
    """Layer norm of (B, C, T) over the channels of each time step alone (no pooling over time: streamable)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ConvBlock(nn.Module):
    """Residual dilated 1D convolution: norm, conv, GELU, conv.

    ``lookahead`` None: centred, normalised over the whole input (GroupNorm); else the convolution reads that many
    columns ahead and the rest behind, normalised per time step (:class:`StepNorm`)."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float = 0.0,
                 lookahead: int | None = None) -> None:
        super().__init__()
        span = dilation * (kernel - 1)
        pad = (span // 2, span // 2) if lookahead is None else (span - lookahead, lookahead)
        norm = nn.GroupNorm(1, channels) if lookahead is None else StepNorm(channels)
        self.net = nn.Sequential(norm, PaddedConv1d(channels, channels, kernel, dilation=dilation, pad=pad),
                                 nn.GELU(), nn.Dropout(dropout),
                                 nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class ConformerBlock(nn.Module):
    """Conformer layer (Gulati et al. 2020): half feed-forward, self-attention, depthwise convolution, half
    feed-forward.

    ``condition`` (B, D) or (B, T, D), when given, shifts and scales the normalised input of each module (FiLM).
    """

    def __init__(self, dim: int, heads: int, kernel: int = 15, dropout: float = 0.1) -> None:
        super().__init__()
        self.ff1, self.ff2 = (nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Dropout(dropout),
                                            nn.Linear(4 * dim, dim)) for _ in range(2))
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.conv_norm = nn.LayerNorm(dim)
        depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.conv = nn.Sequential(nn.Conv1d(dim, 2 * dim, 1), nn.GLU(1), depthwise, nn.GroupNorm(1, dim), nn.SiLU(),
                                  nn.Conv1d(dim, dim, 1))
        self.film = nn.Linear(dim, 2 * dim)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, dim) -> (B, T, dim)."""
        scale, shift = (self.film(condition).chunk(2, -1) if condition is not None else (0.0, 0.0))
        if isinstance(scale, torch.Tensor) and scale.dim() == 2:
            scale, shift = scale[:, None], shift[:, None]
        x = x + 0.5 * self.ff1(x * (1 + scale) + shift)
        h = self.attn_norm(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.conv(self.conv_norm(x).transpose(1, 2)).transpose(1, 2)
        x = x + 0.5 * self.ff2(x * (1 + scale) + shift)
        return self.out_norm(x)
