"""Head pose and blinks from a transformer VAE over attribute sequences (ICASSP 2023 style).

A window of ``frames`` video frames (25 fps) of the five head channels and both blinks, each divided by its spread
in the training data (``std`` in the config), is summarised by a transformer encoder (the motion tokens plus the
audio tokens of each frame, behind ``latents`` learned query tokens) into a sequence-level latent: ``latents``
tokens of ``latent_dim`` means and log-variances. A transformer decoder rebuilds the sequence from per-frame queries
(audio tokens: prosody and a small mel encoder, :class:`~talkinghead.models.pose_diffusion.AudioEncoder`, plus
sinusoidal positions) attending to the latent tokens; ``prev`` tokens in front hold the last frames of the previous
window, or a learned "no history" embedding. At inference z is drawn from N(0, I) with the seed (same seed, same
motion), and long audio is generated window by window, each continuing and crossfading into the one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from talkinghead.config import option
from talkinghead.models.layers import sinusoids
from talkinghead.models.pose_diffusion import HEAD_CHANNELS, AudioEncoder, autoregressive, scales

BLINK_CHANNELS = ("blink_left", "blink_right")

VAE_CHANNELS = HEAD_CHANNELS + BLINK_CHANNELS


@dataclass
class PoseVAEConfig:
    """Architecture of the pose/blink VAE."""

    dim: int = option(64, "width of the transformer tokens")
    layers: int = option(3, "transformer layers of the encoder, and of the decoder")
    heads: int = option(4, "attention heads")
    latents: int = option(8, "latent tokens per window")
    latent_dim: int = option(8, "dimensions of each latent token")
    dropout: float = option(0.1, "dropout inside the transformer layers")
    frames: int = option(100, "frames per window")
    prev: int = option(10, "frames of the previous window each window is conditioned on (and crossfaded over)")
    std: str = option("", "spread of each channel (head, then blinks), comma separated (empty: measured on the "
                          "training data)")


class PoseVAE(nn.Module):
    """Normalised (B, T, 7) head + blink windows <-> (B, latents, latent_dim) latents, given audio and history."""

    Config: ClassVar[type] = PoseVAEConfig
    channels: ClassVar[tuple[str, ...]] = VAE_CHANNELS

    def __init__(self, config: PoseVAEConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or PoseVAEConfig()
        n = len(self.channels)
        self.register_buffer("std", scales(c.std, n), persistent=False)
        self.register_buffer("positions", sinusoids(torch.arange(c.prev + c.frames), c.dim), persistent=False)
        self.audio = AudioEncoder(c.dim, c.dropout)
        self.motion_in = nn.Linear(n, c.dim)
        self.prev_in = nn.Linear(n, c.dim)
        self.no_prev = nn.Parameter(torch.randn(c.prev, c.dim) * 0.02)
        self.queries = nn.Parameter(torch.randn(c.latents, c.dim) * 0.02)
        self.encoder = nn.TransformerEncoder(self._layer(nn.TransformerEncoderLayer), c.layers,
                                             enable_nested_tensor=False)
        self.stats = nn.Linear(c.dim, 2 * c.latent_dim)
        self.from_z = nn.Linear(c.latent_dim, c.dim)
        self.z_pos = nn.Parameter(torch.randn(c.latents, c.dim) * 0.02)
        self.decoder = nn.TransformerDecoder(self._layer(nn.TransformerDecoderLayer), c.layers)
        self.norm = nn.LayerNorm(c.dim)
        self.out = nn.Linear(c.dim, n)

    def _layer(self, cls: type) -> nn.Module:
        c = self.config
        return cls(c.dim, c.heads, 4 * c.dim, c.dropout, activation="gelu", batch_first=True, norm_first=True)

    def encode(self, x: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance (B, latents, latent_dim) of x (B, T, 7) with audio tokens (B, P + T, dim)."""
        p = self.config.prev
        frames = self.motion_in(x) + audio[:, p:] + self.positions[p:p + x.shape[1]]
        tokens = torch.cat([self.queries.expand(len(x), -1, -1), frames], 1)
        mean, logvar = self.stats(self.encoder(tokens)[:, :self.config.latents]).chunk(2, -1)
        return mean, logvar.clamp(-10, 10)

    def decode(self, z: torch.Tensor, audio: torch.Tensor, prev: torch.Tensor, has_prev: torch.Tensor) -> torch.Tensor:
        """(B, T, 7) from z (B, latents, latent_dim), audio tokens (B, P + T, dim) and previous frames (B, P, 7),
        used where ``has_prev`` (B,) is true."""
        p = self.config.prev
        history = torch.where(has_prev[:, None, None], self.prev_in(prev), self.no_prev[None])
        queries = torch.cat([history, torch.zeros_like(audio[:, p:])], 1) + audio + self.positions[:audio.shape[1]]
        h = self.decoder(queries, self.from_z(z) + self.z_pos)
        return self.out(self.norm(h[:, p:]))

    def forward(self, x: torch.Tensor, mel: torch.Tensor, prosody: torch.Tensor, prev: torch.Tensor,
                has_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction of x (B, T, 7) from a posterior sample, posterior mean, log-variance), with mel
        (B, 80, 4 (P + T)) and prosody (B, 4, P + T) of the previous and current frames."""
        audio = self.audio(mel, prosody)
        mean, logvar = self.encode(x, audio)
        z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)
        return self.decode(z, audio, prev, has_prev), mean, logvar

    @torch.no_grad()
    def generate(self, mel: torch.Tensor, prosody: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """(n, 7) head and blink channels in their units for (80, >= 4 n) normalised mel and (4, n) prosody at 25
        fps, each window decoded from z ~ N(0, I) drawn with ``seed``."""
        c = self.config
        seeds = torch.Generator().manual_seed(seed)

        def window(audio: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
            z = torch.randn(1, c.latents, c.latent_dim, generator=seeds)
            history = prev[None] if prev is not None else torch.zeros(1, c.prev, len(self.channels))
            return self.decode(z, audio, history, torch.tensor([prev is not None]))[0]

        return autoregressive(self, mel, prosody, window) * self.std
