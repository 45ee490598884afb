"""What the web app and the HTTP API share: the server's options, and :class:`Service`, which checks a submission,
stores its files and queues it, and runs the queue.

Uploaded files are saved under names the server makes (``image0.png``: the field, a number and a checked suffix):
a client's file name is never a path here, and is only shown back in error messages.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from talkinghead.config import Checked, option
from talkinghead.errors import InputError
from talkinghead.serve.jobs import Job, JobStore
from talkinghead.serve.kinds import KINDS, SUFFIXES, MediaLimits, write_options
from talkinghead.serve.runner import Runner

CHUNK = 1 << 20
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # the example portrait and speech of a source checkout


@dataclass
class ServeConfig(Checked):
    """How ``talkinghead serve`` runs."""

    host: str = option("127.0.0.1", "address to listen on (0.0.0.0: every network interface)")
    port: int = option(7860, "port to listen on", range=(1, 65535))
    root: str = option("talkinghead-jobs", "folder of the job table and of every job's files")
    workers: int = option(0, "jobs run at once (0: the CPU count)", range=(0, 1024))
    token: str | None = option(None, "API token: API requests must send 'Authorization: Bearer TOKEN', and the web "
                               "app asks for it (default: $TALKINGHEAD_TOKEN; none: open to whoever can connect)")
    max_upload_mb: float = option(500.0, "largest upload per job, MB (413 beyond)", range=(0.001, 1e6))
    max_image_mp: float = option(40.0, "largest portrait, megapixels", range=(0.01, 100))
    max_audio_s: float = option(600.0, "longest speech a job may have, seconds", range=(1, 1e6))
    max_video_s: float = option(600.0, "longest video a job may have, seconds", range=(1, 1e6))
    jobs_per_client: int = option(8, "queued or running jobs one client may have (429 beyond)", range=(1, 1e6))
    queue_size: int = option(100, "queued jobs at most (429 beyond)", range=(1, 1e6))
    keep_hours: float = option(24.0, "finished jobs and their files are deleted after this many hours",
                               range=(0.001, 1e6))
    max_streams: int = option(2, "live streams (WebSocket or WebRTC) drawn at once; more are refused",
                              range=(0, 1024))
    cors: str | None = option(None, "origins allowed to call the API from other web pages, comma-separated "
                              "(default: none)")

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


class Refused(Exception):
    """A submission the server will not take now: the HTTP status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """A file as the client sent it: its name (shown only in messages) and its bytes."""

    name: str
    stream: BinaryIO


class Service:
    """The job store and its runner, and the checks every submission passes before it is queued."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.store = JobStore(config.root)
        self.runner = Runner(self.store, config.worker_count, config.keep_hours * 3600)
        self.limits = MediaLimits(config.max_image_mp, config.max_audio_s, config.max_video_s)

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()

    def submit(self, kind_name: str, uploads: dict[str, list[Upload]], options: dict, client: str,
               avatar: str | None = None) -> Job:
        """Check, store and queue one job; InputError (400) or :class:`Refused` (413, 429) when it is not taken."""
        kind = KINDS.get(kind_name)
        if kind is None:
            raise Refused(404, f"no such job kind {kind_name!r} (one of {', '.join(KINDS)})")
        if self.store.count(("queued",)) >= self.config.queue_size:
            raise Refused(429, "the queue is full; try again later")
        if self.store.count(("queued", "running"), client) >= self.config.jobs_per_client:
            raise Refused(429, f"you have {self.config.jobs_per_client} jobs waiting or running; wait for one to end")
        avatar_path = self.avatar_path(avatar) if avatar else None
        if avatar and not kind.avatar:
            raise InputError(None, f"{kind.name} takes no avatar")
        for slot in kind.slots:
            given = uploads.get(slot.field, [])
            if slot.required and not given and not (slot.or_avatar and avatar_path):
                raise InputError(None, f"{kind.name} needs {'one or more files' if slot.many else 'a file'} in "
                                 f"'{slot.field}'")
            if len(given) > 1 and not slot.many:
                raise InputError(None, f"'{slot.field}' takes one file")
        unknown = set(uploads) - {s.field for s in kind.slots}
        if unknown:
            raise InputError(None, f"{kind.name} takes no file {sorted(unknown)[0]!r}")
        job_id, folder = self.store.new_folder()
        try:
            inputs, names = self._save(folder, kind, uploads)
            write_options(folder, kind.options(options, avatar_path))
            kind.check(folder, inputs, names, self.limits)
            return self.store.add(job_id, kind.name, client, kind.argv(folder, inputs), list(kind.results))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _save(self, folder: Path, kind, uploads: dict[str, list[Upload]]) -> tuple[dict[str, list[Path]],
                                                                                 dict[Path, str]]:
        """Write the uploads into the job's folder under the server's own names; 413 past the size limit."""
        budget = int(self.config.max_upload_mb * 1e6)
        inputs: dict[str, list[Path]] = {}
        names: dict[Path, str] = {}
        for slot in kind.slots:
            for i, upload in enumerate(uploads.get(slot.field, [])):
                shown = Path(upload.name or slot.field).name
                suffix = Path(shown).suffix.lower()
                if suffix not in SUFFIXES[slot.media]:
                    raise InputError(shown, f"unsupported {slot.media} format (use {', '.join(SUFFIXES[slot.media])})")
                path = folder / f"{slot.field}{i}{suffix}"
                with path.open("wb") as out:
                    while chunk := upload.stream.read(CHUNK):
                        budget -= len(chunk)
                        if budget < 0:
                            raise Refused(413, f"upload too large; this server takes at most "
                                          f"{self.config.max_upload_mb:g} MB per job")
                        out.write(chunk)
                inputs.setdefault(slot.field, []).append(path)
                names[path] = shown
        return inputs, names

    def avatar_path(self, job_id: str) -> Path:
        """The avatar made by fit job ``job_id``; InputError when there is none."""
        job = self.store.get(job_id)
        if job is None or job.kind != "fit" or job.state != "done":
            raise InputError(None, f"no avatar {job_id!r}: give the id of a finished fit job")
        return job.folder / job.files[0]

    def cancel(self, job_id: str) -> bool:
        return self.runner.cancel(job_id)

    def delete(self, job_id: str) -> None:
        """Cancel the job if it has not ended, then remove it and its files."""
        self.runner.cancel(job_id)
        self.store.delete(job_id)
