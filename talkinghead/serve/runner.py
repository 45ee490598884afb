"""Runs queued jobs, at most ``workers`` at once, each in a process of its own that calls the CLI's ``run`` on the job's
command line and writes its progress, result or one-line error to the job table.

Cancelling a job, or stopping the server, sends its process SIGTERM: the command stops as ``talkinghead`` does on
SIGTERM, with no partial output left. Jobs stopped by the server's own stop go back to the queue.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Iterable, Iterator

from talkinghead.errors import InputError, Terminated, stop_on_sigterm
from talkinghead.serve.jobs import JobStore

POLL_S = 0.2
PROGRESS_S = 0.5  # a job writes its progress at most this often
STOP_GRACE_S = 10.0
EXPIRE_EVERY_S = 600.0


class Runner:
    """The dispatcher: a thread that starts queued jobs in spawned processes and reaps them."""

    def __init__(self, store: JobStore, workers: int, keep_s: float) -> None:
        self.store, self.workers, self.keep_s = store, workers, keep_s
        self.processes: dict[str, multiprocessing.process.BaseProcess] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="talkinghead-jobs", daemon=True)

    def start(self) -> None:
        """Requeue what a previous server left running, then start dispatching."""
        self.store.recover()
        self._thread.start()

    def _loop(self) -> None:
        context = multiprocessing.get_context("spawn")
        expired = 0.0
        while not self._stop.is_set():
            with self._lock:
                self._reap()
                while len(self.processes) < self.workers and not self._stop.is_set():
                    job = self.store.claim()
                    if job is None:
                        break
                    process = context.Process(target=run_job, args=(str(self.store.root), job.id, job.argv),
                                              name=f"job-{job.id[:8]}", daemon=True)
                    process.start()
                    self.processes[job.id] = process
            if time.monotonic() - expired > EXPIRE_EVERY_S:
                self.store.expire(self.keep_s)
                expired = time.monotonic()
            self._stop.wait(POLL_S)

    def _reap(self) -> None:
        """Forget finished processes; a job whose process died without a word fails."""
        for job_id, process in list(self.processes.items()):
            if process.is_alive():
                continue
            process.join()
            del self.processes[job_id]
            self.store.update(job_id, only_if="running", state="failed",
                              error=f"the job's process ended unexpectedly (exit code {process.exitcode})")

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; returns whether it was one."""
        with self._lock:
            if self.store.update(job_id, only_if="queued", state="cancelled"):
                return True
            if not self.store.update(job_id, only_if="running", state="cancelled"):
                return False
            process = self.processes.pop(job_id, None)
        if process is not None:
            _terminate(process)
        return True

    def stop(self) -> None:
        """Stop dispatching; running jobs are stopped cleanly and queued again for the next start."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            for job_id in self.processes:
                self.store.update(job_id, only_if="running", state="queued", stage="", progress=0.0, eta=None)
            for process in self.processes.values():
                process.terminate()
            for process in self.processes.values():
                _terminate(process)
            self.processes.clear()


def _terminate(process: multiprocessing.process.BaseProcess) -> None:
    """SIGTERM, and SIGKILL if it has not stopped within the grace time."""
    process.terminate()
    process.join(STOP_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join()


def run_job(root: str, job_id: str, argv: list[str]) -> None:
    """In the job's process: run its command and record the outcome (errors as their one line, without the server's
    paths)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    from talkinghead import cli

    store = JobStore(root)
    folder = str(store.folder(job_id)) + os.sep
    try:
        with stop_on_sigterm():
            summary = cli.run_argv(argv, lambda label, unit="frame": _reporter(store, job_id, label))
    except Terminated:
        return  # cancelled or the server stops: whoever stopped it has set the state
    except (InputError, ValueError) as exc:
        store.update(job_id, only_if="running", state="failed", error=str(exc).replace(folder, ""))
        return
    except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never a server's
        store.update(job_id, only_if="running", state="failed",
                     error=f"internal error: {type(exc).__name__}: {str(exc).replace(folder, '')}"[:500])
        return
    store.update(job_id, only_if="running", state="done", progress=1.0, eta=0.0, summary=summary)


def _reporter(store: JobStore, job_id: str, stage: str):
    """A progress hook that writes the stage's share done and the time it has left to the job table."""

    def wrap(items: Iterable, total: int) -> Iterator:
        start = last = time.monotonic()
        for done, item in enumerate(items, 1):
            yield item
            now = time.monotonic()
            if now - last >= PROGRESS_S and total:
                share = min(done / total, 1.0)
                store.update(job_id, only_if="running", stage=stage, progress=round(share, 4),
                             eta=round((now - start) * (1 - share) / share, 1))
                last = now

    return wrap

