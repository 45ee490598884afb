"""The WebSocket transport of live streaming: ``/api/stream`` (with a token: ``/api/stream?token=TOKEN``).

1. The client sends a JSON text message: ``{"image": <image file as base64 or a data URL>}`` or
   ``{"avatar": <a fit job's id>}``, with ``"rate"`` (Hz of its sound, default 16000), ``"format"`` (``"jpeg"``, the
   default, or ``"h264"``) and ``"options"`` (the stream's: ``seed``, ``head_motion``, ``blink_rate``, ``size``...).
2. The server answers ``{"ready": {"fps", "width", "height", "lookahead_s", "header"}}`` once the face is found.
3. The client sends its sound as binary messages of 16-bit little-endian mono PCM at ``rate``, in chunks of any size,
   as it is heard; ``{"say": "text", "voice": "en"}`` to have text spoken into the stream (the server answers
   ``{"said": {"pts", "rate", "pcm"}}``: where the speech starts in the stream's time and its PCM as base64, to play
   in step with the frames); ``{"end": true}`` when done.
4. The server sends each frame as a binary message: a :data:`HEADER` (frame index, uint32; media time in seconds,
   float64; latency from its sound arriving to the frame being ready in ms, float32; 1 if the frame repeats the
   previous one to catch up, uint8; little-endian, 17 bytes) and then a JPEG, or an H.264 access unit (Annex B).
5. After ``end``: the frames still waiting, ``{"summary": {frames, late, dropped, latency_ms_p50, ...}}``, close 1000.

Bad input gets ``{"error": "one line"}`` and a close with code 4400 (4401 wrong token, 4429 too many streams) and
the line as the reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import struct
from fractions import Fraction
from typing import Callable

import cv2
import numpy as np
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from talkinghead.errors import InputError
from talkinghead.serve.live import LiveSession, LiveSessions, Start
from talkinghead.serve.service import Refused

HEADER = struct.Struct("<IdfB")
log = logging.getLogger(__name__)
CLOSE_REASON_BYTES = 123  # the WebSocket protocol's limit


class Rejected(Exception):
    """A message the server does not take: the close code and one line."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def jpeg(image: np.ndarray) -> bytes:
    """An RGB frame as a JPEG file."""
    return cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def h264(fps: float) -> Callable[[np.ndarray], bytes]:
    """RGB frames -> H.264 access units, one per frame (no frame waits for a later one)."""
    import av

    codec = av.CodecContext.create("libx264", "w")
    codec.time_base = Fraction(1, 1000)
    codec.options = {"tune": "zerolatency", "preset": "ultrafast"}
    codec.gop_size = int(2 * fps)
    count = [0]

    def encode(image: np.ndarray) -> bytes:
        if count[0] == 0:
            codec.height, codec.width = (image.shape[0] // 2 * 2, image.shape[1] // 2 * 2)
            codec.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(image[:codec.height, :codec.width], format="rgb24")
        frame.pts = int(round(count[0] * 1000 / fps))
        count[0] += 1
        return b"".join(bytes(packet) for packet in codec.encode(frame))

    return encode


FORMATS = {"jpeg": lambda fps: jpeg, "h264": h264}  # format -> (fps -> encoder)


def add_websocket(app: FastAPI, sessions: LiveSessions, authorized: Callable[[str | None], bool]) -> None:
    """``/api/stream`` on ``app``; ``authorized(token)`` says whether a client's token opens it."""

    @app.websocket("/api/stream")
    async def stream(socket: WebSocket, token: str | None = None) -> None:
        await socket.accept()
        session = None
        try:
            if not authorized(token):
                raise Rejected(4401, "missing or wrong token (connect to /api/stream?token=TOKEN)")
            session = await _started(socket, sessions)
            await _serve(socket, session)
        except (InputError, Refused, Rejected) as exc:
            code = exc.code if isinstance(exc, Rejected) else 4429 if isinstance(exc, Refused) else 4400
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await socket.send_json({"error": str(exc)})
                await socket.close(code, str(exc).encode()[:CLOSE_REASON_BYTES].decode(errors="ignore"))
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # a failure of the server's own: logged, the client told, the server serves on
            log.exception("live stream failed")
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await socket.close(1011, f"the stream failed ({type(exc).__name__})")
        finally:
            if session is not None:
                session.close()


async def _message(socket: WebSocket) -> str | bytes:
    """The client's next message; WebSocketDisconnect when it has gone."""
    message = await socket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message["bytes"] if message.get("bytes") is not None else message.get("text") or ""


def _json(text: str | bytes) -> dict:
    """A client's JSON object; Rejected for anything else (binary data included)."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise Rejected(4400, "expected a JSON object (see the protocol in the README)")
    return value


async def _started(socket: WebSocket, sessions: LiveSessions) -> LiveSession:
    """A session from the client's start message, announced to it with ``ready``."""
    request = _json(await _message(socket))
    rate, kind = request.pop("rate", 16000), request.pop("format", "jpeg")
    if not isinstance(kind, str) or kind not in FORMATS:
        raise Rejected(4400, f"format {kind!r} is not one of {', '.join(FORMATS)}")
    if not isinstance(rate, int) or isinstance(rate, bool):
        raise Rejected(4400, "rate must be the sound's sample rate in Hz, an integer")
    start = Start.of(request, int(sessions.service.config.max_upload_mb * 1e6))
    session = await sessions.start(start, rate, lambda stream: _framer(FORMATS[kind](stream.config.fps)))
    config = session.stream.config
    height, width = session.stream.portrait.image.shape[:2]
    await socket.send_json({"ready": {"fps": config.fps, "width": width, "height": height,
                                      "lookahead_s": round(session.stream.lookahead_s, 3), "header": HEADER.format}})
    return session


def _framer(encode: Callable[[np.ndarray], bytes]) -> Callable:
    """A stream frame -> its binary message."""
    return lambda frame: HEADER.pack(frame.index, frame.pts, frame.latency_ms, frame.dropped) + encode(frame.image)


async def _serve(socket: WebSocket, session: LiveSession) -> None:
    """Read the client's sound and messages while the frames go out, until ``end`` (then the summary) or until the
    client goes."""

    async def send_frames() -> None:
        async for message in session.frames():
            await socket.send_bytes(message)
        await socket.send_json({"summary": session.stream.stats.summary()})
        await socket.close(1000)

    async def read() -> None:
        odd = b""  # a byte of a sample split between messages
        while True:
            message = await _message(socket)
            if isinstance(message, bytes):
                data, odd = odd + message, b""
                if len(data) % 2:
                    data, odd = data[:-1], data[-1:]
                await session.feed(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0)
                continue
            request = _json(message)
            if request.get("end"):
                return await session.end()
            if not isinstance(request.get("say"), str) or not isinstance(request.get("voice", "en"), str):
                raise Rejected(4400, "expected sound (binary), {\"say\": text, \"voice\": language} or {\"end\": true}")
            pts, samples = await session.say(request["say"], request.get("voice", "en"))
            pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
            await socket.send_json({"said": {"pts": round(pts, 4), "rate": session.rate,
                                             "pcm": base64.b64encode(pcm).decode()}})

    tasks = {asyncio.create_task(read()), asyncio.create_task(send_frames())}
    try:
        for task in (await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION))[0]:
            task.result()  # the first failure, if any
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
