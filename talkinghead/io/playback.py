"""Playing a video's frames in any order: forward, looped or ping-pong, with seeks and bounded memory.

A first forward pass records every frame's timestamp; later passes seek by timestamp (MPEG program and transport
streams, whose seeks are unreliable, decode from the start instead) and decode backward runs in blocks that fit a
memory budget, so memory stays flat however long the video and whichever way it plays.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from talkinghead.errors import InputError
from talkinghead.io.video import upright

BLOCK_BYTES = 128 * 2**20  # decoded frames (in their own pixel format) held at once while playing backwards
# MPEG program and transport streams seek by byte position: frames decoded after a seek can differ from the first
# pass, so these are always decoded from the start
UNSEEKABLE = {"mpeg", "mpegts", "mpegvideo"}


def frame_order(n_source: int, n_out: int, mode: str = "pingpong") -> np.ndarray:
    """Source frame of each of ``n_out`` output frames: forward, then ``loop`` from the start or ``pingpong``."""
    if n_source <= 0:
        raise ValueError("a video without frames has no order")
    j = np.arange(n_out)
    if mode == "loop" or n_source == 1:
        return j % n_source
    if mode != "pingpong":
        raise ValueError(f"unknown playback mode {mode!r}; choose loop or pingpong")
    period = 2 * n_source - 2
    k = j % period
    return np.where(k < n_source, k, period - k)


def runs(order: np.ndarray) -> list[tuple[int, int]]:
    """``order`` split into runs of consecutive frames going one way: (first, last) source frames, inclusive."""
    order = [int(i) for i in order]
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(order) + 1):
        step = order[i] - order[i - 1] if i < len(order) else 0
        if abs(step) != 1 or (i - start > 1 and step != order[i - 1] - order[i - 2]):
            out.append((order[start], order[i - 1]))
            start = i
    return out


class FrameReader:
    """RGB frames of a video's first stream by index; :meth:`scan` must run once first to learn the timestamps."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.pts: list[int] = []
        self.frame_bytes = 0

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    def _open(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        container = av.open(str(self.path))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container, stream

    def scan(self) -> Iterator[np.ndarray]:
        """Every frame in display order, recording its timestamp."""
        self.pts = []
        try:
            container, stream = self._open()
            with container:
                for frame in container.decode(stream):
                    if frame.pts is None or self.pts and frame.pts <= self.pts[-1]:
                        raise InputError(self.path, "video frames lack increasing timestamps (remux it to mp4 or mkv)")
                    self.pts.append(frame.pts)
                    self.frame_bytes = sum(plane.buffer_size for plane in frame.planes)
                    yield upright(frame)
        except av.error.FFmpegError as exc:
            raise InputError(self.path, f"video cannot be decoded ({type(exc).__name__})") from None

    def frames(self, order: np.ndarray) -> Iterator[np.ndarray]:
        """The frames at the indices ``order``, in that order."""
        if not self.pts:
            raise RuntimeError("scan() the video before reading frames by index")
        per_block = max(4, BLOCK_BYTES // self.frame_bytes)
        try:
            for first, last in runs(np.asarray(order)):
                if last >= first:
                    yield from map(upright, self._forward(first, last))
                    continue
                for hi in range(first, last - 1, -per_block):  # blocks held as decoded (YUV), not as RGB
                    lo = max(last, hi - per_block + 1)
                    yield from map(upright, reversed(list(self._forward(lo, hi))))
        except av.error.FFmpegError as exc:
            raise InputError(self.path, f"video cannot be decoded ({type(exc).__name__})") from None

    def _forward(self, first: int, last: int) -> Iterator[av.VideoFrame]:
        """Decoded frames ``first``..``last`` (inclusive): seek to a keyframe before ``first``, then decode on.

        Only frames from the first keyframe after the seek on count. A seek that lands past the frame wanted next
        is retried further back, down to decoding from the start, so the frames always match the first pass.
        """
        back = 0
        while True:
            container, stream = self._open()
            with container:
                target = self.pts[first] - back if container.format.name not in UNSEEKABLE else self.pts[0]
                sought = target > self.pts[0]
                if sought:
                    container.seek(target, stream=stream, backward=True)
                second = int(1 / stream.time_base)
                # after a seek, frames before the first keyframe may miss their references; from the start, every
                # frame decodes as in the first pass (some streams open on a frame not flagged as a keyframe)
                key_pts = None if sought else -np.inf
                for frame in container.decode(stream):
                    if key_pts is None and frame.key_frame:
                        key_pts = frame.pts
                    index = bisect.bisect_left(self.pts, frame.pts)
                    seen = index < len(self.pts) and self.pts[index] == frame.pts
                    if key_pts is None or frame.pts < key_pts or not seen or index < first:
                        continue  # not decodable yet, one the first pass did not see, or before the frames wanted
                    if index > first:
                        break
                    yield frame
                    if first == last:
                        return
                    first += 1
            if not sought:
                raise InputError(self.path, f"frame {first} cannot be found again (the video decodes differently)")
            back = 2 * back + second
