"""Head pose by conditional diffusion (GoHD, DAE-Talker): diverse, rhythm-aware head motion sampled from the sound.

A conformer denoiser (:class:`~talkinghead.models.layers.ConformerBlock`) runs over one token per video frame (25
fps) of the noisy five head channels, each channel divided by its spread in the training data (``std`` in the
config). Every frame is conditioned on the audio (the prosody of :func:`~talkinghead.models.layers.prosody` and a
small convolution encoder of the mel pooled to 25 fps), added to its token and, with the diffusion step's sinusoidal
embedding, shifting and scaling each block's input (FiLM). ``prev`` tokens in front hold the last frames of the
previous window, or a learned "no history" embedding (training drops them at random), so that windows continue
each other. The network predicts the clean sequence (x0) under a cosine noise schedule of ``timesteps`` steps;
sampling is deterministic DDIM in a few steps from seeded noise: the same seed gives the same motion, other
seeds other, equally plausible motion.

Long audio is generated window by window (``frames`` frames, 4 s), each conditioned on the end of the one before
and crossfaded with it over ``prev`` frames. The shipped weights (``assets/pose_diffusion.pt``) are trained by
``talkinghead train pose`` (:mod:`talkinghead.train.pose`) on clips with tracked head motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.audio.features import AudioFeatures
from talkinghead.config import option
from talkinghead.models.layers import (ConformerBlock, ConvBlock, edge_padded, mel_features, prosody, resample_frames,
                                       sinusoids)

HEAD_CHANNELS = ("head_yaw", "head_pitch", "head_roll", "head_x", "head_y")

MIRRORED = ("head_yaw", "head_roll", "head_x")  # change sign when the face is mirrored left-right

FPS = 25.0  # the models' frame rate

ROWS = 4  # mel rows (100 Hz) per frame

CLIP = 5.0  # predicted clean values are clipped to this many spreads while sampling


@dataclass
class PoseDiffusionConfig:
    """Architecture of the pose diffusion model."""

    dim: int = option(64, "width of the conformer tokens")
    layers: int = option(4, "conformer blocks")
    heads: int = option(4, "attention heads")
    kernel: int = option(15, "depthwise convolution kernel of the blocks (frames)")
    dropout: float = option(0.1, "dropout inside the blocks")
    frames: int = option(100, "frames per generated window")
    prev: int = option(10, "frames of the previous window each window is conditioned on (and crossfaded over)")
    timesteps: int = option(1000, "diffusion steps of the noise schedule")
    std: str = option("", "spread of each head channel, comma separated (empty: measured on the training data)")


def scales(std: str, count: int) -> torch.Tensor:
    """The ``count`` comma-separated spreads of ``std`` as a tensor (ones when empty)."""
    values = [float(v) for v in std.split(",")] if std else [1.0] * count
    if len(values) != count:
        raise ValueError(f"std holds {len(values)} values, expected {count}")
    return torch.tensor(values, dtype=torch.float32)


def format_std(values: np.ndarray) -> str:
    """Per-channel spreads as the config's comma-separated string (floored so that none is zero)."""
    return ",".join(f"{max(float(v), 1e-3):.4g}" for v in values)


