"""Video in and out with PyAV: frames from any container, H.264 + AAC mp4 written atomically."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from fractions import Fraction
from itertools import chain, repeat
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from talkinghead.audio.decode import decode_chunks
from talkinghead.errors import InputError, existing_file


def quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (0-3) that the frame's display matrix asks for."""
    return int(round((frame.rotation or 0) / 90)) % 4


def upright(frame: av.VideoFrame) -> np.ndarray:
    """The frame as RGB uint8, turned as its display matrix says (phones store portrait video on its side)."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = quarter_turns(frame)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def video_info(path: str | Path) -> tuple[float, int, int, float]:
    """fps, width, height (as displayed) and duration (s) of the first video stream; InputError if there is none or it
    is a picture."""
    path = existing_file(path, "a video")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(path, "has no video track")
            if container.format.name == "image2" or container.format.name.endswith("_pipe"):
                raise InputError(path, "is a still picture, not a video")
            s = container.streams.video[0]
            fps = float(s.average_rate or s.guessed_rate or 25)
            duration = float(s.duration * s.time_base) if s.duration else float(container.duration or 0) / av.time_base
            first = next(container.decode(s), None)
            turned = first is not None and quarter_turns(first) % 2 == 1
            w, h = s.codec_context.width, s.codec_context.height
            return (fps, h, w, duration) if turned else (fps, w, h, duration)
    except av.error.FFmpegError as exc:
        raise InputError(path, f"not a readable video ({type(exc).__name__})") from None


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """RGB uint8 frames of the first video stream, in display order."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield upright(frame)
    except av.error.FFmpegError as exc:
        raise InputError(path, f"video cannot be decoded ({type(exc).__name__})") from None


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that is renamed to it on success and removed on failure."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(path, "output folder does not exist")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(path, f"cannot write in the output folder ({exc.strerror})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes private files; outputs get the usual mode
        os.replace(tmp_path, path)
    except InputError as exc:
        if exc.path != str(tmp_path):
            raise
        raise InputError(path, exc.problem) from None  # the user knows the output by its own name
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class Mp4Writer:
    """Streams RGB frames to H.264 (yuv420p) and, when ``audio_rate`` is given, an AAC track.

    Use as a context manager around :meth:`write` and :meth:`add_audio`.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, crf: int = 20,
                 preset: str = "veryfast", audio_rate: int | None = None, audio_channels: int = 1) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 needs even frame sizes, got {width}x{height}")
        self.path = Path(path)
        self.container = av.open(str(self.path), mode="w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001)
        self.video = self.container.add_stream("libx264", rate=rate)
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        self.video.options = {"crf": str(crf), "preset": preset}
        self.video.thread_type = "AUTO"
        self.audio = None
        if audio_rate:
            self.audio = self.container.add_stream("aac", rate=audio_rate, layout="stereo" if audio_channels == 2 else "mono")
            self.audio.bit_rate = 128000
        self.frames = 0
        self.audio_samples = 0  # samples of the sound track encoded so far

    def write(self, rgb: np.ndarray) -> None:
        """Encode one RGB uint8 frame."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def add_audio(self, chunks: Iterable[np.ndarray], max_seconds: float | None = None, pad: bool = False) -> None:
        """Encode planar float chunks (channels, n) at the writer's audio rate, cut at ``max_seconds``.

        ``pad``: when the chunks end sooner, silence fills the track up to ``max_seconds``.
        """
        stream = self.audio
        limit = int(round(max_seconds * stream.rate)) if max_seconds is not None else None
        if pad and limit is not None:
            silence = np.zeros((len(stream.layout.channels), stream.rate), np.float32)
            chunks = chain(chunks, repeat(silence, limit // stream.rate + 1))
        for block in chunks:
            if limit is not None:
                block = block[:, : max(0, limit - self.audio_samples)]
            if block.shape[1] == 0:
                break
            self.write_audio(block)

    def write_audio(self, block: np.ndarray) -> None:
        """Encode the next planar float block (channels, n) of the sound track."""
        stream = self.audio
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, np.float32), format="fltp",
                                           layout=stream.layout.name)
        frame.sample_rate, frame.pts, frame.time_base = stream.rate, self.audio_samples, Fraction(1, stream.rate)
        self.audio_samples += block.shape[1]
        for packet in stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoders and finish the file."""
        for stream in (self.video, self.audio) if self.audio_samples else (self.video,):
            for packet in stream.encode(None):
                self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.container.close()


def audio_format(path: str | Path, max_rate: int = 48000) -> tuple[int, int]:
    """Rate (at most ``max_rate``) and channel count (1 or 2) to mux the speech file's audio with."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return min(stream.rate or 44100, max_rate), 2 if (stream.channels or 1) >= 2 else 1


def source_audio(path: str | Path) -> tuple[Iterator[np.ndarray], int, int]:
    """The speech file's audio for muxing, streamed: (chunks, rate, channels)."""
    rate, channels = audio_format(path)
    return decode_chunks(path, rate, "stereo" if channels == 2 else "mono"), rate, channels
