"""Lip sync of `animate` on real clips: first frame + the clip's own speech -> video, mouth vs the real one.

For each talking video in ../shared/data: animate its first frame with its audio at its own fps,
re-track the output with FaceMesh, and report Pearson r of the mouth opening against the real video
(best lag within +-3 frames) next to the loudness-envelope baseline. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TALKING_CLIPS, markdown_table, require_data  # noqa: E402

from talkinghead.audio import load_audio  # noqa: E402
from talkinghead.audio.features import AudioFeatures  # noqa: E402
from talkinghead.eval.lipsync import best_lag  # noqa: E402
from talkinghead.face.track import track_video  # noqa: E402
from talkinghead.io.video import read_frames, video_info  # noqa: E402
from talkinghead.pipeline import AnimateConfig, animate  # noqa: E402


def evaluate_clip(path: Path, workdir: Path, config: AnimateConfig) -> dict:
    """Animate one clip's first frame with its audio; r/lag of the mouth vs the real video and the baseline."""
    fps = video_info(path)[0]
    portrait = workdir / f"{path.stem}.png"
    cv2.imwrite(str(portrait), cv2.cvtColor(next(iter(read_frames(path))), cv2.COLOR_RGB2BGR))
    out = workdir / f"{path.stem}.mp4"
    summary = animate(portrait, path, out, AnimateConfig(**{**vars(config), "fps": fps}))
    real, generated = track_video(path), track_video(out)
    loudness = AudioFeatures(load_audio(path), fps).loudness
    r, lag = best_lag(generated.mouth_opening, real.mouth_opening)
    base_r, base_lag = best_lag(loudness, real.mouth_opening)
    return {"r": r, "lag": lag, "baseline_r": base_r, "baseline_lag": base_lag,
            "found": float(generated.found.mean()), "rtf": summary["real_time_factor"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", default=TALKING_CLIPS, help="clips relative to ../shared/data")
    parser.add_argument("--transcripts", action="store_true", help="give GRID clips their transcript (forced alignment)")
    args = parser.parse_args()
    data = require_data()
    rows, grid, other = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips:
            start = time.perf_counter()
            config = AnimateConfig()
            if args.transcripts and clip.startswith("lipnet-grid/"):
                from talkinghead.data.grid import grid_transcript

                config.transcript = grid_transcript(Path(clip).stem)
            res = evaluate_clip(data / clip, Path(tmp), config)
            (grid if clip.startswith("lipnet-grid/") else other).append(res["r"])
            rows.append([clip, res["r"], res["lag"], res["baseline_r"], res["baseline_lag"], res["found"], res["rtf"]])
            print(f"{clip}: r={res['r']:.3f} lag={res['lag']} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    print(markdown_table(["clip", "r", "lag", "loudness r", "loudness lag", "face found", "RTF"], rows))
    print(f"\nGRID mean r = {np.mean(grid):.3f} (baseline {np.mean([r[3] for r in rows[:len(grid)]]):.3f}); "
          f"other clips mean r = {np.mean(other) if other else float('nan'):.3f}; all = {np.mean(grid + other):.3f}")


if __name__ == "__main__":
    main()
