"""Train the MS-Sync multi-scale syncer (:mod:`talkinghead.motion.syncer`) on clips with lip channels.

Each window's lips must pick out their own sound among every moment of every window in the batch, at each pyramid
level (InfoNCE); large batches give more negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from talkinghead.config import option
from talkinghead.models.syncer import Syncer, SyncerConfig, info_nce
from talkinghead.motion.channels import LIP_CHANNELS
from talkinghead.progress import Progress
from talkinghead.train.clips import MotionWindows
from talkinghead.train.loop import TrainConfig, fit


@dataclass
class SyncerTrainConfig(TrainConfig, SyncerConfig):
    """The syncer's architecture and how it is trained."""

    batch_size: int = option(32, "windows per optimizer step, all processes")
    micro_batch: int = option(32, "windows per forward pass (its windows are each other's negatives)")
    steps: int = option(1500, "optimizer steps to train to (a resumed run continues to it)")
    frames: int = option(32, "video frames per training window")


def train_syncer(data_dir: str | Path, output: str | Path, config: SyncerTrainConfig | None = None,
                 progress: Progress | None = None) -> dict:
    """Train (or resume training) the syncer on ``data_dir``, checkpointing to ``output``; returns a summary."""
    config = config or SyncerTrainConfig()
    torch.manual_seed(config.seed)
    data = MotionWindows(data_dir, LIP_CHANNELS, config.frames, seed=config.seed)

    def step(net: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        mel, _, lips = batch
        audio, motion = net(mel, lips)
        hits = [(m.permute(0, 2, 1).flatten(0, 1) @ a.permute(0, 2, 1).flatten(0, 1).T).argmax(1)
                for a, m in zip(audio, motion)]
        accuracy = sum((h == torch.arange(len(h), device=h.device)).float().mean().item() for h in hits) / len(hits)
        return info_nce(audio, motion, config.temperature), {"accuracy": accuracy}

    summary = fit(Syncer(config.model), data, step, output, config, progress)
    return {**summary, "clips": len(data.clips), "windows": len(data)}
