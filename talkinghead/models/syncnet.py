"""The project's own SyncNet (LatentSync's StableSyncNet design, plain PyTorch) and its LSE-C / LSE-D procedure.

Two convolutional encoders map ``num_frames`` aligned faces (their lower half, frames stacked as channels) and the
matching log-mel window (4 rows per video frame: 100 Hz over 25 fps) to unit-length, non-negative embeddings; their
cosine similarity is the probability that the two are in sync, trained with binary cross-entropy (Wav2Lip's and
LatentSync's objective). Each encoder is a stack of residual blocks (GroupNorm as LatentSync's, or BatchNorm; SiLU)
that halve every side longer than one pixel until the map is 1x1, widths doubling from a base up to a cap: with the
defaults, LatentSync's 16-frame, 256-pixel model (8 visual and 7 audio blocks, 2048-d embeddings).

The scores follow syncnet_python (the procedure behind Wav2Lip's and LatentSync's LSE tables): embed a window at every
frame, measure the distance between the face window at frame t and the audio window at frame t - offset for each
offset in [-max_offset, max_offset], average over windows; LSE-D is the smallest mean distance, LSE-C the median
minus the smallest, and the offset is where the smallest lies (positive: the picture is late). Distances are between
unit embeddings (0..sqrt(2)), so the values are on this network's own scale, not that of the published tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.config import option
from talkinghead.errors import InputError, existing_file

MEL_ROWS_PER_FRAME = 4  # 100 Hz mel rows per 25 fps video frame
MEL_MEAN, MEL_STD = -7.0, 3.5  # of the project's natural-log mel over speech; inputs are standardised with these


@dataclass
class SyncNetConfig:
    """Architecture of a SyncNet; checkpoints carry it."""

    num_frames: int = option(16, "video frames per window (LatentSync: 16 beats 5)")
    image_size: int = option(256, "side faces are resized to (the lower half is seen)")
    visual_channels: int = option(64, "width of the first visual block (doubles per block)")
    audio_channels: int = option(32, "width of the first audio block (doubles per block)")
    max_channels: int = option(2048, "cap on block widths")
    embed_dim: int = option(2048, "embedding size")
    norm: str = option("group", "normalisation layers: group (LatentSync's) or batch (Wav2Lip's; leaves the 0.69 "
                       "loss plateau far sooner on small data)", choices=["group", "batch"])

    @classmethod
    def from_dict(cls, values: dict) -> "SyncNetConfig":
        """The config from a dict holding (at least) its fields."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})


def _norm(kind: str, channels: int) -> nn.Module:
    """BatchNorm, or GroupNorm: up to 32 groups (LatentSync's) of 4 channels or more, so 1x1 maps keep information."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(math.gcd(32, max(1, channels // 4)), channels)


class _ResBlock(nn.Module):
    """Two norm-SiLU-conv layers with a residual path, then a strided conv."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int], norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(_norm(norm, cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1),
                                  _norm(norm, cout), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.down = nn.Conv2d(cout, cout, 3, stride=stride, padding=1) if stride != (1, 1) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.body(x) + self.skip(x))


class Encoder(nn.Module):
    """(B, C, H, W) -> (B, embed_dim) unit-length, non-negative embeddings; blocks halve the sides down to 1x1.

    Block widths start at ``base`` and double up to ``config.max_channels``.
    """

    def __init__(self, in_channels: int, size: tuple[int, int], base: int, config: SyncNetConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base, 3, padding=1)]
        (h, w), width, prev = size, base, base
        while h > 1 or w > 1:
            layers.append(_ResBlock(prev, width, (2 if h > 1 else 1, 2 if w > 1 else 1), config.norm))
            h, w, prev, width = (h + 1) // 2, (w + 1) // 2, width, min(width * 2, config.max_channels)
        layers += [nn.Conv2d(prev, config.embed_dim, 1), _norm(config.norm, config.embed_dim), nn.ReLU(), nn.Flatten()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)


