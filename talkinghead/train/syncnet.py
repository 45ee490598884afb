"""Train the project's SyncNet on a prepared folder (:mod:`talkinghead.data.prepare`), in one process or DDP.

A sample is a window of ``num_frames`` aligned faces with a mel window: in sync (label 1) at the clip's corrected
offset (``meta.json`` ``av_offset``), or not (label 0) with audio from the same clip at least ``min_shift`` frames away
or from another clip. Following LatentSync's study, the effective batch is large (1024) and the windows long (16
frames); micro-batches with gradient accumulation make such a batch fit a CPU or a small GPU.

``torchrun --nproc-per-node N`` runs N processes (NCCL on GPUs, Gloo on CPUs), each drawing its share of every epoch
through a DistributedSampler. The checkpoint (``output``) holds the model config, weights, optimizer state, step
and epoch; when it exists training resumes from it. Every optimizer step appends ``step,loss,accuracy`` to
``<output stem>.log.csv`` beside it.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from talkinghead.config import option
from talkinghead.errors import InputError
from talkinghead.eval.syncnet import (MEL_ROWS_PER_FRAME, SyncNet, SyncNetConfig, face_input, mel_input,
                                      read_checkpoint, sync_loss, sync_probability)
from talkinghead.io.video import atomic_output

if TYPE_CHECKING:
    from talkinghead.pipeline import Progress


@dataclass
class SyncNetTrainConfig(SyncNetConfig):
    """The SyncNet's architecture and how it is trained."""

    batch_size: int = option(1024, "samples per optimizer step, all processes")
    micro_batch: int = option(32, "samples per forward pass (gradients accumulate)")
    lr: float = option(1e-5, "AdamW learning rate (LatentSync: 1e-5)")
    weight_decay: float = option(0.01, "AdamW weight decay")
    max_grad_norm: float = option(1.0, "gradient norm clip")
    steps: int = option(20000, "optimizer steps to train to (a resumed run continues to it)")
    checkpoint_every: int = option(500, "steps between checkpoints")
    num_workers: int = option(2, "data loader processes per training process")
    seed: int = option(0, "seed of the initial weights and of the sampling")
    min_shift: int = option(3, "frames between out-of-sync audio and the true audio")
    other_clip: float = option(0.25, "share of out-of-sync audio taken from another clip")
    augment: bool = option(True, "random flips, shifts, brightness and contrast of the faces")

    @property
    def model(self) -> SyncNetConfig:
        """The architecture part."""
        return SyncNetConfig(**{f.name: getattr(self, f.name) for f in fields(SyncNetConfig)})


@dataclass
class _Clip:
    """A prepared clip: its folder, frames, mel windows that fit and audio-visual offset."""

    path: Path
    frames: int
    audio_windows: int  # mel windows that fit: starts 0 .. audio_windows - 1 (frames)
    offset: int


