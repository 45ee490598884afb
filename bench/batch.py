"""Throughput of `batch` on this machine: N animate jobs of the shipped example (portrait + 7.75 s of speech, default
size 512), run with 1, 2... local worker processes.

Run: .venv/bin/python bench/batch.py [--jobs 8] [--workers 1 2] [--size 512]
Prints a Markdown table: wall time, jobs per hour, mean seconds per job and the speed-up over one worker. Each batch
runs in a fresh process, into a fresh output folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table  # noqa: E402
from speed import run_command  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT, SPEECH = ROOT / "examples" / "portrait.jpg", ROOT / "examples" / "speech.wav"


def jobs_file(path: Path, jobs: int, size: int) -> Path:
    """A CSV of ``jobs`` animate jobs of the example, each with its own seed."""
    rows = [f"{PORTRAIT},{SPEECH},{size},{seed}" for seed in range(jobs)]
    path.write_text("\n".join(["image,audio,size,seed", *rows]) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8, help="animate jobs per batch")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="worker processes to compare")
    parser.add_argument("--size", type=int, default=512, help="output size (px)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = jobs_file(Path(tmp) / "jobs.csv", args.jobs, args.size)
        for workers in args.workers:
            res = run_command("batch", str(jobs), "-o", str(Path(tmp) / f"out_{workers}"), "--workers", str(workers))
            job_seconds = sum(j["seconds"] for j in res["jobs"]) / len(res["jobs"])
            rows.append([workers, res["done"], res["wall_seconds"], res["jobs_per_hour"], job_seconds])
            print(f"{workers} worker(s) done", file=sys.stderr)
    base = rows[0][3]
    print(f"{args.jobs} animate jobs of examples/speech.wav ({args.size} px) on {os.cpu_count()} CPU cores\n")
    print(markdown_table(["workers", "jobs done", "wall s", "jobs/hour", "s per job", "speed-up"],
                         [[*row, row[3] / base] for row in rows]))


if __name__ == "__main__":
    main()
