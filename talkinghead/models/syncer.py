"""MS-Sync multi-scale audio-motion syncers: contrastive embeddings of sound and lip motion at several time scales.

Both encoders bring their input to 25 fps features; a pyramid pools them by 1, 2, 4 ... frames and a convolution per
level embeds each position with a context that grows with the level (0.2 s to 0.8 s and more). At every level the
embedding of the lips at a moment must pick out the sound of that moment among all the other moments of the batch
(InfoNCE, both ways). The same model scores a motion against its speech (:func:`talkinghead.motion.syncer.sync_score`, like SyncNet's LSE-C
but on motion) and, frozen, is a training loss for lip generators (:class:`SyncerLoss`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.config import option
from talkinghead.models.layers import ConvBlock
from talkinghead.models.lips_net import LipsNet
from talkinghead.models.weights import load_model


@dataclass
class SyncerConfig:
    """Architecture of the multi-scale syncer."""

    dim: int = option(128, "width of the encoders and embeddings")
    levels: int = option(3, "pyramid levels (pooling by 1, 2, 4 ... frames)")
    temperature: float = option(0.07, "InfoNCE temperature")


class Syncer(nn.Module):
    """Audio (B, 80, 4T) normalised mel and lips (B, 6, T) -> per level, unit embeddings (B, dim, T / 2^level)."""

    Config: ClassVar[type] = SyncerConfig
    channels: ClassVar[tuple[str, ...]] = LipsNet.channels  # the Motion lip channels it reads, in this order

    def __init__(self, config: SyncerConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or SyncerConfig()
        self.audio = nn.Sequential(nn.Conv1d(80, c.dim, 8, stride=4, padding=2), ConvBlock(c.dim, 3, 1),
                                   ConvBlock(c.dim, 3, 2))
        self.motion = nn.Sequential(nn.Conv1d(len(self.channels), c.dim, 3, padding=1), ConvBlock(c.dim, 3, 1),
                                    ConvBlock(c.dim, 3, 2))
        self.audio_levels = nn.ModuleList(nn.Sequential(ConvBlock(c.dim, 5, 1), nn.Conv1d(c.dim, c.dim, 1))
                                          for _ in range(c.levels))
        self.motion_levels = nn.ModuleList(nn.Sequential(ConvBlock(c.dim, 5, 1), nn.Conv1d(c.dim, c.dim, 1))
                                           for _ in range(c.levels))

    @staticmethod
    def _pyramid(x: torch.Tensor, heads: nn.ModuleList) -> list[torch.Tensor]:
        return [F.normalize(head(F.avg_pool1d(x, 2 ** k, ceil_mode=True) if k else x), dim=1)
                for k, head in enumerate(heads)]

    def forward(self, mel: torch.Tensor, lips: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        a = self.audio(mel)[..., :lips.shape[-1]]
        m = self.motion(lips)[..., :a.shape[-1]]
        return self._pyramid(a, self.audio_levels), self._pyramid(m, self.motion_levels)


def info_nce(audio: list[torch.Tensor], motion: list[torch.Tensor], temperature: float) -> torch.Tensor:
    """Mean over levels of the symmetric InfoNCE loss; neighbours within one position of the same window are not
    counted as negatives."""
    losses = []
    for a, m in zip(audio, motion):
        b, d, t = a.shape
        a, m = a.permute(0, 2, 1).reshape(b * t, d), m.permute(0, 2, 1).reshape(b * t, d)
        logits = m @ a.T / temperature
        clip = torch.arange(b, device=a.device).repeat_interleave(t)
        step = torch.arange(t, device=a.device).repeat(b)
        near = (clip[:, None] == clip[None]) & ((step[:, None] - step[None]).abs() == 1)
        logits = logits.masked_fill(near, float("-inf"))
        labels = torch.arange(b * t, device=a.device)
        losses.append((F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2)
    return torch.stack(losses).mean()


class SyncerLoss(nn.Module):
    """A frozen trained syncer as a loss: InfoNCE of generated lips (B, 6, T) against their mel (B, 80, 4T)."""

    def __init__(self, weights: str) -> None:
        super().__init__()
        self.syncer = load_model(Syncer, weights).requires_grad_(False)

    def forward(self, mel: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
        self.syncer.to(lips.device)
        return info_nce(*self.syncer(mel, lips), self.syncer.config.temperature)