class SyncPairs(Dataset):
    """Item i: (faces (F, 3, h, w), mel (1, 80, 4F), label) for the i-th face window of the prepared folder.

    Whether the pair is in sync, where the wrong audio comes from and the augmentation are drawn from
    (seed, epoch, i), so an epoch is the same whichever process or worker loads it.
    """

    def __init__(self, data_dir: str | Path, config: SyncNetTrainConfig) -> None:
        self.config, self.epoch = config, 0
        n = config.num_frames
        self.clips: list[_Clip] = []
        self.windows: list[tuple[int, int]] = []  # (clip, first frame)
        for meta_path in sorted(Path(data_dir).glob("*/meta.json")):
            meta = json.loads(meta_path.read_text())
            mel_rows = np.load(meta_path.parent / "mel.npy", mmap_mode="r").shape[0]
            audio_windows = (mel_rows - MEL_ROWS_PER_FRAME * n) // MEL_ROWS_PER_FRAME + 1
            clip = _Clip(meta_path.parent, meta["frames"], audio_windows, int(meta["av_offset"]))
            starts = [s for s in range(clip.frames - n + 1) if 0 <= s - clip.offset < clip.audio_windows]
            if clip.audio_windows > 2 * config.min_shift and starts:  # room for an in-clip negative from every window
                self.windows += [(len(self.clips), s) for s in starts]
                self.clips.append(clip)
        if not self.windows:
            raise InputError(data_dir, f"no prepared clip long enough for {n}-frame windows")
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.windows)

    def _open(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Faces and mel of clip ``c``, memory-mapped once per process."""
        if c not in self._arrays:
            path = self.clips[c].path
            self._arrays[c] = np.load(path / "face.npy", mmap_mode="r"), np.load(path / "mel.npy", mmap_mode="r")
        return self._arrays[c]

    def _mel(self, c: int, start: int) -> torch.Tensor:
        rows = MEL_ROWS_PER_FRAME * start
        return mel_input(self._open(c)[1][rows:rows + MEL_ROWS_PER_FRAME * self.config.num_frames])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, self.epoch, i])
        c, start = self.windows[i]
        audio_start = start - self.clips[c].offset
        in_sync = rng.random() < 0.5
        if in_sync:
            mel = self._mel(c, audio_start)
        elif len(self.clips) > 1 and rng.random() < cfg.other_clip:
            other = (c + rng.integers(1, len(self.clips))) % len(self.clips)
            mel = self._mel(other, int(rng.integers(self.clips[other].audio_windows)))
        else:
            starts = np.arange(self.clips[c].audio_windows)
            mel = self._mel(c, int(rng.choice(starts[np.abs(starts - audio_start) >= cfg.min_shift])))
        faces = face_input(self._open(c)[0][start:start + cfg.num_frames], cfg.image_size)
        if cfg.augment:
            faces = augment(faces, rng)
        return faces, mel, torch.tensor(float(in_sync))


def augment(faces: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """The same random flip, shift (up to 1/32 of the side), contrast and brightness for every frame of a window."""
    if rng.random() < 0.5:
        faces = faces.flip(-1)
    h, w = faces.shape[-2:]
    reach = max(1, w // 32)
    dy, dx = rng.integers(-reach, reach + 1, size=2)
    padded = F.pad(faces, (reach, reach, reach, reach), mode="replicate")
    faces = padded[..., reach + dy:reach + dy + h, reach + dx:reach + dx + w]
    return (faces * rng.uniform(0.8, 1.2) + rng.uniform(-0.1, 0.1)).clamp(-1, 1)


def _distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when torchrun started several processes."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return (dist.get_rank() if world > 1 else 0), world, device


def _batches(loader: DataLoader, epoch: int) -> Iterator[tuple[int, list[torch.Tensor]]]:
    """(epoch, batch) forever, a new epoch (reshuffled, new labels) each time the loader runs out."""
    while True:
        loader.sampler.set_epoch(epoch)
        loader.dataset.epoch = epoch
        for batch in loader:
            yield epoch, batch
        epoch += 1


def train_syncnet(data_dir: str | Path, output: str | Path, config: SyncNetTrainConfig | None = None,
                  progress: Progress | None = None) -> dict:
    """Train (or resume training) a SyncNet on a prepared folder, checkpointing to ``output``; returns a summary."""
    config = config or SyncNetTrainConfig()
    start_time = time.perf_counter()
    output = Path(output)
    if not output.parent.is_dir():
        raise InputError(output, "output folder does not exist")
    rank, world, device = _distributed()
    torch.manual_seed(config.seed)
    model = SyncNet(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    first_step, epoch = _resume(output, model, optimizer, config) if output.exists() else (0, 0)
    net = DistributedDataParallel(model) if world > 1 else model
    data = SyncPairs(data_dir, config)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=config.seed)
    loader = DataLoader(data, batch_size=config.micro_batch, sampler=sampler, num_workers=config.num_workers,
                        pin_memory=device.type == "cuda")
    accumulation = max(1, config.batch_size // (config.micro_batch * world))
    log = output.with_name(output.stem + ".log.csv")
    if rank == 0:
        _start_log(log, first_step)
    stream = _batches(loader, epoch)
    steps = range(first_step, config.steps)
    loss = accuracy = None
    model.train()
    for step in progress(steps, len(steps)) if progress and rank == 0 else steps:
        totals = torch.zeros(3, device=device)  # loss sum, correct, samples
        for k in range(accumulation):
            epoch, (faces, mel, label) = next(stream)
            faces, mel, label = faces.to(device), mel.to(device), label.to(device)
            with net.no_sync() if world > 1 and k < accumulation - 1 else nullcontext():
                visual, audio = net(faces, mel)
                batch_loss = sync_loss(visual, audio, label)
                (batch_loss / accumulation).backward()
            correct = ((sync_probability(visual, audio) > 0.5) == (label > 0.5)).sum().item()
            totals += torch.tensor([batch_loss.item() * len(label), correct, len(label)], device=device)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if world > 1:
            dist.all_reduce(totals)
        loss, accuracy = (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()
        if rank == 0:
            with open(log, "a") as f:
                f.write(f"{step + 1},{loss:.6f},{accuracy:.4f}\n")
            if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
                save_checkpoint(output, model, optimizer, step + 1, epoch + 1, config)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return {"output": str(output), "steps": config.steps, "resumed_from": first_step, "loss": loss,
            "accuracy": accuracy, "clips": len(data.clips), "windows": len(data),
            "seconds": round(time.perf_counter() - start_time, 3)}


def _resume(path: Path, model: SyncNet, optimizer: torch.optim.Optimizer,
            config: SyncNetTrainConfig) -> tuple[int, int]:
    """Load the weights and optimizer state saved in ``path``; returns the (step, epoch) to go on from."""
    state = read_checkpoint(path)
    if SyncNetConfig.from_dict(state["config"]) != config.model:
        raise InputError(path, "holds a SyncNet of another architecture; choose another output to start afresh")
    if "optimizer" not in state:
        raise InputError(path, "holds a SyncNet without its training state; choose another output")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state["step"], state["epoch"]


def _start_log(path: Path, step: int) -> None:
    """Begin the CSV log, or keep its rows up to ``step`` (later ones were never checkpointed and are redone)."""
    rows = path.read_text().splitlines()[1:] if path.exists() else []
    kept = [row for row in rows if int(row.split(",")[0]) <= step]
    path.write_text("".join(f"{row}\n" for row in ["step,loss,accuracy", *kept]))


def save_checkpoint(path: Path, model: SyncNet, optimizer: torch.optim.Optimizer, step: int, epoch: int,
                    config: SyncNetTrainConfig) -> None:
    """Write the model, optimizer, step, next epoch and training config atomically to ``path``."""
    with atomic_output(path) as tmp:
        state = model.checkpoint(optimizer=optimizer.state_dict(), step=step, epoch=epoch, train=asdict(config))
        torch.save(state, tmp)