class SyncNet(nn.Module):
    """Visual and audio encoders whose embeddings agree (cosine similarity near 1) when face and speech are in sync."""

    Config: ClassVar[type] = SyncNetConfig

    def __init__(self, config: SyncNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or SyncNetConfig()
        self.visual = Encoder(3 * c.num_frames, (c.image_size // 2, c.image_size), c.visual_channels, c)
        self.audio = Encoder(1, (80, MEL_ROWS_PER_FRAME * c.num_frames), c.audio_channels, c)

    def forward(self, faces: torch.Tensor, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of (B, F, 3, h, w) face windows (:func:`face_input`) and (B, 1, 80, 4F) mel windows."""
        return self.visual(faces.flatten(1, 2)), self.audio(mel)


def face_input(faces: np.ndarray, image_size: int) -> torch.Tensor:
    """(..., S, S, 3) uint8 aligned faces -> lower halves, resized: (..., 3, image_size/2, image_size) in [-1, 1]."""
    x = torch.from_numpy(np.array(faces))
    lead = x.shape[:-3]
    size = x.shape[-3]
    x = x[..., size // 2:, :, :].reshape(-1, size - size // 2, size, 3).permute(0, 3, 1, 2).float()
    if size != image_size:
        x = F.interpolate(x, size=(image_size // 2, image_size), mode="area" if size > image_size else "bilinear")
    return (x / 127.5 - 1).reshape(*lead, 3, image_size // 2, image_size)


def mel_input(mel: np.ndarray) -> torch.Tensor:
    """(..., 4F, 80) log-mel windows -> (..., 1, 80, 4F) standardised."""
    x = torch.from_numpy(np.array(mel, np.float32))
    return ((x - MEL_MEAN) / MEL_STD).transpose(-1, -2).unsqueeze(-3)


def sync_probability(visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of unit, non-negative embeddings: in [0, 1], the probability of being in sync."""
    return (visual * audio).sum(-1).clamp(1e-6, 1 - 1e-6)


def sync_loss(visual: torch.Tensor, audio: torch.Tensor, in_sync: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of :func:`sync_probability` against 1 (in sync) / 0 (not)."""
    return F.binary_cross_entropy(sync_probability(visual, audio), in_sync.float())


def read_checkpoint(path: str | Path) -> dict:
    """The dict in a SyncNet checkpoint file (``config``, ``model`` and what training added); InputError if unusable."""
    path = existing_file(path, "a SyncNet checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        SyncNetConfig.from_dict(data["config"])
        data["model"].keys()
    except Exception as exc:  # torch.load raises many kinds on foreign or damaged files
        raise InputError(path, f"not a SyncNet checkpoint ({type(exc).__name__})") from None
    return data


def load_syncnet(path: str | Path) -> SyncNet:
    """A SyncNet from a checkpoint file (evaluation mode, CPU); InputError when missing or not a SyncNet checkpoint."""
    data = read_checkpoint(path)
    model = SyncNet(SyncNetConfig.from_dict(data["config"]))
    try:
        model.load_state_dict(data["model"])
    except RuntimeError:
        raise InputError(path, "SyncNet weights do not match the config they came with") from None
    return model.eval()


def _windows(x: np.ndarray, starts: np.ndarray, length: int, step: int = 1) -> np.ndarray:
    """Rows ``[s*step, s*step + length)`` of ``x`` for each start ``s``, stacked: (len(starts), length, ...)."""
    return x[starts[:, None] * step + np.arange(length)[None, :]]


@torch.no_grad()
def embed_windows(model: SyncNet, faces: np.ndarray, mel: np.ndarray, video_starts: np.ndarray,
                  audio_starts: np.ndarray, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings (evaluation mode) of face windows at ascending ``video_starts``, mel windows at ``audio_starts``."""
    c = model.config
    device = next(model.parameters(), torch.empty(0)).device
    training = model.training
    model.eval()
    visual, audio = [], []
    for starts in np.array_split(video_starts, max(1, math.ceil(len(video_starts) / batch))):
        frames = face_input(faces[starts[0]:starts[-1] + c.num_frames], c.image_size).numpy()  # each frame once
        visual.append(model.visual(torch.from_numpy(_windows(frames, starts - starts[0], c.num_frames)).flatten(1, 2)
                                   .to(device)))
    for starts in np.array_split(audio_starts, max(1, math.ceil(len(audio_starts) / batch))):
        windows = _windows(mel, starts, MEL_ROWS_PER_FRAME * c.num_frames, MEL_ROWS_PER_FRAME)
        audio.append(model.audio(mel_input(windows).to(device)))
    model.train(training)
    return torch.cat(visual).cpu(), torch.cat(audio).cpu()


def sync_scores(model: SyncNet, faces: np.ndarray, mel: np.ndarray, max_offset: int = 15) -> dict:
    """LSE-C, LSE-D and offset (frames; positive: the picture is late) of (T, S, S, 3) faces against (T_mel, 80) mel.

    Every face window is compared with the audio window ``offset`` frames earlier, for each offset in
    [-max_offset, max_offset], over the windows where all offsets have audio; ValueError when there are none.
    """
    n = model.config.num_frames
    n_audio = len(mel) // MEL_ROWS_PER_FRAME - n + 1  # audio windows that fit in the mel
    first, last = max_offset, min(len(faces) - n, n_audio - 1 - max_offset)
    if last < first:
        raise ValueError(f"{len(faces)} frames and {len(mel)} mel rows are too short for {n}-frame windows "
                         f"at offsets up to {max_offset}")
    video_starts = np.arange(first, last + 1)
    visual, audio = embed_windows(model, faces, mel, video_starts, np.arange(first - max_offset, last + max_offset + 1))
    offsets = np.arange(-max_offset, max_offset + 1)
    # audio row for face window i at offset o: video start (first + i) - o, i.e. index i + max_offset - o
    mean = np.array([torch.linalg.vector_norm(visual - audio[max_offset - o:max_offset - o + len(visual)], dim=1)
                     .mean().item() for o in offsets])
    best = int(np.argmin(mean))
    return {"lse_c": float(np.median(mean) - mean[best]), "lse_d": float(mean[best]),
            "offset_frames": int(offsets[best]), "windows": len(video_starts)}
