"""Speed and memory of `animate`: renderer fps per output size, whole-command real-time factor per audio length.

Run: .venv/bin/python bench/speed.py [--lengths 5 60 600] [--sizes 256 512 1024]
Prints Markdown tables; each command runs in a fresh process so that its peak memory is its own.
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


def run_animate(seconds: float, size: int, tmp: Path) -> dict:
    """The whole `talkinghead animate` command in a fresh process: its JSON summary plus peak memory."""
    audio = speech_of_length(seconds, tmp / f"speech_{seconds:g}.wav")
    cmd = [sys.executable, "-c", RUN_WITH_PEAK, "animate", "--image", str(PORTRAIT), "--audio", str(audio),
           "-o", str(tmp / "out.mp4"), "--size", str(size), "--json", "--quiet"]
    lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return {**json.loads(lines[0]), **json.loads(lines[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="*", default=[5, 60, 600], help="audio lengths (s)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 512, 1024], help="output sizes")
    args = parser.parse_args()
    rows = [[s, render_fps(s)] for s in args.sizes]
    print("Renderer alone (warp, no encoding):\n")
    print(markdown_table(["size", "render fps"], rows))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.lengths:
            res = run_animate(seconds, 512, Path(tmp))
            rows.append([f"{seconds:g} s", res["frames"], res["wall_seconds"], res["real_time_factor"],
                         res["frames"] / res["wall_seconds"], round(res["peak_mb"])])
            print(f"{seconds:g} s done", file=sys.stderr)
    print("\nWhole command, 512x512 output (decode, phones, motion, render, H.264+AAC encode):\n")
    print(markdown_table(["audio", "frames", "wall s", "RTF", "fps", "peak MB"], rows))


if __name__ == "__main__":
    main()
