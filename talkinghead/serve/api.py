"""The HTTP API of ``talkinghead serve`` (FastAPI; its OpenAPI page is ``/docs``).

- ``POST /api/jobs/{kind}`` (multipart: the kind's files, ``options`` as a JSON object, ``avatar`` as a fit job's id)
  queues a job: 201 with its record; 400 for bad input with the CLI's one-line message, 413 too large, 429 busy.
- ``GET /api/jobs``, ``GET /api/jobs/{id}``: records with state, stage, progress, ETA and the CLI's JSON summary.
- ``GET /api/jobs/{id}/result`` and ``/files/{name}``: the result files; ``POST /api/jobs/{id}/cancel``;
  ``DELETE /api/jobs/{id}``; ``GET /api/avatars``: finished fit jobs; ``GET /api/health``.
- Live streaming: ``/api/stream`` (WebSocket, :mod:`~talkinghead.serve.live_ws`), ``POST /api/stream/offer``
  (WebRTC, :mod:`~talkinghead.serve.live_rtc`) and its demo page ``/live``.

With a token, every ``/api`` route but health wants ``Authorization: Bearer TOKEN`` (the WebSocket: ``?token=``).
"""

from __future__ import annotations

import hmac
import json
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from starlette.datastructures import UploadFile

from talkinghead.errors import InputError
from talkinghead.serve.jobs import Job
from talkinghead.serve.live import LiveSessions
from talkinghead.serve.live_page import add_page
from talkinghead.serve.live_rtc import add_webrtc
from talkinghead.serve.live_ws import add_websocket
from talkinghead.serve.service import Refused, Service, Upload

MAX_FILES = 64


def create_app(service: Service) -> FastAPI:
    """The API over ``service``, which it starts and stops with the app."""
    live = LiveSessions(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            await live.close_all()
            service.stop()

    app = FastAPI(title="talkinghead", summary="Audio-driven talking-face video: jobs over HTTP.", lifespan=lifespan)
    token = service.config.token

    def opens(given: str | None) -> bool:
        """Whether a client's token opens the API."""
        return token is None or given is not None and hmac.compare_digest(given.encode(), token.encode())

    def authorized(request: Request) -> None:
        given = request.headers.get("authorization", "")
        if not opens(given.removeprefix("Bearer ") if given.startswith("Bearer ") else None):
            raise HTTPException(401, "missing or wrong token (send 'Authorization: Bearer TOKEN')")

    def found(job_id: str) -> Job:
        job = service.store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    @app.exception_handler(HTTPException)
    async def one_line(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)

    guarded = [Depends(authorized)]

    @app.get("/api/health")
    def health() -> dict:
        """Whether the server is up, and its queue."""
        return {"ok": True, "queued": service.store.count(("queued",)), "running": service.store.count(("running",)),
                "workers": service.config.worker_count, "streams": len(live.open)}

    @app.post("/api/jobs/{kind}", status_code=201, dependencies=guarded)
    async def submit(kind: str, request: Request) -> dict:
        """Queue a job of ``kind`` (animate, dub, motion, track, fit) with its files and options."""
        limit = service.config.max_upload_mb * 1e6
        if int(request.headers.get("content-length") or 0) > limit + 1e6:
            raise HTTPException(413, f"upload too large; this server takes at most {service.config.max_upload_mb:g} "
                                "MB per job")
        form = await request.form(max_files=MAX_FILES)
        try:
            options = json.loads(str(form.get("options") or "{}"))
            if not isinstance(options, dict):
                raise ValueError
        except ValueError:
            raise HTTPException(400, "options must be a JSON object") from None
        uploads: dict[str, list[Upload]] = {}
        for field, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads.setdefault(field, []).append(Upload(value.filename or field, value.file))
            elif field not in ("options", "avatar"):
                raise HTTPException(400, f"unexpected form field {field!r}")
        avatar = form.get("avatar")
        client = request.client.host if request.client else "unknown"
        try:
            job = await run_in_threadpool(service.submit, kind, uploads, options, client,
                                          str(avatar) if avatar else None)
        except InputError as exc:
            raise HTTPException(400, str(exc)) from None
        except Refused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        finally:
            await form.close()
        return job.record()

    @app.get("/api/jobs", dependencies=guarded)
    def jobs(state: str | None = None, kind: str | None = None) -> list[dict]:
        """Every job, oldest first (of one state or kind when asked)."""
        return [job.record() for job in service.store.jobs(state, kind)]

    @app.get("/api/jobs/{job_id}", dependencies=guarded)
    def job(job_id: str) -> dict:
        """One job: state, stage, progress (0..1), ETA in seconds, its summary or error."""
        return found(job_id).record()

    @app.get("/api/jobs/{job_id}/result", dependencies=guarded)
    def result(job_id: str) -> FileResponse:
        """The job's result: the mp4, the motion file or the avatar."""
        return file_of(found(job_id), None)

    @app.get("/api/jobs/{job_id}/files/{name}", dependencies=guarded)
    def file(job_id: str, name: str) -> FileResponse:
        """One of the job's result files by the name its record lists."""
        return file_of(found(job_id), name)

    def file_of(job: Job, name: str | None) -> FileResponse:
        if job.state != "done":
            raise HTTPException(409, f"job {job.id} is {job.state}, not done")
        if name is not None and name not in job.files:
            raise HTTPException(404, f"job {job.id} has no file {name!r} (it has {', '.join(job.files)})")
        name = name or job.files[0]
        return FileResponse(job.folder / name, filename=f"{job.kind}-{job.id[:8]}-{name}")

    @app.post("/api/jobs/{job_id}/cancel", dependencies=guarded)
    def cancel(job_id: str) -> dict:
        """Stop a queued or running job (nothing of its result is left)."""
        job = found(job_id)
        if not service.cancel(job.id):
            raise HTTPException(409, f"job {job.id} has already ended ({found(job_id).state})")
        return found(job_id).record()

    @app.delete("/api/jobs/{job_id}", dependencies=guarded)
    def delete(job_id: str) -> dict:
        """Remove a job and its files (cancelled first if it has not ended)."""
        service.delete(found(job_id).id)
        return {"deleted": job_id}

    @app.get("/api/avatars", dependencies=guarded)
    def avatars() -> list[dict]:
        """Avatars made by finished fit jobs: use one's ``id`` as ``avatar`` in animate and dub."""
        return [job.record() for job in service.store.jobs("done", "fit")]

    add_websocket(app, live, opens)
    add_webrtc(app, live, guarded)
    add_page(app)

    if service.config.cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=service.config.cors.split(","), allow_methods=["*"],
                           allow_headers=["*"])
    return app
