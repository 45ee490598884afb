"""Where a live stream's sound comes from and where its frames go.

Sources run on threads of their own and stamp each chunk with the time it arrived (``time.monotonic``), so a
consumer that falls behind shows up as latency instead of slowing the sound down: a file played at real-time speed,
or the microphone. Sinks take each frame as it is produced: an mp4 recording with the speech, a window, a virtual
camera.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Iterator

import numpy as np

from talkinghead.audio.decode import SAMPLE_RATE, load_audio
from talkinghead.errors import InputError
from talkinghead.io.video import Mp4Writer, atomic_output

Chunk = tuple[np.ndarray, int, float]  # float32 mono samples, their rate, when they arrived (time.monotonic)


class LiveSource:
    """Chunks put on a queue by a producer thread, read in order until the source ends or is closed."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Chunk | None] = queue.Queue()
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[Chunk]:
        while (chunk := self._queue.get()) is not None:
            yield chunk

    def close(self) -> None:
        """Stop producing; the iteration ends after what was queued."""
        self._stop.set()
        self._queue.put(None)


class FilePlayer(LiveSource):
    """A speech file played at ``speed`` times real time in chunks of ``chunk_ms`` (as a microphone would give it)."""

    def __init__(self, path: str | Path, chunk_ms: float = 20.0, speed: float = 1.0) -> None:
        super().__init__()
        self.audio = load_audio(path)
        self.chunk = max(1, int(round(chunk_ms / 1000 * SAMPLE_RATE)))
        self.speed = speed
        threading.Thread(target=self._play, name="talkinghead-player", daemon=True).start()

    def _play(self) -> None:
        samples, start = self.audio.samples, time.monotonic()
        for i in range(0, len(samples), self.chunk):
            block = samples[i:i + self.chunk]
            due = start + (i + len(block)) / SAMPLE_RATE / self.speed  # a chunk exists once its last sample was said
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            self._queue.put((block, SAMPLE_RATE, time.monotonic()))
        self._queue.put(None)


class Microphone(LiveSource):
    """The default input device through PortAudio (``sounddevice``), ``chunk_ms`` at a time."""

    def __init__(self, chunk_ms: float = 20.0, rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        try:
            import sounddevice
        except (ImportError, OSError) as exc:
            raise InputError(None, f"microphone input needs sounddevice and PortAudio (pip install "
                                   f"'talkinghead[mic]'; apt-get install libportaudio2): {exc}") from None
        put = self._queue.put

        def heard(block: np.ndarray, frames: int, when: object, status: object) -> None:
            put((block[:, 0].copy(), rate, time.monotonic()))

        try:
            self._input = sounddevice.InputStream(rate, int(chunk_ms / 1000 * rate), channels=1, dtype="float32",
                                                  callback=heard)
        except Exception as exc:  # PortAudioError, or no input device at all
            raise InputError(None, f"no microphone to record from ({exc})") from None
        self._input.start()

    def close(self) -> None:
        self._input.close()
        super().close()


class Recorder:
    """The frames as they were produced, with the speech that drove them, as an mp4 written atomically."""

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float, crf: int = 20) -> None:
        self._files = ExitStack()
        tmp = self._files.enter_context(atomic_output(path))
        self.writer = self._files.enter_context(Mp4Writer(tmp, *size, fps, crf, audio_rate=SAMPLE_RATE))
        self.size = size

    def frame(self, image: np.ndarray) -> None:
        self.writer.write(image[:self.size[1], :self.size[0]])

    def sound(self, samples: np.ndarray) -> None:
        self.writer.write_audio(samples[None])

    def close(self, ok: bool = True) -> None:
        """Finish the file (``ok``), or remove what was written."""
        if ok:
            self._files.close()
        else:
            stopped = RuntimeError("stream stopped")
            self._files.__exit__(RuntimeError, stopped, None)


class Window:
    """Frames shown in a window (OpenCV's), as they come."""

    def __init__(self, title: str = "talkinghead") -> None:
        if os.name != "nt" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise InputError(None, "--window needs a display (no DISPLAY here); try --record out.mp4")
        import cv2

        self.cv2, self.title = cv2, title

    def frame(self, image: np.ndarray) -> None:
        self.cv2.imshow(self.title, image[:, :, ::-1])
        self.cv2.waitKey(1)

    def close(self, ok: bool = True) -> None:
        self.cv2.destroyWindow(self.title)


class VirtualCamera:
    """Frames sent to a virtual camera (``pyvirtualcam``: v4l2loopback on Linux, OBS's on Windows and macOS)."""

    def __init__(self, size: tuple[int, int], fps: float) -> None:
        try:
            import pyvirtualcam

            self.camera = pyvirtualcam.Camera(*size, fps)
        except ImportError:
            raise InputError(None, "--virtual-camera needs pyvirtualcam (pip install pyvirtualcam)") from None
        except RuntimeError as exc:
            raise InputError(None, f"no virtual camera on this system ({exc})") from None
        self.size = size

    def frame(self, image: np.ndarray) -> None:
        self.camera.send(np.ascontiguousarray(image[:self.size[1], :self.size[0]]))

    def close(self, ok: bool = True) -> None:
        self.camera.close()
