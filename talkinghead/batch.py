"""Batch jobs: many ``animate`` or ``dub`` runs from one CSV or JSONL file, in local processes or as Ray tasks.

Each row of a ``.csv`` (one column per field, an empty cell meaning "not given") or each line of a ``.jsonl`` (one
object) is one job:

- ``kind``: ``animate`` (the default) or ``dub``;
- its inputs: ``image`` and ``audio`` for animate (``image`` may be left out when ``avatar`` is given), ``video``
  and ``audio`` for dub; relative paths are relative to the jobs file's folder;
- ``output``: a file name inside the output folder (default ``<row number>.mp4``; no absolute path, no ``..``);
- any option of that command by its command-line name (``size``, ``seed``, ``head-motion`` or ``head_motion``,
  ``avatar``...); a switch takes true or false (``full-frame``: ``--full-frame`` / ``--no-full-frame``).

A job is the command line ``talkinghead KIND --audio ... -o OUTPUT --quiet --option=value...``, parsed and run by
the CLI's own parser and runner (imported when needed: this module sits below the CLI), so a job does exactly what
that command does and is refused as it would be. A malformed file (an unknown kind, a missing input, a bad JSON
line, an output outside the folder) is refused before any job runs, with its line.

Jobs whose output exists are skipped (outputs are written atomically, so an existing one is complete): a stopped
batch resumes where it stopped. A failing job is reported and the others go on. Jobs run in ``workers`` spawned
processes, or with ``ray`` as Ray tasks on that cluster (one CPU each), whose nodes need talkinghead installed and
the inputs and output folder at the same paths.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from concurrent.futures import as_completed
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePath
from types import ModuleType
from typing import Iterator

from talkinghead.config import Checked, option
from talkinghead.data.workers import connect_ray, ray_results, worker_pool
from talkinghead.errors import InputError, existing_file
from talkinghead.progress import Progress

NEEDS = {"animate": [("image", "avatar"), ("audio",)], "dub": [("video",), ("audio",)]}  # each: one of these given
INPUTS = ("image", "audio", "video")  # input files named without a FILE metavar in the CLI
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")
Task = tuple[int, list[str]]  # a job's row number and its command line
Outcome = tuple[int, float, str | None]  # a job's row number, seconds and error line (None: done)


@dataclass
class BatchConfig(Checked):
    """How the jobs are run."""

    workers: int | None = option(None, "jobs run at once in local processes (default: the CPU count)",
                                 range=(1, 1024))
    ray: str | None = option(None, "run the jobs as Ray tasks (one CPU each) on the cluster at this address ('auto': "
                                   "the one this machine belongs to) instead of in local processes", metavar="ADDRESS")


@dataclass(frozen=True)
class Job:
    """One row of the jobs file, ready to run."""

    row: int
    kind: str
    output: str  # file name inside the output folder
    argv: list[str]


def read_jobs(jobs_file: str | Path, output_dir: str | Path) -> list[Job]:
    """The jobs of a ``.csv`` or ``.jsonl`` file, writing into ``output_dir``; InputError naming the line of the first
    malformed one."""
    path = existing_file(jobs_file, "a jobs file")
    readers = {".csv": _csv_rows, ".jsonl": _jsonl_rows}
    if path.suffix.lower() not in readers:
        raise InputError(path, "jobs file must be .csv or .jsonl")
    folder, output_dir = path.resolve().parent, Path(output_dir).resolve()
    jobs: list[Job] = []
    rows: dict[str, int] = {}
    try:
        for line, fields in readers[path.suffix.lower()](path):
            try:
                job = _job(len(jobs) + 1, fields, folder, output_dir)
                if job.output in rows:
                    raise InputError(None, f"output {job.output} is also job {rows[job.output]}'s")
            except InputError as exc:
                raise InputError(path, f"line {line}: {exc.problem}") from None
            rows[job.output] = job.row
            jobs.append(job)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"not a readable jobs file ({exc})") from None
    if not jobs:
        raise InputError(path, "no jobs")
    return jobs


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """(line, given fields) of each non-empty CSV row."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        for fields in reader:
            if None in fields:
                raise InputError(path, f"line {reader.line_num}: more cells than columns")
            if given := _given(fields):
                yield reader.line_num, given


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """(line, given fields) of each non-blank JSONL line."""
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"line {line}: not valid JSON ({exc.msg})") from None
        if not isinstance(fields, dict):
            raise InputError(path, f"line {line}: not a JSON object")
        yield line, _given(fields)


def _given(fields: dict) -> dict[str, object]:
    """The fields that hold a value, named as on the command line (``head_motion`` -> ``head-motion``)."""
    return {str(name).strip().replace("_", "-"): value.strip() if isinstance(value, str) else value
            for name, value in fields.items() if value is not None and str(value).strip()}


def _job(row: int, fields: dict[str, object], folder: Path, output_dir: Path) -> Job:
    """One job from its fields; InputError (without a path) when they do not make one."""
    kind = str(fields.pop("kind", "animate")).lower()
    if kind not in NEEDS:
        raise InputError(None, f"unknown kind {kind!r} (animate or dub)")
    for choices in NEEDS[kind]:
        if not any(name in fields for name in choices):
            raise InputError(None, f"{kind} needs {' or '.join(choices)}")
    output = PurePath(str(fields.pop("output", f"{row}.mp4")))
    if output.is_absolute() or ".." in output.parts:
        raise InputError(None, f"output {output} must be a name inside the output folder (not absolute, no ..)")
    return Job(row, kind, output.as_posix(), _argv(kind, fields, folder, output_dir / output))


