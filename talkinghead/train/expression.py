"""Train the stage-2 blink and brow network (:mod:`talkinghead.motion.learned_expression`) on tracked real clips.

The stage-1 lips network (frozen) gives the lip inputs from each window's sound, as at generation time. The loss is
the binary cross-entropy of the blink-start hazard (starts are rare: weighted up) plus the Gaussian negative
log-likelihood of the brow height, both teacher-forced. After training, the rate at which the network samples
blinks on its clips is measured and stored, so that ``--blink-rate`` can scale the hazard to the rate asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.config import option
from talkinghead.io.video import atomic_output
from talkinghead.models.expression_net import ExpressionNet, ExpressionNetConfig
from talkinghead.models.layers import at_frames
from talkinghead.models.lips_net import HOP_S, MEL_BANDS, LipsNet
from talkinghead.models.weights import load_model
from talkinghead.motion.learned_expression import blink_starts, sample, time_since
from talkinghead.progress import Progress
from talkinghead.train.clips import Clip, MotionWindows
from talkinghead.train.loop import TrainConfig, fit

CHANNELS = ("blink_left", "blink_right", "brow_raise")


@dataclass
class ExpressionTrainConfig(TrainConfig, ExpressionNetConfig):
    """The stage-2 network's architecture and how it is trained."""

    batch_size: int = option(16, "windows per optimizer step, all processes")
    micro_batch: int = option(16, "windows per forward pass (gradients accumulate)")
    steps: int = option(1500, "optimizer steps to train to (a resumed run continues to it)")
    frames: int = option(64, "video frames per training window")
    lips_weights: str = option("lips", "stage-1 lips checkpoint (or shipped name) giving the lip inputs")


def train_expression(data_dir: str | Path, output: str | Path, config: ExpressionTrainConfig | None = None,
                     progress: Progress | None = None) -> dict:
    """Train (or resume training) the stage-2 network on ``data_dir``, checkpointing to ``output``; returns its
    summary."""
    config = config or ExpressionTrainConfig()
    torch.manual_seed(config.seed)
    stage1 = load_model(LipsNet, config.lips_weights).requires_grad_(False)
    data = MotionWindows(data_dir, CHANNELS, config.frames, with_prosody=True, seed=config.seed,
                         with_phones=stage1.config.phones)
    if not config.data_blink_rate:
        starts = sum(len(blink_starts(clip.target[:2].mean(0))) for clip in data.clips)
        config.data_blink_rate = round(starts / (sum(clip.target.shape[1] for clip in data.clips) / 25 / 60), 2)

    def step(net: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        sound, pro, target = batch
        mel, n = sound[:, :MEL_BANDS], target.shape[-1]
        with torch.no_grad():
            lips = at_frames(stage1.to(sound.device).whole(sound), n, 25.0, HOP_S)
        blink = target[:, :2].mean(1).cpu().numpy()
        starts = np.zeros(blink.shape, np.float32)
        gaps = np.zeros(blink.shape, np.float32)
        for b, row in enumerate(blink):
            found = blink_starts(row)
            starts[b, found] = 1
            gaps[b] = time_since(found, n, 25.0)
        brow = target[:, 2]
        feedback = torch.stack([F.pad(brow, (1, 0))[:, :-1], torch.from_numpy(gaps).to(brow)], -1)
        condition = net.module.condition(mel, pro, lips) if hasattr(net, "module") else net.condition(mel, pro, lips)
        out, _ = net(condition, feedback)
        starts_t = torch.from_numpy(starts).to(out)
        hazard = F.binary_cross_entropy_with_logits(out[..., 0], starts_t,
                                                    pos_weight=torch.tensor(config.start_weight, device=out.device))
        brow_nll = F.gaussian_nll_loss(out[..., 1], brow, out[..., 2].exp() ** 2)
        return hazard + brow_nll, {"hazard": hazard.item(), "brow_nll": brow_nll.item()}

    summary = fit(ExpressionNet(config.model), data, step, output, config, progress)
    sampled = None
    if int(os.environ.get("RANK", 0)) == 0:
        sampled = sampled_blink_rate(load_model(ExpressionNet, output), stage1, data.clips)
        state = torch.load(output, map_location="cpu", weights_only=True)
        state["config"]["sampled_blink_rate"] = sampled
        with atomic_output(Path(output)) as tmp:
            torch.save(state, tmp)
    return {**summary, "clips": len(data.clips), "windows": len(data), "blink_rate": config.data_blink_rate,
            "sampled_blink_rate": sampled}


def sampled_blink_rate(net: ExpressionNet, stage1: LipsNet, clips: list[Clip], seeds: int = 3) -> float:
    """Blinks per minute that ``net`` samples unscaled over the whole of ``clips``, ``seeds`` times each (the hazard
    is learned per frame; sampling, with the blink's own length between blinks, turns it into a rate)."""
    starts, minutes = 0, 0.0
    with torch.no_grad():
        for clip in clips:
            sound, n = torch.from_numpy(clip.mel)[None], clip.target.shape[1]
            lips = at_frames(stage1.whole(sound), n, 25.0, HOP_S)
            condition = net.condition(sound[:, :MEL_BANDS], torch.from_numpy(clip.prosody)[None], lips)
            for seed in range(seeds):
                blink, _ = sample(net, condition, np.random.default_rng(seed))
                starts += len(blink_starts(blink))
                minutes += n / 25 / 60
    return round(starts / max(minutes, 1e-9), 2)
