"""Live streaming over the WebSocket of `talkinghead serve` (a real server on a socket, a real client): speech sent in
real time comes back as frames whose mouth opens while it speaks and closes in its pauses, one frame per 40 ms of
sound, with a summary of the latency; bad input gets one line and a close code; clients that vanish, stall or come
two at once do not disturb the others, and nothing is left running when they have gone."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time

import cv2
import numpy as np
import pytest
from conftest import PORTRAIT, free_port
from live_media import LEAD_S, TAIL_S, decode_jpeg, loudness_db, mouth_openings, open_streams, speech_with_pauses

pytest.importorskip("fastapi", reason="needs the [serve] extra")
sync_client = pytest.importorskip("websockets.sync.client", reason="needs websockets (the [serve] extra)")
from websockets.exceptions import ConnectionClosed  # noqa: E402

from talkinghead.serve.api import create_app  # noqa: E402
from talkinghead.serve.service import ServeConfig, Service  # noqa: E402

pytestmark = pytest.mark.slow
RATE = 16000
CHUNK_S = 0.02
HEADER = struct.Struct("<IdfB")
SIZE = 256


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The API under uvicorn in this process (so its threads can be counted), at most two streams at once."""
    import uvicorn

    service = Service(ServeConfig(root=str(tmp_path_factory.mktemp("live")), workers=1, max_streams=2))
    port = free_port()
    running = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(30)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class LiveClient:
    """A WebSocket client of ``/api/stream`` (in a ``with`` block) that keeps every message the server sends, and
    when it came, from a thread of its own."""

    def __init__(self, server: str, start: dict | str | bytes | None = None) -> None:
        self.url = server.replace("http", "ws", 1) + "/api/stream"
        self.start = {"image": b64(PORTRAIT.read_bytes()), "options": {"size": SIZE, "seed": 1}} if start is None \
            else start
        self.messages: list[str | bytes] = []
        self.times: list[float] = []  # time.monotonic() of each message's arrival

    def __enter__(self) -> LiveClient:
        self.socket = sync_client.connect(self.url, max_size=None, open_timeout=30).__enter__()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.socket.send(json.dumps(self.start) if isinstance(self.start, dict) else self.start)
        return self

    def __exit__(self, *exc: object) -> None:
        self.socket.__exit__(*exc)
        self.reader.join(10)

    def _read(self) -> None:
        try:
            for message in self.socket:
                self.messages.append(message)
                self.times.append(time.monotonic())
        except ConnectionClosed:
            pass

    def wait(self, key: str, timeout: float = 60) -> dict:
        """The first JSON message holding ``key``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for message in list(self.messages):
                if isinstance(message, str) and key in (found := json.loads(message)):
                    return found
            if not self.reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {key!r} from the server; got {[m for m in self.messages if isinstance(m, str)]}, "
                             f"closed: {self.socket.close_code} {self.socket.close_reason!r}")

    def send_sound(self, samples: np.ndarray, stall_at: float | None = None, stall_s: float = 1.0) -> None:
        """16-bit PCM in 20 ms chunks, each sent when its sound has been heard (real time), pausing ``stall_s`` at
        ``stall_at`` seconds of sound as a stalled network does."""
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        step = int(CHUNK_S * RATE) * 2
        began, behind = time.monotonic(), 0.0
        for i in range(0, len(pcm), step):
            heard = i / 2 / RATE
            if stall_at is not None and heard >= stall_at:
                behind = stall_s
            time.sleep(max(0.0, began + heard + behind - time.monotonic()))
            self.socket.send(pcm[i:i + step])

    def finish(self, timeout: float = 60) -> dict:
        """End the stream: its summary, after the last frames."""
        self.socket.send(json.dumps({"end": True}))
        summary = self.wait("summary", timeout)["summary"]
        self.reader.join(10)
        return summary

    @property
    def frames(self) -> list[tuple[tuple, bytes, float]]:
        """(header fields, picture, arrival time) of each frame received."""
        return [(HEADER.unpack(m[:HEADER.size]), m[HEADER.size:], t) for m, t in zip(self.messages, self.times)
                if isinstance(m, bytes)]

    def closed(self, timeout: float = 30) -> tuple[int | None, str]:
        """The close code and reason, once the server has closed."""
        self.reader.join(timeout)
        return self.socket.close_code, self.socket.close_reason


@pytest.fixture(scope="module")
def spoken(server):
    """The example speech with pauses, streamed in real time: (sound sent, the client after its summary)."""
    samples = speech_with_pauses(RATE)
    with LiveClient(server) as client:
        ready = client.wait("ready")["ready"]
        assert (ready["width"], ready["height"], ready["fps"]) == (SIZE, SIZE, 25.0)
        client.send_sound(samples)
        client.summary = client.finish()
    return samples, client


def test_one_frame_per_40_ms_of_sound_in_order_with_the_latency(spoken):
    samples, client = spoken
    headers = [h for h, _, _ in client.frames]
    assert abs(len(headers) - len(samples) / RATE * 25) <= 1
    assert [h[0] for h in headers] == list(range(len(headers)))
    assert np.allclose([h[1] for h in headers], np.arange(len(headers)) / 25, atol=1e-6)
    summary = client.summary
    assert summary["frames"] == len(headers)
    assert 0 < summary["latency_ms_p50"] <= summary["latency_ms_p95"] <= summary["latency_ms_max"]
    print("websocket latency", summary)


def test_mouth_opens_in_speech_and_is_closed_in_its_pauses(spoken, tmp_path):
    samples, client = spoken
    frames = client.frames
    opening = mouth_openings([decode_jpeg(picture) for _, picture, _ in frames])
    assert np.isfinite(opening).all(), "the face was lost in some received frames"
    level = np.array([loudness_db(samples, RATE, h[1] - 0.04, h[1] + 0.08) for h, _, _ in frames])
    pts = np.array([h[1] for h, _, _ in frames])
    silent = (level < -60) & ((pts < LEAD_S - 0.1) | (pts > len(samples) / RATE - TAIL_S + 0.3))
    loud = level > -30
    assert silent.sum() > 30 and loud.sum() > 60
    print("opening in silence", np.percentile(opening[silent], [50, 95]), "in speech",
          np.percentile(opening[loud], [50, 90]))
    assert np.percentile(opening[silent], 95) < 0.05
    assert np.percentile(opening[loud], 75) > 2 * np.percentile(opening[silent], 95) + 0.03
    # the short pause after "Hello!" (0.74-1.13 s of the speech) closes it too
    pause = (pts > LEAD_S + 0.85) & (pts < LEAD_S + 1.05)
    assert np.median(opening[pause]) < np.percentile(opening[loud], 50)


def test_text_is_spoken_into_the_stream_and_sent_back_to_play(server):
    with LiveClient(server) as client:
        client.wait("ready")
        client.send_sound(np.zeros(int(0.5 * RATE), np.float32))
        client.socket.send(json.dumps({"say": "Hello, my name is Grace.", "voice": "en"}))
        said = client.wait("said")["said"]
        client.send_sound(np.zeros(int(0.5 * RATE), np.float32))
        summary = client.finish()
    speech = np.frombuffer(base64.b64decode(said["pcm"]), "<i2") / 32768.0
    assert said["rate"] == RATE and 0.3 <= said["pts"] <= 0.6 and 1.0 < len(speech) / RATE < 3.0
    frames = client.frames
    end = said["pts"] + len(speech) / RATE
    assert summary["frames"] == len(frames) and abs(len(frames) - max(1.0, end) * 25) <= 1  # the speech is all drawn
    opening = mouth_openings([decode_jpeg(picture) for _, picture, _ in frames])
    pts = np.array([h[1] for h, _, _ in frames])
    level = np.array([loudness_db(speech, RATE, t - said["pts"] - 0.04, t - said["pts"] + 0.08) for t in pts])
    before, loud = pts < said["pts"] - 0.1, (pts >= said["pts"]) & (level > -30)
    assert np.nanmax(opening[before]) < 0.05 < np.nanpercentile(opening[loud], 75)


def test_bad_input_gets_one_line_and_a_close_code(server):
    flat = cv2.imencode(".png", np.full((300, 300, 3), 180, np.uint8))[1].tobytes()
    portrait = b64(PORTRAIT.read_bytes())
    cases = [("hello", "expected a JSON object"),
             (b"\x00\x01\x02", "expected a JSON object"),
             ({}, "give a portrait"),
             ({"image": "***"}, "image: not base64"),
             ({"image": b64(b"not an image at all")}, "image: "),
             ({"image": b64(flat)}, "no face"),
             ({"avatar": "0123abcd"}, "no avatar '0123abcd'"),
             ({"image": portrait, "options": {"size": "big"}}, "option size: expected int"),
             ({"image": portrait, "options": {"size": 9}}, "--size 9 is outside"),
             ({"image": portrait, "options": {"shoe_size": 9}}, "unknown option 'shoe_size'"),
             ({"image": portrait, "seed": 3}, "unknown field 'seed' (the stream's options go in 'options')"),
             ({"image": portrait, "options": {"avatar": "/etc/passwd"}}, "cannot be set through the server"),
             ({"image": portrait, "format": "gif"}, "format 'gif' is not one of jpeg, h264"),
             ({"image": portrait, "format": ["jpeg"]}, "format ['jpeg'] is not one of jpeg, h264"),
             ({"image": portrait, "rate": "fast"}, "rate must be"),
             ({"image": portrait, "rate": 5}, "rate 5 is outside")]
    for start, words in cases:
        with LiveClient(server, start) as client:
            code, reason = client.closed()
        error = json.loads(client.messages[0])["error"]
        assert code == 4400 and words in error and "\n" not in error and "Traceback" not in error, (start, error)
        assert error.startswith(reason) and len(reason.encode()) <= 123
    assert open_streams(server) == 0


def test_noise_is_sound_and_a_bad_message_mid_stream_ends_with_one_line(server):
    with LiveClient(server) as client:
        client.wait("ready")
        rng = np.random.default_rng(0)
        for _ in range(25):
            client.socket.send(rng.bytes(641))  # odd lengths: samples split between messages
            time.sleep(0.02)
        time.sleep(1.0)
        client.socket.send(json.dumps({"say": 5}))
        code, reason = client.closed()
    assert code == 4400 and "say" in reason
    assert len(client.frames) >= 8  # 0.5 s of noise drawn before the bad message
    assert open_streams(server) == 0


def test_h264_frames_decode_to_the_stream(server):
    import av

    start = {"image": b64(PORTRAIT.read_bytes()), "format": "h264", "options": {"size": 128}}
    with LiveClient(server, start) as client:
        client.wait("ready")
        client.send_sound(speech_with_pauses(RATE)[:RATE])
        client.finish()
    codec = av.CodecContext.create("h264", "r")
    pictures = [f.to_ndarray(format="rgb24") for _, unit, _ in client.frames for p in codec.parse(unit)
                for f in codec.decode(p)]
    assert len(client.frames) == 25 and len(pictures) >= 24 and pictures[0].shape == (128, 128, 3)


def test_two_clients_at_once_one_stalling_and_a_third_turned_away(server):
    samples = speech_with_pauses(RATE)[:4 * RATE]
    with LiveClient(server) as stalling, LiveClient(server) as steady:
        stalling.wait("ready"), steady.wait("ready")
        with LiveClient(server) as third:
            code, reason = third.closed()
        assert code == 4429 and "streaming to 2 clients already; try again later" in reason
        late = threading.Thread(target=stalling.send_sound, args=(samples,), kwargs={"stall_at": 1.5})
        late.start()
        steady.send_sound(samples)
        steady_summary = steady.finish()
        late.join()
        summaries = stalling.finish(), steady_summary
    for client, summary in zip((stalling, steady), summaries):
        assert summary["frames"] == len(client.frames) and abs(len(client.frames) - 100) <= 1
    gaps = [np.diff([t for _, _, t in client.frames[:-10]]).max() for client in (stalling, steady)]
    print("largest gap between frames: stalling client", gaps[0], "steady client", gaps[1], summaries)
    assert gaps[0] > 0.8 and gaps[1] < 0.5  # the stall held up its own frames only


def test_clients_leaving_mid_stream_leave_nothing_running(server, spoken):
    open_streams(server)  # the health route's own worker thread
    baseline = threading.active_count()
    samples = speech_with_pauses(RATE)
    with LiveClient(server) as dropped, LiveClient(server) as closing:
        dropped.wait("ready"), closing.wait("ready")
        both = [threading.Thread(target=c.send_sound, args=(samples[:RATE],)) for c in (dropped, closing)]
        [t.start() for t in both]
        [t.join() for t in both]
        workers = [t.name for t in threading.enumerate() if t.name.startswith("talkinghead-live")]
        assert open_streams(server) == 2 and len(workers) == 2, [t.name for t in threading.enumerate()]  # one each
        dropped.socket.socket.shutdown(socket.SHUT_RDWR)  # the network goes: no close handshake
        closing.socket.close()  # the page closes mid-stream
    for _ in range(100):
        if open_streams(server) == 0 and threading.active_count() <= baseline:
            break
        time.sleep(0.1)
    assert open_streams(server) == 0 and threading.active_count() <= baseline, [t.name for t in threading.enumerate()]


def test_the_token_guards_the_stream(tmp_path):
    from fastapi.testclient import TestClient

    with TestClient(create_app(Service(ServeConfig(root=str(tmp_path), workers=1, token="s3cret")))) as http:
        for query in ("", "?token=wrong"):
            with http.websocket_connect(f"/api/stream{query}") as ws:
                assert "missing or wrong token" in ws.receive_json()["error"]
                assert ws.receive()["code"] == 4401
        with http.websocket_connect("/api/stream?token=s3cret") as ws:
            ws.send_text("{}")
            assert "give a portrait" in ws.receive_json()["error"]
        assert http.post("/api/stream/offer", json={}).status_code == 401


def test_a_bad_webrtc_offer_gets_one_line_and_leaves_no_stream(tmp_path):
    from fastapi.testclient import TestClient

    start = {"image": b64(PORTRAIT.read_bytes()), "options": {"size": 128}}
    cases = [(b"nope", "the body must be a JSON object"),
             (json.dumps({"sdp": "v=0", "type": "answer"}).encode(), "give the browser's offer"),
             (json.dumps({"sdp": "v=0", "type": "offer"}).encode(), "give a portrait"),
             (json.dumps({"sdp": "v=0\r\nnonsense", "type": "offer", **start}).encode(), "not a usable WebRTC offer")]
    with TestClient(create_app(Service(ServeConfig(root=str(tmp_path), workers=1)))) as http:
        for body, words in cases:
            response = http.post("/api/stream/offer", content=body, headers={"content-type": "application/json"})
            error = response.json()["error"]
            assert response.status_code == 400 and words in error and "\n" not in error, error
        assert http.get("/api/health").json()["streams"] == 0
