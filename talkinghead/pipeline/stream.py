"""Live streaming: speech arriving in chunks -> talking-face frames with their timestamps, as the speech is heard.

A :class:`Stream` holds one portrait (or an avatar's still) and its renderer. Each pushed chunk of sound (any size,
any rate) goes to the causal lips (:class:`~talkinghead.motion.streaming_lips.StreamingLips`, a small look-ahead)
and to the live face (:class:`~talkinghead.motion.live.LiveMotion`: blinks, brows, head, gaze); each frame whose
lips are decided is drawn at once. Silence is speech too: it gives an idle face that still blinks and moves.

Each frame carries when the sound it shows arrived and when it was drawn, so latency is measured where it arises:
from the chunk holding the frame's first sound sample entering :meth:`Stream.push` to the frame leaving it.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

import av
import numpy as np
import torch

from talkinghead.audio.decode import SAMPLE_RATE
from talkinghead.audio.live import FrameSound, LiveSound
from talkinghead.audio.signal import SILENCE_DB
from talkinghead.face.portrait import Portrait
from talkinghead.motion.live import LiveMotion, LiveMotionConfig
from talkinghead.motion.streaming_lips import StreamingLips
from talkinghead.pipeline.options import StreamConfig
from talkinghead.render import registry as renderers

QUIET = FrameSound(SILENCE_DB, 0.0, 0.0)


@dataclass
class StreamFrame:
    """One frame of a stream: its index and media time (s), the picture, and the wall-clock times (``time.monotonic``)
    when the chunk holding its first sound sample arrived and when the frame was ready; ``dropped`` when the picture
    is the previous frame's because the stream was catching up."""

    index: int
    pts: float
    image: np.ndarray
    heard_at: float
    ready_at: float
    dropped: bool = False

    @property
    def latency_ms(self) -> float:
        """From its sound arriving to the frame being ready, in milliseconds."""
        return 1000.0 * (self.ready_at - self.heard_at)


@dataclass
class StreamStats:
    """What a stream measured: frames, late and dropped ones, and the latency of each."""

    frames: int = 0
    late: int = 0
    dropped: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, frame: StreamFrame, deadline_ms: float) -> None:
        self.frames += 1
        self.dropped += frame.dropped
        self.late += frame.latency_ms > deadline_ms and not frame.dropped
        self.latencies_ms.append(frame.latency_ms)

    def summary(self) -> dict:
        """Counts and latency percentiles (ms) as a JSON-ready dict."""
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {"frames": self.frames, "late": self.late, "dropped": self.dropped,
                "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
                "latency_ms_p95": round(float(np.percentile(lat, 95)), 1),
                "latency_ms_max": round(float(lat.max()), 1)}


class Stream:
    """Chunks of speech in, frames out: ``push`` returns the frames each chunk completes, ``close`` the rest.

    Making one sets torch to one thread in this process: the lips run in small steps, where a thread pool costs more
    than it gains, and concurrent streams share the cores."""

    def __init__(self, portrait: Portrait, config: StreamConfig | None = None) -> None:
        self.config = c = config or StreamConfig()
        torch.set_num_threads(1)
        self.portrait = portrait
        self.draw = renderers.create(c.renderer_name, Portrait, avatar=c.avatar).live_drawer(portrait)
        self.lips = StreamingLips(fps=c.fps)
        self.sound = LiveSound(c.fps)
        self.face = LiveMotion(LiveMotionConfig(seed=c.seed, blink_rate=c.blink_rate, expression=c.expression,
                                                head_motion=c.head_motion), c.fps)
        self.stats = StreamStats()
        self._pool = ThreadPoolExecutor(c.render_threads, thread_name_prefix="talkinghead-draw")
        self._drawing: deque[tuple[float, bool, Future]] = deque()  # frames being drawn, in order: heard, dropped
        self._stopped = False
        self._faces: deque[dict[str, float]] = deque()  # live-face channels of frames whose lips are not decided yet
        self._arrivals: deque[tuple[int, float]] = deque()  # (first sample index, arrival time) of pushed chunks
        self._resamplers: dict[int, av.AudioResampler] = {}
        self._received = 0
        self._index = 0
        self._last: np.ndarray | None = None

    @property
    def lookahead_s(self) -> float:
        """Seconds of sound past a frame's end that its lips wait for."""
        return self.lips.lookahead_s

    def push(self, samples: np.ndarray, rate: int = SAMPLE_RATE, arrived: float | None = None) -> list[StreamFrame]:
        """Frames completed by a chunk of mono float samples at ``rate`` Hz that arrived at ``arrived`` (default:
        now, ``time.monotonic``)."""
        arrived = time.monotonic() if arrived is None else arrived
        samples = self._resampled(np.asarray(samples, np.float32).reshape(-1), rate)
        self._arrivals.append((self._received, arrived))
        self._received += len(samples)
        self._faces.extend(self.face.step(s) for s in self.sound.push(samples))
        self._draw(self.lips.push(samples))
        return self._finished(len(self._drawing) - self.config.render_threads)

    def close(self) -> list[StreamFrame]:
        """End of speech: the frames still waiting for look-ahead, drawn over the sound's end; the drawing threads
        end."""
        self._draw(self.lips.flush())
        frames = self._finished(len(self._drawing))
        self._pool.shutdown()
        return frames

    def stop(self) -> None:
        """Stop drawing (the listener left): frames being drawn are abandoned, the drawing threads end, and later
        frames repeat the last one drawn. Safe from any thread."""
        self._stopped = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _resampled(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """``samples`` at 16 kHz, through one resampler per input rate that carries its filter state across chunks."""
        if rate == SAMPLE_RATE or len(samples) == 0:
            return samples
        resampler = self._resamplers.setdefault(rate, av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE))
        frame = av.AudioFrame.from_ndarray(samples[None], format="flt", layout="mono")
        frame.sample_rate = rate
        out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def _heard_at(self, index: int) -> float:
        """Arrival time of the chunk holding frame ``index``'s first sound sample."""
        first = int(round(index / self.config.fps * SAMPLE_RATE))
        while len(self._arrivals) > 1 and self._arrivals[1][0] <= first:
            self._arrivals.popleft()
        return self._arrivals[0][1]

    def _draw(self, lips: np.ndarray) -> None:
        """Start drawing a frame for each row of lip channels, with the live face of the same frame; a frame whose
        sound came more than ``drop_after_ms`` ago is not drawn (the one before it is shown again)."""
        for row in lips:
            face = self._faces.popleft() if self._faces else self.face.step(QUIET)  # the sound's last partial frame
            drawing = self.draw({**face, **dict(zip(self.lips.channels, map(float, row)))})
            index = self._index + len(self._drawing)
            heard = self._heard_at(index)
            behind = time.monotonic() - heard > self.config.drop_after_ms / 1000 and index > 0
            self._drawing.append((heard, behind, None if behind else self._submit(drawing)))

    def _submit(self, drawing: Callable[[], np.ndarray]) -> Future | None:
        """The drawing started on a drawing thread; None once the stream was stopped (even from another thread)."""
        try:
            return None if self._stopped else self._pool.submit(drawing)
        except RuntimeError:  # stopped meanwhile: the pool takes no more work
            return None

    def _finished(self, wait_for: int) -> list[StreamFrame]:
        """The frames drawn by now in order, after waiting for the first ``wait_for`` of those being drawn."""
        out = []
        while self._drawing and (wait_for > 0 or self._drawing[0][2] is None or self._drawing[0][2].done()):
            heard, dropped, drawing = self._drawing.popleft()
            image = self._last if drawing is None or drawing.cancelled() else drawing.result()
            frame = StreamFrame(self._index, self._index / self.config.fps, image, heard, time.monotonic(), dropped)
            self.stats.add(frame, self.config.deadline_ms)
            self._last = image
            self._index += 1
            wait_for -= 1
            out.append(frame)
        return out


