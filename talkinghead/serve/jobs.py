"""The job table of ``talkinghead serve``: one SQLite file (WAL, shared by the server and its job processes) and one
folder per job under the server's root, holding the job's inputs, options and results.

A job is queued, then running, then done, failed or cancelled. A server that stops while jobs run puts them back in
the queue (:meth:`JobStore.recover` at the next start); one interrupted :data:`MAX_ATTEMPTS` times is failed instead,
so that no job stays "running" forever.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
MAX_ATTEMPTS = 2
JOB_ID = re.compile(r"[0-9a-f]{32}")

SCHEMA = """CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, client TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
    started REAL, finished REAL, stage TEXT NOT NULL DEFAULT '', progress REAL NOT NULL DEFAULT 0, eta REAL,
    argv TEXT NOT NULL, files TEXT NOT NULL, summary TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0)"""


@dataclass
class Job:
    """One row of the table; ``argv`` is the CLI command it runs, ``files`` its result files (the first is the
    result)."""

    id: str
    kind: str
    client: str
    state: str
    created: float
    argv: list[str]
    files: list[str]
    started: float | None = None
    finished: float | None = None
    stage: str = ""
    progress: float = 0.0
    eta: float | None = None
    summary: dict | None = None
    error: str | None = None
    attempts: int = 0
    folder: Path = field(default=Path("."), repr=False)

    def record(self) -> dict:
        """What the API shows of the job (no paths of the server)."""
        shown = {k: v for k, v in asdict(self).items() if k not in ("argv", "folder", "client")}
        if self.summary:
            shown["summary"] = {k: v for k, v in self.summary.items() if k != "output"}
        return shown


class JobStore:
    """Jobs in ``root/jobs.sqlite``, their files in ``root/jobs/<id>/``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self.path = self.root / "jobs.sqlite"
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers and one writer at once: the server and its jobs
            db.execute(SCHEMA)
        finally:
            db.close()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction (committed on success), closed after."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def folder(self, job_id: str) -> Path:
        """The job's folder; ValueError for anything but a job id (no path ever comes from a client)."""
        if not JOB_ID.fullmatch(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / "jobs" / job_id

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (created) folder, for the inputs before the job is added."""
        job_id = uuid.uuid4().hex
        folder = self.folder(job_id)
        folder.mkdir()
        return job_id, folder

    def add(self, job_id: str, kind: str, client: str, argv: list[str], files: list[str]) -> Job:
        """Queue the job whose inputs are already in its folder."""
        with self._db() as db:
            db.execute("INSERT INTO jobs (id, kind, client, state, created, argv, files) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (job_id, kind, client, "queued", time.time(), json.dumps(argv), json.dumps(files)))
        return self.get(job_id)

    def _job(self, row: sqlite3.Row) -> Job:
        values = dict(row)
        for name in ("argv", "files", "summary"):
            values[name] = json.loads(values[name]) if values[name] is not None else None
        return Job(**values, folder=self.folder(values["id"]))

    def get(self, job_id: str) -> Job | None:
        """The job, or None (also for anything that is not a job id)."""
        if not JOB_ID.fullmatch(job_id):
            return None
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def jobs(self, state: str | None = None, kind: str | None = None) -> list[Job]:
        """Jobs, oldest first, of a state and kind when given."""
        query, args = "SELECT * FROM jobs WHERE 1", []
        for column, value in (("state", state), ("kind", kind)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY created", args).fetchall()
        return [self._job(r) for r in rows]

    def count(self, states: tuple[str, ...], client: str | None = None) -> int:
        """How many jobs are in ``states`` (of ``client`` when given)."""
        query = f"SELECT COUNT(*) FROM jobs WHERE state IN ({','.join('?' * len(states))})"
        args = list(states) + ([client] if client is not None else [])
        with self._db() as db:
            return db.execute(query + (" AND client = ?" if client is not None else ""), args).fetchone()[0]

    def claim(self) -> Job | None:
        """The oldest queued job, now marked running; None when the queue is empty."""
        with self._db() as db:
            row = db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', started = ?, attempts = attempts + 1, stage = '', "
                       "progress = 0, eta = NULL WHERE id = ?", (time.time(), row["id"]))
        return self.get(row["id"])

    def update(self, job_id: str, only_if: str | None = None, **values: object) -> bool:
        """Set columns of the job (``summary`` as JSON), only while it is in state ``only_if`` when given; returns
        whether it was changed."""
        values = {k: json.dumps(v) if k == "summary" else v for k, v in values.items()}
        if values.get("state") in FINISHED:
            values.setdefault("finished", time.time())
        sets = ", ".join(f"{k} = ?" for k in values)
        query, args = f"UPDATE jobs SET {sets} WHERE id = ?", [*values.values(), job_id]
        if only_if is not None:
            query, args = query + " AND state = ?", args + [only_if]
        with self._db() as db:
            return db.execute(query, args).rowcount > 0

    def recover(self) -> int:
        """After a restart: jobs left running go back to the queue (or fail, once interrupted too often); returns how
        many were found."""
        with self._db() as db:
            rows = db.execute("SELECT id, attempts FROM jobs WHERE state = 'running'").fetchall()
            for row in rows:
                if row["attempts"] >= MAX_ATTEMPTS:
                    db.execute("UPDATE jobs SET state = 'failed', finished = ?, error = ? WHERE id = ?",
                               (time.time(), f"interrupted by {MAX_ATTEMPTS} server restarts", row["id"]))
                else:
                    db.execute("UPDATE jobs SET state = 'queued', stage = '', progress = 0, eta = NULL WHERE id = ?",
                               (row["id"],))
        return len(rows)

    def delete(self, job_id: str) -> None:
        """Remove the job and its folder."""
        with self._db() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def expire(self, max_age_s: float) -> int:
        """Delete finished jobs older than ``max_age_s``, and folders no job owns; returns how many jobs went."""
        with self._db() as db:
            old = [r["id"] for r in db.execute(
                f"SELECT id FROM jobs WHERE state IN ({','.join('?' * len(FINISHED))}) AND finished < ?",
                (*FINISHED, time.time() - max_age_s))]
            known = {r["id"] for r in db.execute("SELECT id FROM jobs")}
        for job_id in old:
            self.delete(job_id)
        for folder in (self.root / "jobs").iterdir():
            if folder.name not in known and time.time() - folder.stat().st_mtime > 3600:  # a submission that died
                shutil.rmtree(folder, ignore_errors=True)
        return len(old)
