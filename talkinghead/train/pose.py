"""Train the head pose models on clips with tracked head motion: the diffusion model and the pose/blink VAE.

Clips come from ``talkinghead prepare`` (real video, head channels and blinks tracked by FaceMesh, see
:mod:`talkinghead.motion.tracked`). Each training window holds ``prev + frames`` frames: the first ``prev`` are the
history the model is conditioned on (dropped at random, as for a first window), the rest are modelled. Each
channel is divided by its spread over the training clips (written into the model config, so that the checkpoint
carries it). Augmentation: mirroring (yaw, roll and sideways shift change sign, the eyes swap) and amplitude
jitter of each head channel.

- :func:`train_pose`: :class:`~talkinghead.motion.pose_diffusion.PoseDiffusion`, the x0 denoising loss (MSE of the
  values and of their frame-to-frame change) at uniformly drawn steps of the cosine schedule.
- :func:`train_pose_vae`: :class:`~talkinghead.motion.pose_vae.PoseVAE`, L1 reconstruction (values and change)
  plus a KL term annealed in over ``kl_warmup`` steps, with free bits per latent dimension so that the latent
  stays in use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.config import option
from talkinghead.models.pose_diffusion import HEAD_CHANNELS, MIRRORED, PoseDiffusion, PoseDiffusionConfig, format_std
from talkinghead.models.pose_vae import BLINK_CHANNELS, VAE_CHANNELS, PoseVAE, PoseVAEConfig
from talkinghead.progress import Progress
from talkinghead.train.clips import MotionWindows
from talkinghead.train.loop import TrainConfig, fit

M = TypeVar("M", PoseDiffusion, PoseVAE)


@dataclass
class PoseTraining(TrainConfig):
    """How both pose models are trained: batches, learning rate, augmentation, how often the history is withheld."""

    batch_size: int = option(32, "windows per optimizer step, all processes")
    micro_batch: int = option(32, "windows per forward pass (gradients accumulate)")
    lr: float = option(5e-4, "AdamW learning rate")
    steps: int = option(3000, "optimizer steps to train to (a resumed run continues to it)")

    mirror: float = option(0.5, "share of windows mirrored left-right")
    jitter: float = option(0.2, "amplitude jitter: each head channel scaled by 1 +- up to this")
    drop_prev: float = option(0.5, "share of windows trained without their history (as a first window)")
    velocity_weight: float = option(1.0, "weight of the frame-to-frame change in the loss")


@dataclass
class PoseTrainConfig(PoseTraining, PoseDiffusionConfig):
    """The pose diffusion model's architecture and how it is trained."""


@dataclass
class PoseVAETrainConfig(PoseTraining, PoseVAEConfig):
    """The pose/blink VAE's architecture and how it is trained."""
    kl_weight: float = option(1.0, "weight of the KL term once annealed in (per modelled value, as in the ELBO)")
    kl_warmup: int = option(1000, "steps over which the KL weight rises linearly from 0")
    free_bits: float = option(0.5, "nats per latent dimension below which its KL is not penalised")
    blink_weight: float = option(1.0, "weight of the blink channels in the reconstruction loss")


def augment(pose: torch.Tensor, channels: tuple[str, ...], mirror: float, jitter: float) -> torch.Tensor:
    """(B, C, T) windows, a share ``mirror`` mirrored left-right and each head channel scaled by 1 +- ``jitter``."""
    b, c = pose.shape[:2]
    flip = torch.rand(b, device=pose.device) < mirror
    sign = torch.ones(b, c, device=pose.device)
    for j, name in enumerate(channels):
        if name in MIRRORED:
            sign[flip, j] = -1
        if name in HEAD_CHANNELS:
            sign[:, j] *= 1 + jitter * (2 * torch.rand(b, device=pose.device) - 1)
    pose = pose * sign[..., None]
    if set(BLINK_CHANNELS) <= set(channels):
        left, right = (channels.index(n) for n in BLINK_CHANNELS)
        swapped = pose.clone()
        swapped[:, [left, right]] = pose[:, [right, left]]
        pose = torch.where(flip[:, None, None], swapped, pose)
    return pose


def channel_std(data: MotionWindows, output: Path, given: str) -> str:
    """The per-channel spreads: ``given``, else those of the checkpoint being resumed, else the training clips'."""
    if given:
        return given
    if output.exists():
        try:
            saved = torch.load(output, map_location="cpu", weights_only=True)["config"].get("std", "")
        except Exception:  # a foreign file: fit reports it
            saved = ""
        if saved:
            return saved
    return format_std(np.concatenate([c.target for c in data.clips], 1).std(1))


def resumed_step(output: Path) -> int:
    """The step the checkpoint at ``output`` holds (0 when there is none)."""
    try:
        return int(torch.load(output, map_location="cpu", weights_only=True)["step"]) if output.exists() else 0
    except Exception:  # a foreign file: fit reports it
        return 0