class Sink(Protocol):
    """Where frames go (:mod:`talkinghead.io.live`); a sink with a ``sound`` method also takes the speech."""

    def frame(self, image: np.ndarray) -> None: ...

    def close(self, ok: bool = True) -> None: ...


class SinkThread:
    """Feeds the sinks on a thread of their own (encoding a recording does not hold up the next frame)."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = sinks
        self._queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="talkinghead-sinks", daemon=True)
        self._thread.start()

    def put(self, kind: str, data: np.ndarray) -> None:
        """Queue a frame (``kind`` "frame") or a chunk of 16 kHz speech ("sound"); re-raises a sink's error."""
        if self.error is not None:
            raise self.error
        self._queue.put((kind, data))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is None:
                kind, data = item
                try:
                    for sink in self.sinks:
                        if hasattr(sink, kind):
                            getattr(sink, kind)(data)
                except BaseException as exc:  # noqa: BLE001 - handed to the stream's thread by put/close
                    self.error = exc

    def close(self, ok: bool) -> None:
        """Wait for what is queued, then close every sink (``ok``: finish the files; else remove them)."""
        self._queue.put(None)
        self._thread.join()
        for sink in self.sinks:
            sink.close(ok and self.error is None)
        if ok and self.error is not None:
            raise self.error


def process_usage() -> tuple[float, float]:
    """(CPU seconds this process has used, its resident memory in MB; 0 where /proc is missing)."""
    times = os.times()
    try:
        rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError):
        rss = 0.0
    return times.user + times.system, rss


def play(stream: Stream, source: Iterable[tuple[np.ndarray, int, float]], sinks: Sequence[Sink] = (),
         on_frame: Callable[[StreamFrame], None] | None = None) -> dict:
    """Run the chunks of ``source`` (samples, rate, arrival time) through ``stream`` into ``sinks`` until it ends;
    the stream's summary with the CPU load and the memory (MB) at the start, at the end and at its peak."""
    feeder = SinkThread(sinks)
    cpu0, rss0 = process_usage()
    start, peak, ok = time.monotonic(), rss0, False
    heard = 0
    try:
        for samples, rate, arrived in source:
            frames = stream.push(samples, rate, arrived)
            heard += len(samples) / rate
            if rate == SAMPLE_RATE:
                feeder.put("sound", samples)
            for frame in frames:
                feeder.put("frame", frame.image)
                if on_frame:
                    on_frame(frame)
            if frames and frames[-1].index % 250 == 0:
                peak = max(peak, process_usage()[1])
        for frame in stream.close():
            feeder.put("frame", frame.image)
            if on_frame:
                on_frame(frame)
        ok = True
    finally:
        feeder.close(ok)
    cpu1, rss1 = process_usage()
    wall = time.monotonic() - start
    return {**stream.stats.summary(), "fps": stream.config.fps,
            "seconds": round(stream.stats.frames / stream.config.fps, 3), "audio_seconds": round(heard, 3),
            "wall_seconds": round(wall, 3), "lookahead_ms": round(1000 * stream.lookahead_s, 1),
            "cpu_percent": round(100 * (cpu1 - cpu0) / max(wall, 1e-9), 1), "rss_mb_start": round(rss0, 1),
            "rss_mb_end": round(rss1, 1), "rss_mb_peak": round(max(peak, rss1), 1)}
