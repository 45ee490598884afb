"""Speed and memory of `dub` on 2 CPU cores: 512x512, 720p and 1080p talking videos, dubbed with speech of several
lengths (longer speech plays the video back and forth, so memory must stay flat however long the speech).

Run: .venv/bin/python bench/dub_speed.py [--lengths 10 60 300] [--out bench/results]
Prints a Markdown table (tracking pass, whole command, output fps, real-time factor, peak memory) and writes
dub_speed.png. The 1080p input is the 720p clip scaled up (no 1080p landscape talking video ships with the data).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, require_data  # noqa: E402
from speed import plot, run_command, speech_of_length  # noqa: E402

from talkinghead.io.video import Mp4Writer, read_frames, video_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def inputs(data: Path, tmp: Path) -> dict[str, Path]:
    """The source videos by name: two real clips and the 720p one scaled to 1920x1080."""
    hd = data / "hyperlips" / "video2.mp4"
    full_hd = tmp / "video2_1080p.mp4"
    with Mp4Writer(full_hd, 1920, 1080, video_info(hd)[0], crf=18) as writer:
        for frame in read_frames(hd):
            writer.write(cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_CUBIC))
    return {"512x512": data / "sadtalker" / "WDA_KatieHill_000.mp4", "1280x720": hd, "1920x1080": full_hd}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="*", default=[10, 60, 300], help="speech lengths (s)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="folder for dub_speed.png")
    args = parser.parse_args()
    data = require_data()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, video in inputs(data, tmp).items():
            for seconds in args.lengths:
                audio = speech_of_length(seconds, tmp / f"speech_{seconds:g}.wav")
                res = run_command("dub", "--video", str(video), "--audio", str(audio), "-o", str(tmp / "out.mp4"))
                rows.append([seconds, name, res["frames"], res["wall_seconds"], res["real_time_factor"],
                             res["frames"] / res["wall_seconds"], round(res["peak_mb"]),
                             res["source_frames"] / res["track_seconds"]])
                print(f"{name}, {seconds:g} s done", file=sys.stderr)
    print(markdown_table(["speech s", "input", "frames", "wall s", "RTF", "fps", "peak MB", "tracking fps"], rows))
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "dub_speed.png", "talkinghead dub on 2 CPU cores", "{}")
    print(f"\nplot: {args.out / 'dub_speed.png'}")


if __name__ == "__main__":
    main()
