"""Decode any audio (or the audio track of a video) to float32 mono at 16 kHz with PyAV."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from talkinghead.errors import InputError, existing_file

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Audio:
    """Float32 mono samples at ``rate`` Hz; ``path`` is where they came from, if anywhere."""

    samples: np.ndarray
    rate: int = SAMPLE_RATE
    path: Path | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate

    def n_frames(self, fps: float) -> int:
        """Video frames covering the audio (frame i covers [i/fps, (i+1)/fps)), at least one."""
        return max(1, int(round(self.duration * fps)))


def decode_chunks(path: str | Path, rate: int = SAMPLE_RATE, layout: str = "mono") -> Iterator[np.ndarray]:
    """Stream the first audio stream of ``path`` as planar float32 chunks of shape (channels, n)."""
    path = existing_file(path, "an audio file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(path, "has no audio track")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            for frame in chain(container.decode(stream), [None]):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().astype(np.float32, copy=False)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"not a readable audio or video file ({type(exc).__name__})") from None


def decode(path: str | Path, rate: int = SAMPLE_RATE, layout: str = "mono") -> np.ndarray:
    """Decode the first audio stream of ``path`` to float32 samples, shape (n,) or (channels, n)."""
    channels = 1 if layout == "mono" else 2
    chunks = list(decode_chunks(path, rate, layout))
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    return data[0] if layout == "mono" else data


def load_audio(path: str | Path) -> Audio:
    """Load speech for analysis: 16 kHz mono float32; raises InputError when empty or unreadable."""
    samples = decode(path)
    if len(samples) == 0:
        raise InputError(path, "audio is empty")
    return Audio(np.ascontiguousarray(samples), SAMPLE_RATE, Path(path))


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``rate`` Hz resampled to ``target`` Hz (polyphase filter; float32)."""
    from math import gcd

    from scipy.signal import resample_poly

    if rate == target:
        return samples.astype(np.float32)
    g = gcd(int(rate), int(target))
    return resample_poly(samples, int(target) // g, int(rate) // g).astype(np.float32)
