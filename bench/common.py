"""Shared helpers of the bench scripts: locating ../shared/data and its talking clips."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from talkinghead.eval.results import markdown_table  # noqa: F401  (re-exported for the bench scripts)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# talking videos that carry their own speech
TALKING_CLIPS = sorted(str(p.relative_to(DATA)) for p in DATA.glob("lipnet-grid/*.mpg")) + [
    "videoretalking/face1.mp4", "videoretalking/face2.mp4", "videoretalking/face3.mp4",
    "videoretalking/face4.mp4", "videoretalking/face5.mp4", "sadtalker/WDA_KatieHill_000.mp4",
    "hyperlips/video2.mp4", "latentsync/demo1_video.mp4",
] if DATA.exists() else []


def clip_arguments(description: str, results: str) -> argparse.ArgumentParser:
    """A parser with --clips (relative to ../shared/data, default every talking clip) and --out (default
    bench/results/``results``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--clips", nargs="*", default=TALKING_CLIPS, help="clips relative to ../shared/data")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / results)
    return parser


def data_and_results(args: argparse.Namespace) -> Path:
    """The shared data folder (exiting when it is absent), with the results folder ``args.out`` made."""
    data = require_data()
    args.out.mkdir(parents=True, exist_ok=True)
    return data


def require_data() -> Path:
    """The shared data folder, or exit with a message when it is absent."""
    if not DATA.exists():
        sys.exit(f"bench: {DATA} not found; these benchmarks need the shared real-media folder")
    return DATA
