"""Train the project's SyncNet on a prepared folder (:mod:`talkinghead.data.prepare`), in one process or DDP.

A sample is a window of ``num_frames`` aligned faces with a mel window: in sync (label 1) at the clip's corrected
offset (``meta.json`` ``av_offset``), or not (label 0) with audio from the same clip at least ``min_shift`` frames away
or from another clip. Following LatentSync's study, the effective batch is large (1024) and the windows long (16
frames); micro-batches with gradient accumulation make such a batch fit a CPU or a small GPU.

Training runs in :func:`talkinghead.train.loop.fit` (one process or DDP, resumable); its log has
``step,loss,accuracy`` rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from talkinghead.config import option
from talkinghead.errors import InputError
from talkinghead.models.syncnet import MEL_ROWS_PER_FRAME, SyncNet, SyncNetConfig, face_input, mel_input, sync_loss, sync_probability
from talkinghead.progress import Progress
from talkinghead.train.loop import TrainConfig, fit


@dataclass
class SyncNetTrainConfig(TrainConfig, SyncNetConfig):
    """The SyncNet's architecture and how it is trained."""

    batch_size: int = option(1024, "samples per optimizer step, all processes")
    micro_batch: int = option(32, "samples per forward pass (gradients accumulate)")
    lr: float = option(1e-5, "AdamW learning rate (LatentSync: 1e-5)")
    steps: int = option(20000, "optimizer steps to train to (a resumed run continues to it)")
    num_workers: int = option(2, "data loader processes per training process")
    min_shift: int = option(3, "frames between out-of-sync audio and the true audio")
    other_clip: float = option(0.25, "share of out-of-sync audio taken from another clip")
    augment: bool = option(True, "random flips, shifts, brightness and contrast of the faces")


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


def sync_step(net: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss and accuracy of one batch of (faces, mel, label)."""
    faces, mel, label = batch
    visual, audio = net(faces, mel)
    accuracy = ((sync_probability(visual, audio) > 0.5) == (label > 0.5)).float().mean().item()
    return sync_loss(visual, audio, label), {"accuracy": accuracy}


def train_syncnet(data_dir: str | Path, output: str | Path, config: SyncNetTrainConfig | None = None,
                  progress: Progress | None = None) -> dict:
    """Train (or resume training) a SyncNet on a prepared folder, checkpointing to ``output``; returns a summary."""
    config = config or SyncNetTrainConfig()
    torch.manual_seed(config.seed)
    data = SyncPairs(data_dir, config)
    summary = fit(SyncNet(config.model), data, sync_step, output, config, progress)
    return {**summary, "clips": len(data.clips), "windows": len(data)}
