"""Head pose of the pose generators against the tracked real pose of every talking clip, as Markdown.

Usage: python bench/pose_motion.py [--pose prosody diffusion vae] [--seeds 5]

For each clip's own speech every generator makes ``--seeds`` head motions. Per generator (and for the real
tracked pose): spread (deviation of yaw, pitch, roll, degrees), speed (mean angular speed, degrees/s), diversity
(RMS difference between two seeds' rotations for the same speech, degrees; the real pose has one take) and rhythm:
Pearson r of the angular speed with the speech activity, both smoothed over 0.2, 0.5, 1 and 2 s.
Tracked motion is cached in /tmp (keyed by size and mtime).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from common import DATA, TALKING_CLIPS, markdown_table, require_data
from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.eval.lipsync import pearson
from talkinghead.motion import registry
from talkinghead.motion.motion import Motion

ROTATIONS = ("head_yaw", "head_pitch", "head_roll")
SCALES_S = (0.2, 0.5, 1.0, 2.0)
CACHE = Path(tempfile.gettempdir()) / "talkinghead-bench-motion"


def tracked(path: Path) -> Motion:
    """The clip's tracked motion, cached in /tmp."""
    from talkinghead.pipeline import track_motion

    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = CACHE / f"{path.stem}-{key}.json"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        track_motion(path).save(cached)
    return Motion.load(cached)


def rotations(motion: Motion) -> np.ndarray:
    """(T, 3) yaw, pitch, roll in degrees."""
    return np.stack([motion[c] for c in ROTATIONS], 1)


def figures(rot: np.ndarray, activity: np.ndarray, fps: float) -> list[float]:
    """Spread, speed and the rhythm r at each of :data:`SCALES_S` of one rotation sequence."""
    n = min(len(rot), len(activity))
    rot, activity = rot[:n], activity[:n]
    speed = np.linalg.norm(np.diff(rot, axis=0), axis=1) * fps
    windows = [max(1, int(s * fps)) for s in SCALES_S]
    rhythm = [pearson(uniform_filter1d(speed, w), uniform_filter1d(activity[1:], w)) for w in windows]
    return [float(rot.std(0).mean()), float(speed.mean()), *rhythm]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pose", nargs="+", default=["prosody", "diffusion", "vae"], help="pose generators")
    parser.add_argument("--seeds", type=int, default=5, help="takes per generator and clip")
    args = parser.parse_args()
    require_data()
    rows: dict[str, list[list[float]]] = {"real (tracked)": []}
    diversity: dict[str, list[float]] = {}
    speed_x: dict[str, list[float]] = {}
    for clip in TALKING_CLIPS:
        real = tracked(DATA / clip)
        features = AudioFeatures(load_audio(DATA / clip), real.fps)
        rows["real (tracked)"].append(figures(rotations(real), features.activity, real.fps))
        for name in args.pose:
            takes = []
            for seed in range(args.seeds):
                generator = registry.generator_class("pose", name)
                start = time.perf_counter()
                motion = generator(generator.Config(seed=seed)).generate(features)
                speed_x.setdefault(name, []).append(features.audio.duration / (time.perf_counter() - start))
                takes.append(rotations(motion))
                rows.setdefault(name, []).append(figures(takes[-1], features.activity, real.fps))
            diversity.setdefault(name, []).extend(float(np.sqrt(np.mean((a - b) ** 2)))
                                                  for a, b in itertools.combinations(takes, 2))
    header = ["pose", "spread (deg)", "speed (deg/s)", "diversity (deg)"] + [f"rhythm r {s} s" for s in SCALES_S] + [
        "x real time"]
    table = []
    for name, values in rows.items():
        mean = np.mean(values, 0)
        table.append([name, f"{mean[0]:.2f}", f"{mean[1]:.1f}",
                      f"{np.mean(diversity[name]):.2f}" if name in diversity else "-",
                      *(f"{v:.3f}" for v in mean[2:]),
                      f"{np.median(speed_x[name]):.0f}" if name in speed_x else "-"])
    print(f"Head pose on {len(TALKING_CLIPS)} talking clips, {args.seeds} seeds per generator:\n")
    print(markdown_table(header, table))


if __name__ == "__main__":
    main()