def cosine_alpha_bar(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """ᾱ_t for t = 0..timesteps-1 of the cosine schedule (Nichol & Dhariwal 2021), betas clipped at 0.999."""
    t = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


class AudioEncoder(nn.Module):
    """(B, 80, 4 T) normalised mel at 100 Hz and (B, 4, T) prosody -> (B, T, dim) per-frame audio tokens."""

    def __init__(self, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        width = max(32, dim // 2)
        self.mel = nn.Sequential(nn.Conv1d(80, width, 3, padding=1), nn.GELU(), ConvBlock(width, 3, 1, dropout),
                                 ConvBlock(width, 3, 2, dropout))
        self.prosody = nn.Sequential(nn.Conv1d(4, width, 3, padding=1), nn.GELU())
        self.out = nn.Conv1d(2 * width, dim, 3, padding=1)

    def forward(self, mel: torch.Tensor, prosody: torch.Tensor) -> torch.Tensor:
        frames = prosody.shape[-1]
        pooled = F.avg_pool1d(self.mel(mel[..., :frames * ROWS]), ROWS)
        return self.out(torch.cat([pooled, self.prosody(prosody)], 1)).transpose(1, 2)


class PoseDiffusion(nn.Module):
    """The denoiser: noisy normalised pose (B, T, 5) + step + audio + previous frames -> clean pose (B, T, 5)."""

    Config: ClassVar[type] = PoseDiffusionConfig
    channels: ClassVar[tuple[str, ...]] = HEAD_CHANNELS

    def __init__(self, config: PoseDiffusionConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or PoseDiffusionConfig()
        n = len(self.channels)
        self.register_buffer("std", scales(c.std, n), persistent=False)
        self.register_buffer("alpha_bar", cosine_alpha_bar(c.timesteps), persistent=False)
        self.audio = AudioEncoder(c.dim, c.dropout)
        self.pose_in = nn.Linear(n, c.dim)
        self.prev_in = nn.Linear(n, c.dim)
        self.no_prev = nn.Parameter(torch.randn(c.prev, c.dim) * 0.02)
        self.role = nn.Parameter(torch.randn(2, c.dim) * 0.02)  # previous frames, frames to denoise
        self.time = nn.Sequential(nn.Linear(c.dim, c.dim), nn.SiLU(), nn.Linear(c.dim, c.dim))
        self.blocks = nn.ModuleList(ConformerBlock(c.dim, c.heads, c.kernel, c.dropout) for _ in range(c.layers))
        self.out = nn.Linear(c.dim, n)
        nn.init.zeros_(self.out.weight)  # an untrained model predicts the mean (rest) pose
        nn.init.zeros_(self.out.bias)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, audio: torch.Tensor, prev: torch.Tensor,
                has_prev: torch.Tensor) -> torch.Tensor:
        """x0 estimate (B, T, 5) from x_t (B, T, 5) at steps t (B,), audio tokens (B, P + T, dim) of
        :attr:`audio`, previous frames (B, P, 5), used where ``has_prev`` (B,) is true."""
        p = self.config.prev
        history = torch.where(has_prev[:, None, None], self.prev_in(prev), self.no_prev[None])
        tokens = torch.cat([history + self.role[0], self.pose_in(x_t) + self.role[1]], 1) + audio
        condition = audio + self.time(sinusoids(t, self.config.dim))[:, None]
        for block in self.blocks:
            tokens = block(tokens, condition)
        return self.out(tokens[:, p:])

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, mel: torch.Tensor, prosody: torch.Tensor,
                prev: torch.Tensor, has_prev: torch.Tensor) -> torch.Tensor:
        """x0 estimate from x_t, with mel (B, 80, 4 (P + T)) and prosody (B, 4, P + T) of the previous and current
        frames."""
        return self.denoise(x_t, t, self.audio(mel, prosody), prev, has_prev)

    @torch.no_grad()
    def sample(self, audio: torch.Tensor, prev: torch.Tensor, has_prev: torch.Tensor, steps: int,
               generator: torch.Generator) -> torch.Tensor:
        """DDIM (η = 0) in ``steps`` steps: (B, T, 5) normalised pose for audio tokens (B, P + T, dim)."""
        b, t_frames = len(audio), audio.shape[1] - self.config.prev
        x = torch.randn(b, t_frames, len(self.channels), generator=generator).to(audio.device)
        ts = torch.linspace(self.config.timesteps - 1, 0, max(1, steps)).round().long().unique_consecutive()
        for i, t in enumerate(ts):
            ab = self.alpha_bar[t]
            x0 = self.denoise(x, t.expand(b).to(audio.device), audio, prev, has_prev).clamp(-CLIP, CLIP)
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt().clamp_min(1e-4)
            ab_next = self.alpha_bar[ts[i + 1]] if i + 1 < len(ts) else torch.ones((), device=x.device)
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
        return x

    @torch.no_grad()
    def generate(self, mel: torch.Tensor, prosody: torch.Tensor, steps: int = 12, seed: int = 0) -> torch.Tensor:
        """(n, 5) head channels in their units for (80, >= 4 n) normalised mel and (4, n) prosody at 25 fps."""
        c = self.config
        seeds = torch.Generator().manual_seed(seed)

        def window(audio: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
            history = prev[None] if prev is not None else torch.zeros(1, c.prev, len(self.channels))
            return self.sample(audio, history, torch.tensor([prev is not None]), steps, seeds)[0]

        return autoregressive(self, mel, prosody, window) * self.std


def autoregressive(model: nn.Module, mel: torch.Tensor, prosody: torch.Tensor, window) -> torch.Tensor:
    """Run ``window(audio tokens (1, P + W, dim), previous frames (P, C) or None) -> (W, C)`` over the whole
    sound, ``W - P`` frames apart, each window crossfaded over its first P frames with the one before; (n, C)."""
    w, p = model.config.frames, model.config.prev
    n = prosody.shape[-1]
    hop = max(1, w - p)
    starts = list(range(0, max(1, n - p), hop)) if n > w else [0]
    total = starts[-1] + w
    # audio of frames -p .. total, the first and last columns repeated beyond the sound's ends
    mel = edge_padded(mel[:, :n * ROWS], -p * ROWS, total * ROWS)
    pro = edge_padded(prosody, -p, total)
    out = torch.zeros(total, len(model.channels))
    ramp = torch.linspace(0, 1, p + 2)[1:-1, None]
    model.eval()
    for k, s in enumerate(starts):
        audio = model.audio(mel[None, :, s * ROWS:(s + p + w) * ROWS], pro[None, :, s:s + p + w])
        x = window(audio, out[s - p:s] if k else None)
        if k:
            out[s:s + p] = (1 - ramp) * out[s:s + p] + ramp * x[:p]
            out[s + p:s + w] = x[p:]
        else:
            out[:w] = x
    return out[:n]


def audio_inputs(features: AudioFeatures) -> tuple[torch.Tensor, torch.Tensor, AudioFeatures]:
    """(normalised mel (80, 4 n), prosody (4, n), the 25 fps features they come from) for ``features``."""
    f = features if round(features.fps, 3) == FPS else AudioFeatures(features.audio, FPS, features.transcript)
    mel = mel_features(f.mel)
    mel = edge_padded(mel, 0, f.n_frames * ROWS)
    return mel, torch.from_numpy(prosody(f).T.copy()), f


def at_fps(values: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """(n25, C) values at 25 fps linearly resampled to ``n_frames`` frames at ``fps``."""
    if len(values) == n_frames and round(fps, 3) == FPS:
        return values
    return resample_frames(values, FPS, n_frames, fps)