def diffusion_loss(net: nn.Module, model: PoseDiffusion, mel: torch.Tensor, prosody: torch.Tensor,
                   pose: torch.Tensor, drop_prev: float, velocity_weight: float) -> tuple[torch.Tensor, dict]:
    """The x0 denoising loss of (B, 5, P + T) pose in channel units (its first P frames are the history);
    ``net`` is the model or its DDP wrapper, ``model`` the model itself (for its schedule and spreads)."""
    p = model.config.prev
    x = (pose / model.std[:, None]).transpose(1, 2)
    prev, x0 = x[:, :p], x[:, p:]
    t = torch.randint(0, model.config.timesteps, (len(x),), device=x.device)
    ab = model.alpha_bar[t][:, None, None]
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn_like(x0)
    has_prev = torch.rand(len(x), device=x.device) >= drop_prev
    pred = net(x_t, t, mel, prosody, prev, has_prev)
    mse = F.mse_loss(pred, x0)
    velocity = F.mse_loss(pred.diff(dim=1), x0.diff(dim=1))
    return mse + velocity_weight * velocity, {"mse": mse.item(), "velocity": velocity.item()}


def windows_and_model(data_dir: str | Path, output: Path, config: PoseTraining, model_class: type[M]
                      ) -> tuple[MotionWindows, M]:
    """The seeded training windows of the model's channels (history frames in front) and the model, its channel
    spreads measured on them (or kept from ``output`` when resuming)."""
    torch.manual_seed(config.seed)
    data = MotionWindows(data_dir, model_class.channels, config.prev + config.frames, with_prosody=True,
                         seed=config.seed)
    return data, model_class(replace(config.model, std=channel_std(data, output, config.std)))


def train_pose(data_dir: str | Path, output: str | Path, config: PoseTrainConfig | None = None,
               progress: Progress | None = None) -> dict:
    """Train (or resume training) the pose diffusion model on ``data_dir``, checkpointing to ``output``."""
    config = config or PoseTrainConfig()
    output = Path(output)
    data, model = windows_and_model(data_dir, output, config, PoseDiffusion)

    def step(net: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        mel, pro, pose = batch
        pose = augment(pose, HEAD_CHANNELS, config.mirror, config.jitter)
        return diffusion_loss(net, model, mel, pro, pose, config.drop_prev, config.velocity_weight)

    summary = fit(model, data, step, output, config, progress)
    return {**summary, "clips": len(data.clips), "windows": len(data), "std": model.config.std}


def vae_loss(net: nn.Module, model: PoseVAE, mel: torch.Tensor, prosody: torch.Tensor, pose: torch.Tensor,
             config: PoseVAETrainConfig, kl_scale: float) -> tuple[torch.Tensor, dict]:
    """Reconstruction + ``kl_scale`` x KL (free bits) of (B, 7, P + T) windows in channel units."""
    p = model.config.prev
    x = (pose / model.std[:, None]).transpose(1, 2)
    prev, target = x[:, :p], x[:, p:]
    has_prev = torch.rand(len(x), device=x.device) >= config.drop_prev
    recon, mean, logvar = net(target, mel, prosody, prev, has_prev)
    weight = torch.ones(len(VAE_CHANNELS), device=x.device)
    weight[len(HEAD_CHANNELS):] = config.blink_weight
    l1 = ((recon - target).abs() * weight).mean()
    velocity = ((recon.diff(dim=1) - target.diff(dim=1)).abs() * weight).mean()
    kl_dims = (0.5 * (mean ** 2 + logvar.exp() - 1 - logvar)).mean(0)  # batch mean per latent dimension
    kl = kl_dims.sum()
    penalised = kl_dims.clamp_min(config.free_bits).sum() / target[0].numel()
    loss = l1 + config.velocity_weight * velocity + config.kl_weight * kl_scale * penalised
    return loss, {"l1": l1.item(), "velocity": velocity.item(), "kl": kl.item(), "kl_scale": kl_scale}


def train_pose_vae(data_dir: str | Path, output: str | Path, config: PoseVAETrainConfig | None = None,
                   progress: Progress | None = None) -> dict:
    """Train (or resume training) the pose/blink VAE on ``data_dir``, checkpointing to ``output``."""
    config = config or PoseVAETrainConfig()
    output = Path(output)
    data, model = windows_and_model(data_dir, output, config, PoseVAE)
    accumulation = max(1, config.batch_size // (config.micro_batch * int(os.environ.get("WORLD_SIZE", 1))))
    calls = [resumed_step(output) * accumulation]  # forward passes so far, for the KL annealing

    def step(net: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        mel, pro, pose = batch
        pose = augment(pose, VAE_CHANNELS, config.mirror, config.jitter)
        kl_scale = min(1.0, (calls[0] // accumulation) / max(1, config.kl_warmup))
        calls[0] += 1
        return vae_loss(net, model, mel, pro, pose, config, kl_scale)

    summary = fit(model, data, step, output, config, progress)
    return {**summary, "clips": len(data.clips), "windows": len(data), "std": model.config.std}
