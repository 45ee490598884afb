"""The HTTP API of `talkinghead serve`, through the Python client: jobs run to a playable result, bad input is refused
before it is queued with the CLI's one line, limits answer 413 and 429, uploads never become paths, the token guards
the API, cancel and delete leave nothing behind, and a restart loses no job."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import CLIP, PORTRAIT, SPEECH, assert_plays, audio_seconds, probe

pytest.importorskip("fastapi", reason="needs the [serve] extra")
from fastapi.testclient import TestClient  # noqa: E402

from talkinghead.client import Client, ServerError  # noqa: E402
from talkinghead.serve.api import create_app  # noqa: E402
from talkinghead.serve.service import ServeConfig, Service  # noqa: E402


def make(tmp_path: Path, start: bool = True, **config: object) -> tuple[Client, Service, TestClient]:
    """A client of an API over a fresh job root (its runner started with the app when ``start``)."""
    service = Service(ServeConfig(root=str(tmp_path / "jobs"), **{"workers": 1, **config}))
    http = TestClient(create_app(service))
    if start:
        http.__enter__()
    return Client(http=http, token=config.get("token")), service, http


@pytest.fixture
def api(tmp_path):
    client, service, http = make(tmp_path)
    yield client, service
    http.__exit__(None, None, None)


@pytest.fixture
def idle(tmp_path):
    """An API whose runner is not started: jobs stay queued."""
    client, service, _ = make(tmp_path, start=False, jobs_per_client=2, queue_size=3)
    return client, service


def error_of(call) -> ServerError:
    with pytest.raises(ServerError) as caught:
        call()
    return caught.value


def test_animate_job_gives_the_cli_result(api, tmp_path):
    client, service = api
    job = client.animate(PORTRAIT, SPEECH, size=128, seed=3)
    assert job["state"] == "queued" and "argv" not in job
    done = client.wait(job["id"], timeout=120)
    assert done["progress"] == 1.0 and done["summary"]["width"] == 128
    video = client.download(job["id"], tmp_path / "out.mp4")
    assert_plays(video, SPEECH)
    assert any(j["id"] == job["id"] for j in client.jobs("done"))


def test_motion_job_writes_each_export(api, tmp_path):
    client, _ = api
    job = client.wait(client.motion(SPEECH)["id"], timeout=120)
    assert job["files"] == ["motion.json", "cues.json", "arkit.csv"]
    motion = json.loads(client.download(job["id"], tmp_path / "m.json").read_text())
    assert motion["fps"] == 25.0
    assert "jawOpen" in client.download(job["id"], tmp_path / "a.csv", "arkit.csv").read_text().splitlines()[0]
    assert error_of(lambda: client.download(job["id"], tmp_path / "x", "../jobs.sqlite")).status == 404


@pytest.mark.parametrize("files, options, status, message", [
    ({"image": "flat.png", "audio": SPEECH}, {}, 400, "flat.png: no face found"),
    ({"image": "notes.txt", "audio": SPEECH}, {}, 400, "notes.txt: unsupported image format"),
    ({"image": PORTRAIT}, {}, 400, "animate needs a file in 'audio'"),
    ({"audio": SPEECH}, {}, 400, "animate needs a file in 'image'"),
    ({"image": PORTRAIT, "audio": SPEECH}, {"sizee": 128}, 400, "unknown option 'sizee'"),
    ({"image": PORTRAIT, "audio": SPEECH}, {"size": 10}, 400, "--size 10 is outside 64..4096"),
    ({"image": PORTRAIT, "audio": SPEECH}, {"lips_weights": "/etc/passwd"}, 400, "cannot be set through the server"),
    ({"image": PORTRAIT, "audio": "empty.wav"}, {}, 400, "empty.wav: audio is empty"),
])
def test_bad_input_is_refused_before_it_is_queued(idle, tmp_path, files, options, status, message):
    client, service = idle
    cv2.imwrite(str(tmp_path / "flat.png"), np.full((300, 300, 3), 180, np.uint8))
    (tmp_path / "notes.txt").write_text("not a picture")
    from conftest import write_wav

    write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    files = {k: (v if Path(v).is_absolute() else tmp_path / v) for k, v in files.items()}
    error = error_of(lambda: client.submit("animate", files, **options))
    assert error.status == status and message in error.message and "\n" not in error.message
    assert str(tmp_path) not in error.message  # no server path in what the client sees
    assert service.store.jobs() == [] and list((Path(service.config.root) / "jobs").iterdir()) == []


def test_unknown_kind_and_job_answer_404(idle):
    client, _ = idle
    assert error_of(lambda: client.submit("render", {"audio": SPEECH})).status == 404
    assert error_of(lambda: client.job("0" * 32)).status == 404
    assert error_of(lambda: client.job("..%2F..%2Fetc")).status == 404


def test_uploaded_names_never_become_paths(idle, tmp_path):
    client, service = idle
    sneaky = tmp_path / "sneaky"
    sneaky.mkdir()
    http = client.http
    with open(PORTRAIT, "rb") as image, open(SPEECH, "rb") as audio:
        response = http.post("/api/jobs/animate", files=[("image", ("../../../../tmp/evil.jpg", image)),
                                                         ("audio", ("/etc/speech.wav", audio))])
    assert response.status_code == 201, response.text
    folder = service.store.folder(response.json()["id"])
    assert sorted(p.name for p in folder.iterdir()) == ["audio0.wav", "image0.jpg", "options.json"]
    assert not Path("/tmp/evil.jpg").exists()


def test_too_large_is_413_and_too_many_is_429(idle, tmp_path):
    client, service = idle
    small = Client(http=TestClient(create_app(Service(ServeConfig(root=str(tmp_path / "small"), max_upload_mb=0.1)))))
    assert error_of(lambda: small.animate(PORTRAIT, SPEECH)).status == 413
    assert list((tmp_path / "small" / "jobs").iterdir()) == []
    client.animate(PORTRAIT, SPEECH)
    client.animate(PORTRAIT, SPEECH)
    busy = error_of(lambda: client.animate(PORTRAIT, SPEECH))
    assert busy.status == 429 and "2 jobs waiting" in busy.message


def test_limits_on_image_size_and_speech_length(tmp_path):
    client, _, _ = make(tmp_path, start=False, max_image_mp=0.1, max_audio_s=5)
    error = error_of(lambda: client.animate(PORTRAIT, SPEECH))
    assert error.status == 400 and "image too large (512x600); this server takes at most 0.1 megapixels" in error.message
    client, _, _ = make(tmp_path / "b", start=False, max_audio_s=5)
    assert "speech.wav: audio too long (8 s); this server takes at most 5 s" in error_of(
        lambda: client.animate(PORTRAIT, SPEECH)).message


def test_token_guards_the_api(tmp_path):
    client, _, http = make(tmp_path, start=False, token="s3cret")
    assert client.jobs() == []
    assert Client(http=TestClient(create_app(client_service(tmp_path)))).jobs() == []  # a server without a token
    anonymous = TestClient(http.app)
    assert anonymous.get("/api/jobs").status_code == 401
    assert anonymous.get("/api/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anonymous.get("/api/health").status_code == 200
    assert "access-control-allow-origin" not in anonymous.get("/api/health",
                                                              headers={"Origin": "http://evil.example"}).headers


def test_token_is_the_web_apps_password(tmp_path):
    from talkinghead.serve.server import create_server

    web = TestClient(create_server(ServeConfig(root=str(tmp_path / "web"), token="s3cret")))
    assert web.get("/config").status_code == 401
    assert web.post("/login", data={"username": "me", "password": "wrong"}).status_code != 200
    assert web.post("/login", data={"username": "me", "password": "s3cret"}).status_code == 200
    assert web.get("/config").status_code == 200


def client_service(tmp_path: Path) -> Service:
    return Service(ServeConfig(root=str(tmp_path / "open")))


def test_cancel_and_delete_leave_nothing(api):
    client, service = api
    long = client.animate(PORTRAIT, SPEECH, size=1024)
    for _ in range(200):
        if client.job(long["id"])["state"] == "running":
            break
        time.sleep(0.1)
    queued = client.animate(PORTRAIT, SPEECH, size=128)
    assert client.cancel(queued["id"])["state"] == "cancelled"
    assert client.cancel(long["id"])["state"] == "cancelled"
    folder = service.store.folder(long["id"])
    time.sleep(0.5)
    assert sorted(p.name for p in folder.iterdir()) == ["audio0.wav", "image0.jpg", "options.json"]
    assert error_of(lambda: client.cancel(long["id"])).status == 409
    assert error_of(lambda: client.download(long["id"], folder / "x.mp4")).status == 409
    client.delete(long["id"])
    assert not folder.exists() and error_of(lambda: client.job(long["id"])).status == 404


def test_a_restart_loses_no_job(tmp_path):
    """Jobs queued while the server was down run after it starts; a job it was running is run again."""
    client, service, _ = make(tmp_path, start=False)
    waiting = client.animate(PORTRAIT, SPEECH, size=128)
    interrupted = client.animate(PORTRAIT, SPEECH, size=128)
    service.store.claim()  # the first is "running" when the server dies
    assert service.store.get(waiting["id"]).state == "running"
    restarted, _, http = make(tmp_path)
    try:
        for job in (waiting, interrupted):
            assert restarted.wait(job["id"], timeout=120)["state"] == "done"
        assert restarted.job(waiting["id"])["attempts"] == 2
    finally:
        http.__exit__(None, None, None)


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_job_runs_after_a_restart(tmp_path):
    """A server stopped with SIGTERM mid-job leaves no partial result and the job queued; started again, it runs it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "talkinghead", "serve", "--port", str(port), "--root",
                                    str(tmp_path / "root"), "--workers", "1"], stderr=subprocess.PIPE)
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/api/health", timeout=1)
                return process
            except OSError:
                time.sleep(0.5)
        process.kill()
        raise AssertionError(process.stderr.read().decode()[-2000:])

    server = start()
    client = Client(url)
    job = client.dub(CLIP.video, SPEECH)
    while client.job(job["id"])["state"] != "running":
        time.sleep(0.1)
    time.sleep(1.0)
    os.kill(server.pid, signal.SIGTERM)
    assert server.wait(60) in (0, 143)
    assert b"Traceback" not in server.stderr.read()
    folder = tmp_path / "root" / "jobs" / job["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["audio0.wav", "options.json", "video0.mp4"]
    server = start()
    try:
        done = client.wait(job["id"], timeout=180)
        assert done["state"] == "done"
        assert abs(audio_seconds(client.download(job["id"], tmp_path / "dub.mp4")) - audio_seconds(SPEECH)) < 0.1
    finally:
        server.terminate()
        server.wait(60)


def test_web_app_speaks_typed_text_and_shows_errors_as_one_line(api):
    """The web app's Animate (what its button calls): typed text is spoken by espeak-ng and animated; a portrait
    without a face gives the CLI's line."""
    import gradio as gr

    from talkinghead.serve.webapp import WebApp

    _, service = api
    app = WebApp(service)
    video, error = app.animate(str(PORTRAIT), None, "Hello there, how are you today?", "en", None, "phonetic",
                               "prosody", 17, "camera", 128, 0, None, gr.Progress())
    info = probe(Path(video))
    assert error == "" and info.audio_codec == "aac" and 1.0 < info.audio_seconds < 4.0
    video, error = app.animate(str(SPEECH), str(SPEECH), "", "en", None, "phonetic", "prosody", 17, "camera", 128,
                               0, None, gr.Progress())
    assert video is None and error.startswith("**Error:** speech.wav: ") and "\n" not in error


@pytest.mark.slow
def test_fit_makes_an_avatar_that_animate_uses(api, tmp_path):
    """Fit job -> listed avatar -> animate with it and no portrait (the avatar's still)."""
    client, _ = api
    fit = client.wait(client.fit([CLIP.video], steps=3, minutes=1, bank=16, holdout=0.2)["id"], timeout=240)
    assert [a["id"] for a in client.avatars()] == [fit["id"]] and fit["summary"]["steps"] == 3
    job = client.wait(client.animate(None, SPEECH, avatar=fit["id"], size=128)["id"], timeout=240)
    assert_plays(client.download(job["id"], tmp_path / "avatar.mp4"), SPEECH)
    assert "no avatar" in error_of(lambda: client.animate(None, SPEECH, avatar="f" * 32)).message


def test_finished_jobs_expire_with_their_files(idle):
    client, service = idle
    job = client.animate(PORTRAIT, SPEECH, size=128)
    service.store.update(job["id"], state="done")
    assert service.store.expire(3600) == 0 and service.store.get(job["id"]) is not None
    service.store.update(job["id"], finished=time.time() - 7200)
    assert service.store.expire(3600) == 1
    assert service.store.get(job["id"]) is None and not service.store.folder(job["id"]).exists()
