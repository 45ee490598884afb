"""What animate and dub share at their ends: the checks made before any work, and the mp4 written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from talkinghead.errors import InputError
from talkinghead.io.video import Mp4Writer, atomic_output, source_audio, video_info

MAX_VIDEO_SIDE = 4096  # videos larger than this on a side are refused


def check_output(output: str | Path) -> None:
    """Refuse an output that is not an .mp4 or whose folder is missing, before any work is done."""
    output = Path(output)
    if output.suffix.lower() != ".mp4":
        raise InputError(output, "output must be an .mp4 file")
    if not output.parent.is_dir():
        raise InputError(output, "output folder does not exist")


def check_video(video: str | Path) -> tuple[float, int, int, float]:
    """fps, width, height and duration of a video; InputError when it is not one, or is too large or too small."""
    fps, width, height, duration = video_info(video)
    if max(width, height) > MAX_VIDEO_SIDE:
        raise InputError(video, f"video too large ({width}x{height}); at most {MAX_VIDEO_SIDE} px on a side")
    if min(width, height) < 64:
        raise InputError(video, f"video too small ({width}x{height}); need at least 64x64")
    return fps, width, height, duration


def write_mp4(output: str | Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: float, crf: int,
              speech: str | Path, seconds: float, pad: bool = False) -> int:
    """``frames`` (cropped to ``size``) with ``seconds`` of the speech file's sound (``pad``: silence after it) as an
    H.264 + AAC mp4 at ``output``, written atomically; returns the frames written."""
    chunks, rate, channels = source_audio(speech)
    w, h = size
    with atomic_output(output) as tmp:
        with Mp4Writer(tmp, w, h, fps, crf=crf, audio_rate=rate, audio_channels=channels) as writer:
            for frame in frames:
                writer.write(frame[:h, :w])
            writer.add_audio(chunks, max_seconds=seconds, pad=pad)
        return writer.frames
