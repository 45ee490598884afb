"""Fréchet distances between generated and reference video: FID over frames, FVD over clips of frames.

No detector weights ship with talkinghead; the user supplies the usual TorchScript files, called as their authors do:

- FID: ``inception-2015-12-05.pt`` (StyleGAN2-ADA, clean-fid): ``detector(uint8 (N, 3, H, W), return_features=True)``
  -> (N, 2048); it resizes to 299 x 299 itself.
- FVD: ``i3d_torchscript.pt`` (StyleGAN-V): ``detector(uint8 (N, 3, T, H, W), rescale=True, resize=True,
  return_features=True)`` -> (N, 400); it maps 0..255 to -1..1 and resizes to 224 x 224 itself.

The distance is torchmetrics' FrechetInceptionDistance with the detector as its feature extractor. Scores from few
samples are biased high (FID needs thousands of frames to settle): compare scores only at equal sample counts.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from talkinghead.errors import InputError, existing_file


@dataclass(frozen=True)
class Kind:
    """How one distance feeds its detector: single frames (FID) or clips of frames (FVD)."""

    label: str
    num_features: int
    detector_kwargs: dict[str, bool]
    clips: bool


KINDS = {
    "fid": Kind("FID", 2048, {"return_features": True}, clips=False),
    "fvd": Kind("FVD", 400, {"rescale": True, "resize": True, "return_features": True}, clips=True),
}


def load_detector(path: str | Path) -> torch.jit.ScriptModule:
    """The TorchScript detector at ``path`` on the CPU, in eval mode; InputError if it is missing or unloadable."""
    path = existing_file(path, "a TorchScript detector")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is how these detectors are published
            detector = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(path, f"not a loadable TorchScript detector ({type(exc).__name__})") from None
    return detector.eval()


class DetectorFeatures(torch.nn.Module):
    """The user's detector as torchmetrics' feature extractor: uint8 frames or clips in, (N, features) out."""

    def __init__(self, kind: Kind, path: str | Path) -> None:
        super().__init__()
        self.kind, self.path = kind, Path(path)
        self.num_features = kind.num_features  # torchmetrics reads this instead of probing with a dummy image
        self.detector = load_detector(path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, num_features) float features of a (N, 3, H, W) frame or (N, 3, T, H, W) clip batch."""
        try:
            with torch.no_grad():
                features = self.detector(x, **self.kind.detector_kwargs)
        except (RuntimeError, TypeError, torch.jit.Error) as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]  # TorchScript's cause is last
            problem = lines[-1] if lines else type(exc).__name__
            raise InputError(self.path, f"does not work as the {self.kind.label} detector ({problem})") from None
        if tuple(features.shape) != (len(x), self.num_features):
            raise InputError(self.path, f"gave features of shape {tuple(features.shape)}, not (N, {self.num_features}):"
                                        f" not the {self.kind.label} detector")
        return features.float()


class FrechetScore:
    """One FID or FVD over any number of (generated, reference) videos: ``add`` each pair, then ``compute``.

    Frames are RGB uint8 (H, W, 3) of any size, streamed to the detector ``batch_size`` frames at a time. FVD takes
    clips of ``clip_len`` consecutive frames starting every ``stride`` frames (default: back to back) within each
    video; a short tail is dropped. ``size`` resizes frames to size x size with cv2 first; without it the detector
    resizes, and frames of one video that differ in size from its first frame are resized to it.
    """

    def __init__(self, kind: str, weights: str | Path, batch_size: int = 32, clip_len: int = 16,
                 stride: int | None = None, size: int | None = None) -> None:
        if kind not in KINDS:
            raise InputError(None, f"unknown Fréchet distance {kind!r} (one of {', '.join(KINDS)})")
        stride = clip_len if stride is None else stride
        if min(batch_size, clip_len, stride, 1 if size is None else size) < 1:
            raise InputError(None, "batch size, clip length, stride and size must be at least 1")
        self.kind = KINDS[kind]
        self.batch_size, self.clip_len, self.stride, self.size = batch_size, clip_len, stride, size
        self.metric = FrechetInceptionDistance(feature=DetectorFeatures(self.kind, weights))
        self.counts = {"generated": 0, "reference": 0}

    def add(self, generated: Iterable[np.ndarray], reference: Iterable[np.ndarray]) -> None:
        """Add one video's generated and reference frames (the two may differ in length and size)."""
        for side, frames in (("generated", generated), ("reference", reference)):
            for batch in self._batches(frames):
                self.metric.update(batch, real=side == "reference")
                self.counts[side] += len(batch)

    def compute(self) -> float:
        """The distance over everything added; InputError with fewer than 2 frames (FID) or clips (FVD) a side."""
        if min(self.counts.values()) < 2:
            unit = f"clips of {self.clip_len} frames" if self.kind.clips else "frames"
            raise InputError(None, f"{self.kind.label} needs at least 2 {unit} on each side, got "
                                   f"{self.counts['generated']} generated and {self.counts['reference']} reference")
        return float(self.metric.compute())

    def _batches(self, frames: Iterable[np.ndarray]) -> Iterator[torch.Tensor]:
        """uint8 detector input: (N, 3, H, W) frames or (N, 3, T, H, W) clips, at most ``batch_size`` frames each."""
        units: Iterator[np.ndarray] = _sized(frames, self.size)
        per_batch = self.batch_size
        if self.kind.clips:
            units, per_batch = _clips(units, self.clip_len, self.stride), max(1, self.batch_size // self.clip_len)
        while batch := list(islice(units, per_batch)):
            yield torch.from_numpy(np.stack(batch)).movedim(-1, 1).contiguous()


def _sized(frames: Iterable[np.ndarray], size: int | None) -> Iterator[np.ndarray]:
    """RGB uint8 frames at size x size or, without ``size``, at the first frame's size (cv2 resize where needed)."""
    target = (size, size) if size else None
    for frame in frames:
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected RGB uint8 frames (H, W, 3), got {frame.dtype} {frame.shape}")
        target = target or frame.shape[:2]
        if frame.shape[:2] != target:
            shrink = frame.shape[0] * frame.shape[1] > target[0] * target[1]
            frame = cv2.resize(frame, target[::-1], interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        yield frame


def _clips(frames: Iterable[np.ndarray], clip_len: int, stride: int) -> Iterator[np.ndarray]:
    """(clip_len, H, W, 3) runs of consecutive frames starting every ``stride`` frames; a short tail is dropped."""
    window: deque[np.ndarray] = deque(maxlen=clip_len)
    for i, frame in enumerate(frames):
        window.append(frame)
        if i + 1 >= clip_len and (i + 1 - clip_len) % stride == 0:
            yield np.stack(window)


def fid(generated: Iterable[np.ndarray], reference: Iterable[np.ndarray], weights: str | Path,
        batch_size: int = 32, size: int | None = None) -> float:
    """FID between two streams of RGB uint8 frames with the Inception detector at ``weights``."""
    score = FrechetScore("fid", weights, batch_size=batch_size, size=size)
    score.add(generated, reference)
    return score.compute()


def fvd(generated: Iterable[np.ndarray], reference: Iterable[np.ndarray], weights: str | Path, clip_len: int = 16,
        stride: int | None = None, batch_size: int = 32, size: int | None = None) -> float:
    """FVD between the clips of two streams of RGB uint8 frames with the I3D detector at ``weights``."""
    score = FrechetScore("fvd", weights, batch_size=batch_size, clip_len=clip_len, stride=stride, size=size)
    score.add(generated, reference)
    return score.compute()
