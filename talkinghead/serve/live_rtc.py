"""The WebRTC transport of live streaming (aiortc): ``POST /api/stream/offer``.

The body is the browser's offer with the start request of the WebSocket transport: ``{"sdp", "type": "offer",
"image" | "avatar", "options"}``; the reply is the answer ``{"sdp", "type": "answer"}`` (400 bad input, 429 busy).
The browser's microphone track feeds the stream as its packets arrive; the server sends back a video track of the
frames (RTP time from each frame's pts) and an audio track of the same sound, with any text said mixed in.

Sync: browsers play one peer's tracks in step by the RTCP sender reports, which tie RTP time to the wall clock at
sending. So each stretch of sound is sent when the frame that shows it is sent: the sound is held back by exactly
the look-ahead and drawing time of its frames, and lips match sound however long drawing takes.

A data channel, if the browser opens one, takes ``{"say": text, "voice": language}`` and carries
``{"frame", "pts", "latency_ms", "dropped"}`` for each frame and ``{"error": line}``. The connection closes when the
browser hangs up, its connection fails, or it does not connect within :data:`CONNECT_S`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from fastapi import FastAPI, HTTPException, Request

from talkinghead.errors import InputError
from talkinghead.serve.live import LiveSession, LiveSessions, Start
from talkinghead.serve.service import Refused

RATE = 48000  # Hz of the sound both ways (Opus)
PACKET = 960  # samples of sound per packet sent (20 ms)
VIDEO_CLOCK = 90000  # RTP clock of video
CONNECT_S = 30.0
log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from talkinghead.pipeline.stream import StreamFrame


class FrameTrack(MediaStreamTrack):
    """The stream's frames as a video track."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.frames: asyncio.Queue[av.VideoFrame | None] = asyncio.Queue()

    async def recv(self) -> av.VideoFrame:
        frame = await self.frames.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame


class SoundTrack(MediaStreamTrack):
    """The stream's sound as an audio track, let out only as far as the frames sent so far show it."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._sound = np.zeros(0, np.int16)  # from sample `_sent` on
        self._sent = self._released = 0
        self._ended = False
        self._changed = asyncio.Event()

    def add(self, samples: np.ndarray) -> None:
        """Float samples at :data:`RATE` that follow those added before."""
        self._sound = np.concatenate([self._sound, (np.clip(samples, -1, 1) * 32767).astype(np.int16)])

    def release(self, until: int) -> None:
        """Let the sound out up to sample ``until``."""
        self._released = max(self._released, until)
        self._changed.set()

    def finish(self) -> None:
        """Let all the sound out, then end."""
        self._released, self._ended = self._sent + len(self._sound), True
        self._changed.set()

    async def recv(self) -> av.AudioFrame:
        while self._released - self._sent < PACKET:
            if self._ended:
                self.stop()
                raise MediaStreamError
            self._changed.clear()
            await self._changed.wait()
        packet, self._sound = self._sound[:PACKET], self._sound[PACKET:]
        frame = av.AudioFrame.from_ndarray(packet[None], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._sent, Fraction(1, RATE)
        self._sent += PACKET
        return frame


def video_frame(frame: StreamFrame) -> tuple[StreamFrame, av.VideoFrame]:
    """A stream frame with its picture as a video frame timed by its pts (made on the session's worker)."""
    video = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
    video.pts, video.time_base = int(round(frame.pts * VIDEO_CLOCK)), Fraction(1, VIDEO_CLOCK)
    return frame, video


class Connection:
    """One browser's peer connection: its microphone into the session, the frames and the sound back."""

    def __init__(self, pc: RTCPeerConnection, session: LiveSession[tuple[StreamFrame, av.VideoFrame]]) -> None:
        self.pc = pc
        self.session = session
        self.video = FrameTrack()
        self.sound = SoundTrack()
        self.channel: RTCDataChannel | None = None
        self.tasks: set[asyncio.Task] = set()
        self.closed = False
        self.spawn(self.give())
        self.spawn(self.watch())

    def spawn(self, work: Any) -> None:
        """Run ``work`` until it ends or the connection closes; a failure is logged."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live stream failed", exc_info=task.exception())

    async def take(self, track: MediaStreamTrack) -> None:
        """Feed the microphone's sound to the session as it arrives, then end the stream."""
        to_rate = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        try:
            while not self.session.closed:
                frame = await track.recv()
                arrived = time.monotonic()
                for part in to_rate.resample(frame):
                    self.sound.add(await self.session.feed(part.to_ndarray().reshape(-1), arrived))
        except MediaStreamError:
            if not self.session.closed:
                await self.session.end()

    async def give(self) -> None:
        """Send each frame as it is drawn, and the sound it shows with it; close once the stream has ended."""
        fps = self.session.stream.config.fps
        try:
            async for frame, video in self.session.frames():
                self.video.frames.put_nowait(video)
                self.sound.release(int(round((frame.index + 1) / fps * RATE)))
                self.tell({"frame": frame.index, "pts": round(frame.pts, 3), "latency_ms": round(frame.latency_ms, 1),
                           "dropped": frame.dropped})
            self.sound.finish()
            self.video.frames.put_nowait(None)
        finally:
            self.spawn(self.close())

    async def watch(self) -> None:
        """Close a connection that the browser does not complete in time."""
        await asyncio.sleep(CONNECT_S)
        if self.pc.connectionState != "connected":
            await self.close()

    def listen(self, channel: RTCDataChannel) -> None:
        """Take text to say from the browser's data channel."""
        self.channel = channel

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            self.spawn(self.say(message))

    async def say(self, message: str | bytes) -> None:
        try:
            request = json.loads(message)
            if not isinstance(request, dict) or not isinstance(request.get("say"), str):
                raise ValueError
        except ValueError:
            return self.tell({"error": "send {\"say\": text, \"voice\": language} on the data channel"})
        try:
            await self.session.say(request["say"], str(request.get("voice", "en")))
        except InputError as exc:
            self.tell({"error": str(exc)})

    def tell(self, message: dict) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))

    async def close(self) -> None:
        """Stop the stream and hang up (once)."""
        if self.closed:
            return
        self.closed = True
        self.session.close()
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await self.pc.close()


def add_webrtc(app: FastAPI, sessions: LiveSessions, guarded: list) -> None:
    """``POST /api/stream/offer`` on ``app``, behind the API's token (``guarded``)."""

    @app.post("/api/stream/offer", dependencies=guarded)
    async def offer(request: Request) -> dict:
        """Start a live stream over WebRTC: the browser's offer and start request in, the answer out."""
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "the body must be a JSON object with sdp, type and image or avatar") from None
        if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
            raise HTTPException(400, "give the browser's offer: {\"sdp\": ..., \"type\": \"offer\"}")
        try:
            start = Start.of({k: v for k, v in body.items() if k not in ("sdp", "type")},
                             int(sessions.service.config.max_upload_mb * 1e6))
            session = await sessions.start(start, RATE, lambda stream: video_frame)
        except InputError as exc:
            raise HTTPException(400, str(exc)) from None
        except Refused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        pc = RTCPeerConnection()
        connection = Connection(pc, session)
        session.hangup = connection.close
        pc.on("datachannel", connection.listen)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                connection.spawn(connection.take(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await connection.close()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
            pc.addTrack(connection.video)
            pc.addTrack(connection.sound)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc's many ways of refusing an offer
            await connection.close()
            raise HTTPException(400, f"not a usable WebRTC offer ({type(exc).__name__}: {exc})".splitlines()[0]) \
                from None
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
