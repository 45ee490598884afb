"""A small Python client of the ``talkinghead serve`` HTTP API.

    from talkinghead.client import Client
    client = Client("http://127.0.0.1:7860", token=None)
    job = client.animate("portrait.jpg", "speech.wav", size=256)
    client.wait(job["id"])
    client.download(job["id"], "out.mp4")
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

import httpx


class ServerError(Exception):
    """The server refused or failed a request: its status and one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class Client:
    """Jobs on a talkinghead server (``http`` replaces the HTTP client, e.g. a test client of the app)."""

    def __init__(self, url: str = "http://127.0.0.1:7860", token: str | None = None,
                 http: httpx.Client | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = http or httpx.Client(base_url=url, timeout=timeout)
        self.http.headers.update(headers)

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ServerError(response.status_code, str(message))
        return response

    def submit(self, kind: str, files: dict[str, str | Path | list[str | Path]], avatar: str | None = None,
               **options: object) -> dict:
        """Queue a job of ``kind`` with its files (field -> path, or paths) and options; its record."""
        with ExitStack() as stack:
            parts = [(field, (Path(p).name, stack.enter_context(open(p, "rb"))))
                     for field, paths in files.items() for p in (paths if isinstance(paths, list) else [paths])]
            data = {"options": json.dumps(options), **({"avatar": avatar} if avatar else {})}
            return self._call("POST", f"/api/jobs/{kind}", files=parts, data=data).json()

    def animate(self, image: str | Path | None, audio: str | Path, avatar: str | None = None, **options: object
                ) -> dict:
        return self.submit("animate", {"audio": audio, **({"image": image} if image else {})}, avatar, **options)

    def dub(self, video: str | Path, audio: str | Path, avatar: str | None = None, **options: object) -> dict:
        return self.submit("dub", {"video": video, "audio": audio}, avatar, **options)

    def fit(self, videos: list[str | Path], **options: object) -> dict:
        return self.submit("fit", {"videos": list(videos)}, **options)

    def motion(self, audio: str | Path, **options: object) -> dict:
        return self.submit("motion", {"audio": audio}, **options)

    def job(self, job_id: str) -> dict:
        return self._call("GET", f"/api/jobs/{job_id}").json()

    def jobs(self, state: str | None = None) -> list[dict]:
        return self._call("GET", "/api/jobs", params={"state": state} if state else None).json()

    def wait(self, job_id: str, timeout: float = 3600.0, poll: float = 0.5) -> dict:
        """The job's record once it has ended; ServerError when it failed or was cancelled."""
        end = time.monotonic() + timeout
        while (job := self.job(job_id))["state"] in ("queued", "running"):
            if time.monotonic() > end:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout:g} s")
            time.sleep(poll)
        if job["state"] != "done":
            raise ServerError(200, job.get("error") or f"job {job['state']}")
        return job

    def download(self, job_id: str, path: str | Path, name: str | None = None) -> Path:
        """Save the job's result (or its file ``name``) at ``path``."""
        response = self._call("GET", f"/api/jobs/{job_id}/files/{name}" if name else f"/api/jobs/{job_id}/result")
        Path(path).write_bytes(response.content)
        return Path(path)

    def cancel(self, job_id: str) -> dict:
        return self._call("POST", f"/api/jobs/{job_id}/cancel").json()

    def delete(self, job_id: str) -> None:
        self._call("DELETE", f"/api/jobs/{job_id}")

    def avatars(self) -> list[dict]:
        return self._call("GET", "/api/avatars").json()
