"""Live streaming on ``talkinghead serve``: what its WebSocket and WebRTC transports share.

A client starts a stream with a portrait (an uploaded image, or an avatar made by a fit job) and the stream's
options. Each :class:`LiveSession` draws on its own worker thread, so one client's frames never hold up another's,
and hands the event loop its frames in order. Text to speak is said by espeak-ng and mixed into the client's sound,
so its lips are drawn from the very sound the client hears. :class:`LiveSessions` caps how many streams run at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable, Generic, TypeVar

import numpy as np

from talkinghead.config import coerced
from talkinghead.errors import InputError
from talkinghead.serve.kinds import client_options, limited_image
from talkinghead.serve.service import Refused, Service

if TYPE_CHECKING:
    from talkinghead.pipeline.stream import Stream, StreamFrame

T = TypeVar("T")
MAX_TEXT = 1000  # characters of text to speak at once
BACKLOG = 32  # chunks handed to a worker and not drawn yet; past this the transport stops reading the client


@dataclass
class Start:
    """What a client asks for when it starts a stream: a portrait (image bytes) or an avatar (a fit job's id), and
    the stream's options (``StreamConfig`` fields: seed, head_motion, size...)."""

    image: bytes | None = None
    avatar: str | None = None
    options: dict = field(default_factory=dict)

    @classmethod
    def of(cls, message: object, max_bytes: int) -> Start:
        """The request in a client's JSON object (``image`` as base64 or a data URL, ``avatar``, ``options``);
        InputError for anything else."""
        if not isinstance(message, dict):
            raise InputError(None, "the start message must be a JSON object")
        unknown = sorted(set(message) - {"image", "avatar", "options"})
        if unknown:
            raise InputError(None, f"unknown field {unknown[0]!r} (the stream's options go in 'options')")
        image, avatar, options = message.get("image"), message.get("avatar"), message.get("options") or {}
        if not isinstance(options, dict):
            raise InputError(None, "options must be a JSON object")
        if avatar is not None and not isinstance(avatar, str):
            raise InputError(None, "avatar must be the id of a finished fit job")
        if image is None:
            if avatar is None:
                raise InputError(None, "give a portrait ('image': the image file as base64) or an avatar ('avatar': "
                                 "a fit job's id)")
            return cls(None, avatar, options)
        if not isinstance(image, str) or len(image) > max_bytes * 4 / 3 + 100:
            raise InputError("image", f"give the image file as base64, at most {max_bytes / 1e6:g} MB")
        try:
            data = base64.b64decode(image.split(",", 1)[1] if image.startswith("data:") else image, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("image", "not base64 (give the image file as base64 or a data URL)") from None
        return cls(data, avatar, options)


def spoken(text: str, voice: str, rate: int) -> np.ndarray:
    """``text`` said by espeak-ng, as float samples at ``rate`` Hz."""
    from talkinghead.audio.decode import resample
    from talkinghead.data.tts import synthesize

    if not text.strip() or len(text) > MAX_TEXT:
        raise InputError(None, f"give text to speak of 1 to {MAX_TEXT} characters")
    audio = synthesize(text, voice).to_audio()
    return resample(audio.samples, audio.rate, rate)


class LiveSession(Generic[T]):
    """One client's stream on its own worker thread: chunks of sound (and text to speak) in at ``rate`` Hz, each
    frame out as ``encode`` makes it on the worker, in order."""

    def __init__(self, stream: Stream, rate: int, encode: Callable[[StreamFrame], T], worker: ThreadPoolExecutor,
                 release: Callable[[LiveSession], None]) -> None:
        self.stream = stream
        self.rate = rate
        self.received = 0  # samples fed
        self.closed = False
        self.hangup: Callable[[], Awaitable[None]] | None = None  # the transport's teardown, awaited at shutdown
        self._encode = encode
        self._worker = worker
        self._release = release
        self._speech = np.zeros(0, np.float32)  # said text not mixed in yet
        self._outbox: asyncio.Queue[asyncio.Future | None] = asyncio.Queue(BACKLOG)

    async def feed(self, samples: np.ndarray, arrived: float | None = None) -> np.ndarray:
        """Hand mono float ``samples`` that arrived at ``arrived`` (``time.monotonic``; default now) to the worker,
        with any text said mixed in; the samples as drawn. Waits while the worker is :data:`BACKLOG` chunks behind."""
        arrived = time.monotonic() if arrived is None else arrived
        samples = np.asarray(samples, np.float32).reshape(-1)
        said, self._speech = self._speech[:len(samples)], self._speech[len(samples):]
        if len(said):
            samples = np.clip(np.concatenate([samples[:len(said)] + said, samples[len(said):]]), -1.0, 1.0)
        self.received += len(samples)
        await self._outbox.put(self._run(self._push, samples, arrived))
        return samples

    async def say(self, text: str, voice: str = "en") -> tuple[float, np.ndarray]:
        """Speak ``text`` (on the worker, between chunks) after any text still being said: (its start in the
        stream's time, s; its samples)."""
        samples = await self._run(spoken, text, voice, self.rate)
        start = self.received + len(self._speech)
        self._speech = np.concatenate([self._speech, samples])
        return start / self.rate, samples

    async def end(self) -> None:
        """No more sound: text still being said is drawn over silence, the frames still waiting for look-ahead
        follow, then :meth:`frames` ends."""
        if len(self._speech):
            await self.feed(np.zeros(len(self._speech), np.float32))
        await self._outbox.put(self._run(self._flush))
        await self._outbox.put(None)

    async def frames(self) -> AsyncIterator[T]:
        """Each frame as encoded, in order, until :meth:`end`."""
        while (job := await self._outbox.get()) is not None:
            for item in await job:
                yield item

    def close(self) -> None:
        """Stop the worker (after the chunk it is drawing) and give back the stream's place."""
        if not self.closed:
            self.closed = True
            self._worker.shutdown(wait=False, cancel_futures=True)
            self.stream.stop()
            self._release(self)

    def _run(self, call: Callable, *args: object) -> asyncio.Future:
        return asyncio.wrap_future(self._worker.submit(call, *args))

    def _push(self, samples: np.ndarray, arrived: float) -> list[T]:
        return [self._encode(frame) for frame in self.stream.push(samples, self.rate, arrived)]

    def _flush(self) -> list[T]:
        return [self._encode(frame) for frame in self.stream.close()]


class LiveSessions:
    """The server's live streams: at most ``max_streams`` at once, each started from a checked :class:`Start`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.open: set[LiveSession] = set()
        self._starting = 0  # sessions whose portrait is being read

    async def start(self, start: Start, rate: int, encoder: Callable[[Stream], Callable[[StreamFrame], T]]
                    ) -> LiveSession[T]:
        """A session drawing ``start``'s portrait from sound at ``rate`` Hz, its frames encoded by
        ``encoder(stream)``; InputError for a bad portrait or option, :class:`Refused` (429) when the server streams
        to as many clients as it may."""
        limit = self.service.config.max_streams
        if len(self.open) + self._starting >= limit:
            raise Refused(429, f"the server is streaming to {limit} clients already; try again later")
        if not 1000 <= rate <= 192000:
            raise InputError(None, f"rate {rate} is outside 1000..192000 Hz")
        worker = ThreadPoolExecutor(1, thread_name_prefix="talkinghead-live")
        self._starting += 1
        try:
            stream = await asyncio.wrap_future(worker.submit(self._stream, start))
        except BaseException:
            worker.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            self._starting -= 1
        session: LiveSession[T] = LiveSession(stream, rate, encoder(stream), worker, self.open.discard)
        self.open.add(session)
        return session

    async def close_all(self) -> None:
        """Stop every stream and hang up the transports that need it (the server is stopping)."""
        sessions = list(self.open)
        for session in sessions:
            session.close()
        await asyncio.gather(*(s.hangup() for s in sessions if s.hangup), return_exceptions=True)

    def _stream(self, start: Start) -> Stream:
        """The stream of ``start``'s portrait with its options (on the session's worker; imports torch)."""
        from talkinghead.face.portrait import portrait_of
        from talkinghead.pipeline.options import StreamConfig
        from talkinghead.pipeline.animate import portrait_for
        from talkinghead.pipeline.stream import Stream

        avatar = str(self.service.avatar_path(start.avatar)) if start.avatar else None
        options = client_options(StreamConfig, start.options, "streaming")
        config = StreamConfig(**coerced(StreamConfig, {**options, "avatar": avatar}))
        if start.image is None:
            return Stream(portrait_for(None, config), config)
        with tempfile.TemporaryDirectory(prefix="talkinghead-live-") as folder:
            path = Path(folder) / "image"
            path.write_bytes(start.image)
            try:
                image = limited_image(path, self.service.limits)
                portrait = portrait_of(image, config.size, config.face_index, config.full_frame, path)
            except InputError as exc:
                raise InputError("image", exc.problem) from None
        return Stream(portrait, config)
