"""Speed and memory of `animate`: renderer fps per output size; whole-command fps, real-time factor and peak memory
for every audio length x output size.

Run: .venv/bin/python bench/speed.py [--lengths 5 60 600] [--sizes 256 512 1024] [--out bench/results]
Prints Markdown tables and writes speed.png (RTF and peak memory against audio length, one line per size); each
command runs in a fresh process so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, markdown_table  # noqa: E402

from talkinghead.audio.decode import decode  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "examples" / "portrait.jpg"
SPEECH = [DATA / "musetalk" / "eng.wav", ROOT / "examples" / "speech.wav"]
RUN_WITH_PEAK = ("import resource, sys, json; from talkinghead.cli import main; rc = main(sys.argv[1:]); "
                 "print(json.dumps({'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")


def speech_of_length(seconds: float, path: Path) -> Path:
    """A 16 kHz wav of ``seconds`` made by repeating real speech."""
    source = next(p for p in SPEECH if p.exists())
    x = decode(source)
    x = np.tile(x, int(np.ceil(seconds * 16000 / len(x))))[: int(seconds * 16000)]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def render_fps(size: int, frames: int = 100) -> float:
    """Frames per second of the warp renderer alone (no encoding) at ``size`` x ``size``."""
    from talkinghead.audio import load_audio
    from talkinghead.face.portrait import load_portrait
    from talkinghead.pipeline import motion_from_audio
    from talkinghead.render.warp import WarpRenderer

    with tempfile.TemporaryDirectory() as tmp:
        motion = motion_from_audio(load_audio(speech_of_length(frames / 25 + 0.02, Path(tmp) / "s.wav")))
    render = WarpRenderer().render(load_portrait(PORTRAIT, size), motion)
    next(render)
    start = time.perf_counter()
    n = sum(1 for _ in render)
    return n / (time.perf_counter() - start)


def run_command(*argv: str) -> dict:
    """A `talkinghead` command in a fresh process: its JSON summary plus peak memory."""
    cmd = [sys.executable, "-c", RUN_WITH_PEAK, *argv, "--json", "--quiet"]
    lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return {**json.loads(lines[0]), **json.loads(lines[1])}


def run_animate(seconds: float, size: int, tmp: Path) -> dict:
    """The whole `talkinghead animate` command in a fresh process: its JSON summary plus peak memory."""
    audio = speech_of_length(seconds, tmp / f"speech_{seconds:g}.wav")
    return run_command("animate", "--image", str(PORTRAIT), "--audio", str(audio), "-o", str(tmp / "out.mp4"),
                       "--size", str(size))


def plot(rows: list[list], path: Path, title: str = "talkinghead animate on 2 CPU cores",
         series: str = "{} px") -> None:
    """Real-time factor and peak memory against audio length, one line per output size (rows: seconds, size, frames,
    wall, RTF, fps, peak MB; ``series`` formats the size for the legend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100)
    for size in sorted({r[1] for r in rows}):
        mine = [r for r in rows if r[1] == size]
        for ax, col in zip(axes, (4, 6)):
            ax.plot([r[0] for r in mine], [r[col] for r in mine], "o-", label=series.format(size))
    for ax, label in zip(axes, ("real-time factor (wall / audio)", "peak memory (MB)")):
        ax.set_xscale("log")
        ax.set_xlabel("audio length (s)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].axhline(1.0, color="0.5", lw=0.8, ls=":")
    axes[0].legend(frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="*", default=[5, 60, 600], help="audio lengths (s)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 512, 1024], help="output sizes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="folder for speed.png")
    args = parser.parse_args()
    print("Renderer alone (warp, no encoding):\n")
    print(markdown_table(["size", "render fps"], [[s, render_fps(s)] for s in args.sizes]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.lengths:
            for size in args.sizes:
                res = run_animate(seconds, size, Path(tmp))
                rows.append([seconds, size, res["frames"], res["wall_seconds"], res["real_time_factor"],
                             res["frames"] / res["wall_seconds"], round(res["peak_mb"])])
                print(f"{seconds:g} s at {size} px done", file=sys.stderr)
    print("\nWhole command (decode, phones, motion, render, H.264+AAC encode):\n")
    print(markdown_table(["audio s", "size", "frames", "wall s", "RTF", "fps", "peak MB"], rows))
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "speed.png")
    print(f"\nplot: {args.out / 'speed.png'}")


if __name__ == "__main__":
    main()
