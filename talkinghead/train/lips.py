"""Train the stage-1 lips network (:mod:`talkinghead.motion.learned_lips`) on clips with lip channels.

The clips can be synthetic (``talkinghead synth``, exact labels) or prepared from real video (``talkinghead
prepare``, tracked lips), or both (comma-separated folders); ``teacher_data`` adds sound files labelled by a teacher,
the offline learned lips (distillation: a causal student learns what they make of real voices). The loss is the L1
distance of the lip channels and of their frame-to-frame change, on augmented sound (:func:`spec_augment`), plus,
when ``syncer`` names a trained MS-Sync syncer, its contrastive sync loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.config import option
from talkinghead.models.layers import at_frames
from talkinghead.models.lips_net import HOP_S, MEL_BANDS, LipsNet, LipsNetConfig
from talkinghead.motion.channels import LIP_CHANNELS
from talkinghead.progress import Progress
from talkinghead.train.clips import ROWS, MotionWindows, teacher_clips
from talkinghead.train.loop import TrainConfig, fit


@dataclass
class LipsTrainConfig(TrainConfig, LipsNetConfig):
    """The lips network's architecture and how it is trained."""

    batch_size: int = option(32, "windows per optimizer step, all processes")
    micro_batch: int = option(32, "windows per forward pass (gradients accumulate)")
    phones: bool = option(True, "also see the acoustic model's 42 phone posteriors per 10 ms")
    steps: int = option(3000, "optimizer steps to train to (a resumed run continues to it)")
    frames: int = option(40, "video frames per training window")
    velocity_weight: float = option(1.0, "weight of the frame-to-frame change in the loss")
    spec_augment: bool = option(True, "SpecAugment: warp the mel bands, colour them, mask bands and times")
    syncer: str | None = option(None, "MS-Sync syncer checkpoint (or shipped name) adding its sync loss",
                                metavar="FILE")
    sync_weight: float = option(0.1, "weight of the syncer's loss")
    teacher: str = option("lips", "offline lips checkpoint (or shipped name) whose lips label --teacher-data",
                          metavar="FILE")
    teacher_data: str | None = option(None, "sound files or folders of them (comma-separated, FILE*N or DIR*N counts "
                                      "them N times) labelled by --teacher, beside --data", metavar="FILES")
    av_offset: bool = option(False, "move real clips' motion by the audio-visual offset `prepare` measured (default: "
                             "as recorded, so that the lips learn their own lead over the sound)")


def motion_loss(pred: torch.Tensor, target: torch.Tensor, velocity_weight: float) -> torch.Tensor:
    """L1 of (B, C, T) values plus ``velocity_weight`` x L1 of their frame-to-frame change."""
    return F.l1_loss(pred, target) + velocity_weight * F.l1_loss(pred.diff(dim=-1), target.diff(dim=-1))


def spec_augment(sound: torch.Tensor, generator: torch.Generator, warp: tuple[float, float] = (0.78, 1.1),
                 max_tilt: float = 0.6, masks: int = 2, max_width: int = 10, bands: int = MEL_BANDS) -> torch.Tensor:
    """(B, rows, T) network input, its first ``bands`` rows the normalised mel, each item drawn apart: the mel's bands
    read from ``warp`` times their index (below 1 the spectrum moves up: shorter vocal tracts, as women's and
    children's), a random smooth gain curve of up to ``max_tilt`` added over them (microphones and voices colour the
    spectrum) and ``masks`` band stripes up to ``max_width`` wide set to 0 (the mean); then as many time stripes of
    every row."""
    mel = sound[:, :bands]
    b, _, t = mel.shape
    factor = warp[0] + torch.rand(b, generator=generator) * (warp[1] - warp[0])
    source = (torch.arange(bands)[None] * factor[:, None]).clamp(0, bands - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=bands - 1)
    w = (source - low)[..., None].to(mel)
    pick = lambda rows: torch.gather(mel, 1, rows[..., None].expand(b, bands, t).to(mel.device))  # noqa: E731
    out = pick(low) * (1 - w) + pick(high) * w
    phase = torch.rand(b, 3, 1, generator=generator) * 2 * torch.pi
    cycles = torch.tensor([0.5, 1.0, 2.0])[None, :, None]
    curve = (torch.cos(cycles * torch.pi * torch.linspace(0, 1, bands)[None, None] + phase)
             * torch.rand(b, 3, 1, generator=generator)).sum(1) * max_tilt / 3
    out = torch.cat([out + curve[..., None].to(mel), sound[:, bands:]], 1)
    for size, axis in ((bands, 1), (t, 2)):
        for _ in range(masks):
            width = torch.randint(0, max_width + 1, (b,), generator=generator)
            start = (torch.rand(b, generator=generator) * (size - width)).long()
            index = torch.arange(out.shape[axis])[None]
            hit = ((index >= start[:, None]) & (index < (start + width)[:, None])).to(mel.device)
            out = out.masked_fill(hit[:, :, None] if axis == 1 else hit[:, None, :], 0.0)
    return out


def train_lips(data_dir: str | Path, output: str | Path, config: LipsTrainConfig | None = None,
               progress: Progress | None = None) -> dict:
    """Train (or resume training) the lips network on ``data_dir``, checkpointing to ``output``; returns a summary."""
    config = config or LipsTrainConfig()
    torch.manual_seed(config.seed)
    context = -(-config.reach_rows // ROWS)  # frames of sound on each side of a window: its edge frames see it all
    taught = (teacher_clips(config.teacher_data, config.teacher, LIP_CHANNELS, config.phones, config.causal)
              if config.teacher_data else [])
    data = MotionWindows(data_dir, LIP_CHANNELS, config.frames, context, seed=config.seed, with_phones=config.phones,
                        av_offset=config.av_offset, causal=config.causal, clips=taught)
    syncer = None
    if config.syncer:
        from talkinghead.models.syncer import SyncerLoss

        syncer = SyncerLoss(config.syncer)

    generator = torch.Generator().manual_seed(config.seed)

    def step(net: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        sound, _, target = batch
        heard = spec_augment(sound, generator) if config.spec_augment else sound
        pred = at_frames(net(heard), sound.shape[-1] // ROWS, 25.0, HOP_S)[..., context:-context]
        loss = motion_loss(pred, target, config.velocity_weight)
        metrics = {"l1": F.l1_loss(pred, target).item()}
        if syncer is not None:
            sync = syncer(sound[:, :MEL_BANDS, context * ROWS:-context * ROWS], pred)
            loss = loss + config.sync_weight * sync
            metrics["sync"] = sync.item()
        return loss, metrics

    summary = fit(LipsNet(config.model), data, step, output, config, progress)
    return {**summary, "clips": len(data.clips), "taught": len(taught), "windows": len(data)}
