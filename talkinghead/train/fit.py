"""``talkinghead fit``: a person's footage -> an avatar file whose decoder draws that person's mouth.

The decoder (:class:`~talkinghead.models.hr_decoder.HRDecoder`) is trained on the pairs of
:mod:`talkinghead.train.fit_data` for a time budget, with an L1 loss and an L1 loss on image gradients (which keeps
edges and teeth from going soft), both weighted towards the blend mask. The fit checkpoints to ``<output>.partial``
every minute and when stopped (Ctrl-C, SIGTERM), and ``--resume`` goes on from there. At the end the held-back part
of the footage is scored (mouth-square SSIM of the decoder, of the warp renderer's base face and of the moved real
mouths alone) and the avatar is written.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch

from talkinghead.config import Checked, option
from talkinghead.errors import InputError, Terminated
from talkinghead.io.video import atomic_output
from talkinghead.models.hr_decoder import HRDecoder, HRDecoderConfig
from talkinghead.progress import Progress
from talkinghead.render.avatar import Avatar
from talkinghead.train.fit_data import FitData

CHECKPOINT_S = 60.0


@dataclass
class FitConfig(Checked):
    """How an avatar is fitted."""

    minutes: float = option(10.0, "training time budget in minutes (tracking and cutting the footage come on top)",
                            range=(0.05, 10000))
    steps: int = option(0, "stop after this many optimizer steps too (0: the time budget alone)", range=(0, 10 ** 9))
    size: int = option(128, "side of the mouth square the decoder draws, pixels", range=(64, 256))
    width: int = option(16, "decoder channels at full resolution", range=(8, 128))
    batch_size: int = option(8, "squares per optimizer step", range=(1, 1024))
    lr: float = option(2e-3, "AdamW learning rate", range=(1e-6, 1.0))
    gradient_weight: float = option(1.0, "weight of the image-gradient L1 loss beside the plain L1", range=(0, 100))
    bank: int = option(384, "real mouths of the person kept in the avatar", range=(4, 4096))
    holdout: float = option(0.15, "last share of each clip held back for validation", range=(0, 0.5))
    device: str = option("cpu", "cpu, or cuda when there is a GPU (same model, faster)")
    seed: int = option(0, "seed of the initial weights and of the sampling", range=(0, 2 ** 31))
    resume: bool = option(False, "go on with a fit of the same output that was stopped")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size % 2 ** HRDecoderConfig.depth:
            raise InputError(None, f"--size {self.size}: use a multiple of {2 ** HRDecoderConfig.depth}")

    @property
    def model(self) -> HRDecoderConfig:
        return HRDecoderConfig(size=self.size, width=self.width)


def tensors(data: FitData, rows: np.ndarray, device: torch.device) -> list[torch.Tensor]:
    """base, real, sketch, target (B, C, S, S in 0..1) and mask (B, 1, S, S) of the given frames."""
    rows = np.sort(rows)
    out = []
    for name in ("base", "real", "sketch", "target", "mask"):
        a = torch.from_numpy(np.array(data.arrays[name][rows])).float().div_(255)
        out.append((a.permute(0, 3, 1, 2) if a.ndim == 4 else a[:, None]).to(device))
    return out


def loss_of(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, gradient_weight: float) -> torch.Tensor:
    """L1 plus L1 on horizontal and vertical differences, weighted 0.2 outside the blend mask and 1.2 inside."""
    weight = 0.2 + mask
    loss = (weight * (out - target).abs()).mean()
    for axis in (2, 3):
        d_out, d_target = torch.diff(out, dim=axis), torch.diff(target, dim=axis)
        w = weight.narrow(axis, 1, weight.shape[axis] - 1)
        loss = loss + gradient_weight * (w * (d_out - d_target).abs()).mean()
    return loss


def check_device(name: str) -> torch.device:
    """The torch device ``name``; InputError when it is not there."""
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise InputError(None, f"--device {name}: use cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(None, f"--device {name}: no CUDA device here")
    return torch.device(name)


def fit_avatar(videos: list[str | Path], output: str | Path, config: FitConfig | None = None,
               progress: Progress | None = None, prepare: Progress | None = None) -> dict:
    """Fit the person of ``videos`` (footage of one person) and write the avatar ``output``; returns a summary.

    ``prepare`` wraps the frames while the footage is tracked and cut, ``progress`` the seconds of training (items
    are dicts of the running loss).
    """
    config = config or FitConfig()
    output = Path(output)
    if not output.parent.is_dir():
        raise InputError(output, "output folder does not exist")
    videos = [Path(v) for v in videos]
    for video in videos:
        if not video.is_file():
            raise InputError(video, "file not found")
    partial, cache = output.with_name(output.name + ".partial"), output.with_name(output.name + ".fitdata")
    if partial.exists() and not config.resume:
        raise InputError(output, f"a fit of this output was stopped ({partial.name}); add --resume to go on, or "
                         "delete it to start afresh")
    if config.resume and not partial.exists():
        raise InputError(output, f"nothing to resume: {partial.name} not found")
    device = check_device(config.device)
    start = time.perf_counter()
    data = FitData.build(videos, cache, config.size, config.holdout, config.bank, prepare)
    prepared = time.perf_counter() - start
    torch.manual_seed(config.seed)
    net = HRDecoder(config.model).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=0.0)
    state = {"step": 0, "seconds": 0.0, "loss": float("nan")}
    if config.resume:
        state = resume(partial, net, optimizer, config)
    train = np.flatnonzero(data.train)
    rng = np.random.default_rng(config.seed + state["step"])
    ticks = training(net, optimizer, data, train, rng, device, config, state, partial)
    try:
        for _ in progress(ticks, int(np.ceil(config.minutes * 60))) if progress else ticks:
            pass
    except (KeyboardInterrupt, Terminated):  # stopped between two steps: kept for --resume
        save_partial(partial, net, optimizer, state)
        raise
    net.eval()
    validation = validate(net, data, device)
    avatar = Avatar("hrdecoder", {"config": dataclasses.asdict(net.config),
                                  "state": {k: v.cpu() for k, v in net.state_dict().items()}},
                    data.bank(), data.reference_image(), data.meta["mouth_scale"], data.lips(),
                    {"seconds_of_footage": data.meta["seconds"], "steps": state["step"],
                     "train_minutes": round(state["seconds"] / 60, 2), **validation})
    avatar.save(output)
    partial.unlink(missing_ok=True)
    shutil.rmtree(cache, ignore_errors=True)
    return {"output": str(output), "videos": len(videos), "footage_seconds": data.meta["seconds"],
            "train_frames": data.meta["train_frames"], "validation_frames": int((~data.train).sum()),
            "steps": state["step"], "loss": round(state["loss"], 5), "prepare_seconds": round(prepared, 1),
            "train_seconds": round(state["seconds"], 1), "mouth_scale": round(data.meta["mouth_scale"], 3),
            **validation, "avatar_mb": round(output.stat().st_size / 2 ** 20, 2)}


def training(net: HRDecoder, optimizer: torch.optim.Optimizer, data: FitData, train: np.ndarray,
             rng: np.random.Generator, device: torch.device, config: FitConfig, state: dict, partial: Path
             ) -> Iterator[dict]:
    """Optimizer steps until the budget is spent; yields once per second of training (a dict of the running loss).

    The state is checkpointed to ``partial`` every minute.
    """
    net.train()
    budget = config.minutes * 60
    shown = int(state["seconds"])
    for _ in range(shown):
        yield {}
    saved = state["seconds"]
    began = time.perf_counter() - state["seconds"]
    running = None
    while state["seconds"] < budget and not (config.steps and state["step"] >= config.steps):
        step = state["step"]
        base, real, sketch, target, mask = tensors(data, rng.choice(train, min(config.batch_size, len(train)),
                                                                    replace=False), device)
        loss = loss_of(net(base, real, sketch), target, mask, config.gradient_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        state.update(step=step + 1, seconds=time.perf_counter() - began, loss=running)
        if state["seconds"] - saved >= CHECKPOINT_S:
            save_partial(partial, net, optimizer, state)
            saved = state["seconds"]
        while shown < min(int(state["seconds"]), int(budget)):
            shown += 1
            yield {"loss": f"{running:.4f}", "step": state["step"]}


def save_partial(path: Path, net: HRDecoder, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Checkpoint a fit in progress atomically."""
    with atomic_output(path) as tmp:
        torch.save({"model": dataclasses.asdict(net.config), "state": net.state_dict(),
                    "optimizer": optimizer.state_dict(), **state}, tmp)