def _argv(kind: str, fields: dict[str, object], folder: Path, output: Path) -> list[str]:
    """The ``talkinghead KIND`` command line of a job: input files found from ``folder``, switches as flags."""
    options = _options(kind)
    argv = [kind, f"--output={output}", "--quiet"]
    for name, value in fields.items():
        if isinstance(value, (list, dict)):
            raise InputError(None, f"{name} must be a string, a number or true/false")
        action = options.get(name)
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(_switch(name, value))
            continue
        if action is not None and (action.metavar == "FILE" or action.dest in INPUTS):
            value = folder / Path(str(value)).expanduser()
        argv.append(f"--{name}={value}")
    return argv


def _switch(name: str, value: object) -> str:
    """``--name`` or ``--no-name`` for a true or false value."""
    word = str(value).lower()
    if word not in TRUE + FALSE:
        raise InputError(None, f"{name} must be true or false, not {value!r}")
    return f"--{name}" if word in TRUE else f"--no-{name}"


@cache
def _options(kind: str) -> dict[str, argparse.Action]:
    """``talkinghead KIND``'s long options by name (``head-motion``), read from the CLI's own parser."""
    from talkinghead import cli

    commands = next(a for a in cli.build_parser([kind])._actions if isinstance(a, argparse._SubParsersAction))
    return {flag[2:]: action for action in commands.choices[kind]._actions
            for flag in action.option_strings if flag.startswith("--")}


def run_job(task: Task) -> Outcome:
    """Parse and run one job's command line as the CLI does (no progress bars); its row, seconds and error line."""
    from talkinghead import cli

    row, argv = task
    start = time.perf_counter()
    try:
        cli.run_argv(argv, lambda label, unit="frame": None)
        error = None
    except Exception as exc:  # one bad job must not stop the others: its error is its outcome
        error = str(exc) if isinstance(exc, (InputError, ValueError)) else f"{type(exc).__name__}: {exc}"
    return row, round(time.perf_counter() - start, 3), None if error is None else " ".join(error.split())


def _outcomes(tasks: list[Task], workers: int, ray: ModuleType | None) -> Iterator[Outcome]:
    """Each task's outcome as it finishes: as Ray tasks, in ``workers`` spawned processes, or in this one."""
    if ray:
        yield from ray_results(ray, run_job, tasks)
    elif workers > 1:
        with worker_pool(workers) as pool:
            yield from (future.result() for future in as_completed([pool.submit(run_job, t) for t in tasks]))
    else:
        yield from map(run_job, tasks)


def run_batch(jobs_file: str | Path, output_dir: str | Path, config: BatchConfig | None = None,
              progress: Progress | None = None) -> dict:
    """Run every job of ``jobs_file`` into ``output_dir`` (see the module doc); returns the summary: per-job records
    (``jobs``), the counts ``done``, ``skipped`` and ``failed``, ``wall_seconds`` and ``jobs_per_hour``."""
    config = config or BatchConfig()
    start = time.perf_counter()
    output_dir = Path(output_dir).resolve()
    jobs = read_jobs(jobs_file, output_dir)
    ray = connect_ray(config.ray) if config.ray else None
    todo = [job for job in jobs if not (output_dir / job.output).exists()]
    for job in todo:
        (output_dir / job.output).parent.mkdir(parents=True, exist_ok=True)
    workers = min(config.workers or os.cpu_count() or 1, len(todo))
    outcomes = _outcomes([(job.row, job.argv) for job in todo], workers, ray)
    finished = {row: (seconds, error) for row, seconds, error in (progress(outcomes, len(todo)) if progress
                                                                    else outcomes)}
    records = []
    for job in jobs:
        seconds, error = finished.get(job.row, (0.0, None))
        status = "skipped" if job.row not in finished else "failed" if error else "done"
        records.append({"row": job.row, "kind": job.kind, "output": job.output, "status": status, "seconds": seconds,
                        "error": error})
    wall = time.perf_counter() - start
    counts = {status: sum(r["status"] == status for r in records) for status in ("done", "skipped", "failed")}
    return {"output": str(output_dir), "jobs": records, **counts, "wall_seconds": round(wall, 3),
            "jobs_per_hour": round(counts["done"] / wall * 3600, 1)}


def table(summary: dict) -> str:
    """The summary as people read it: one line per job (row, kind, output, status, seconds, error), then the totals."""
    header = ["row", "kind", "output", "status", "seconds", "error"]
    rows = [header] + [[str(j["row"]), j["kind"], j["output"], j["status"], f"{j['seconds']:.1f}", j["error"] or ""]
                       for j in summary["jobs"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]).rstrip() for row in rows]
    lines.append(f"{summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed in "
                 f"{summary['wall_seconds']:.1f} s ({summary['jobs_per_hour']:.0f} jobs/hour)")
    return "\n".join(lines)