def resume(path: Path, net: HRDecoder, optimizer: torch.optim.Optimizer, config: FitConfig) -> dict:
    """Load a stopped fit's weights and optimizer; returns its step, seconds and loss."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many kinds on foreign or damaged files
        raise InputError(path, f"damaged checkpoint ({type(exc).__name__}); delete it to start afresh") from None
    if saved.get("model") != dataclasses.asdict(config.model):
        raise InputError(path, "was fitted with another --size or --width; use those or delete it")
    net.load_state_dict(saved["state"])
    optimizer.load_state_dict(saved["optimizer"])
    return {"step": saved["step"], "seconds": saved["seconds"], "loss": saved["loss"]}


@torch.no_grad()
def validate(net: HRDecoder, data: FitData, device: torch.device, batch: int = 32) -> dict:
    """Mouth-square SSIM on the held-back frames of the decoder, the base face (warp) and the moved real mouths."""
    rows = np.flatnonzero(~data.train)
    if not len(rows):
        return {}
    scores: dict[str, list[float]] = {"fitted": [], "warp": [], "retrieval": []}
    for chunk in np.array_split(rows, max(1, len(rows) // batch)):
        base, real, sketch, target, mask = tensors(data, chunk, device)
        out = net(base, real, sketch)
        for name, image in (("fitted", out), ("warp", base), ("retrieval", real)):
            for made, true in zip(image, target):
                grey = [cv2.cvtColor((t.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
                        for t in (made, true)]
                scores[name].append(float(cv2.quality.QualitySSIM_compute(*grey)[0][0]))
    return {f"validation_ssim_{name}": round(float(np.mean(v)), 4) for name, v in scores.items()}
