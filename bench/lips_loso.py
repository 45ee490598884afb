"""The learned lips fine-tuned on real footage, leave-one-speaker-out: each speaker's clips scored by a model whose
training never saw that speaker.

Usage: python bench/lips_loso.py --prepared PREPARED --synth SYNTH [--steps 600] [--lr 3e-4] [--real-weight 4]

PREPARED is `talkinghead prepare` of a folder with one subfolder per speaker (clip ids ``speaker__clip``), SYNTH a
`talkinghead synth` corpus mixed in so that the network keeps what it learned there. Per held-out speaker: the
shipped learned lips fine-tuned (`train lips --init`) on SYNTH plus every other speaker's clips (``--real-weight``
times each, lips in a typical speaker's units, as recorded), then jaw_open from each of the speaker's clips' own
sound against the tracked mouth opening of the source video: r, best r within +-3 frames, and its lag.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from common import markdown_table
from lipsync_motion import real_opening
from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.eval.lipsync import best_lag, pearson
from talkinghead.motion.learned_lips import LearnedLips
from talkinghead.train.lips import LipsTrainConfig, train_lips

SHIPPED = Path(__file__).resolve().parents[1] / "talkinghead" / "assets" / "lips.pt"


def scores(weights: Path | None, sources: list[Path]) -> tuple[float, float, float]:
    """Mean r, best r and lag of the learned lips (``weights``, or the shipped ones) over ``sources``."""
    generator = LearnedLips(LearnedLips.Config(lips_weights=str(weights) if weights else None))
    found = []
    for source in sources:
        opening, fps = real_opening(source)
        jaw = generator.generate(AudioFeatures(load_audio(source), fps))["jaw_open"]
        n = min(len(jaw), len(opening))
        found.append((pearson(jaw[:n], opening[:n]), *best_lag(jaw[:n], opening[:n])))
    return tuple(np.mean(found, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--synth", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--real-weight", type=int, default=4, help="times each real clip counts beside SYNTH's")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "talkinghead-lips-loso")
    args = parser.parse_args()
    clips = defaultdict(list)
    for meta in sorted(args.prepared.glob("*/meta.json")):
        clips[meta.parent.name.split("__")[0]].append(meta.parent)
    rows, means, seconds = [], defaultdict(list), []
    for speaker, folders in sorted(clips.items()):
        fold = args.work / speaker / "real"
        fold.mkdir(parents=True, exist_ok=True)
        for other in (f for s, fs in clips.items() if s != speaker for f in fs):
            if not (fold / other.name).exists():
                (fold / other.name).symlink_to(other.resolve())
        weights = args.work / f"{speaker}.pt"
        if not weights.exists():
            start = time.perf_counter()
            train_lips(f"{args.synth},{fold}*{args.real_weight}", weights,
                       LipsTrainConfig(init=str(SHIPPED), steps=args.steps, lr=args.lr))
            seconds.append(time.perf_counter() - start)
        sources = [Path(json.loads((f / "meta.json").read_text())["source"]) for f in folders]
        group = "GRID" if all(s.suffix == ".mpg" for s in sources) else "other"
        before, after = scores(None, sources), scores(weights, sources)
        rows.append([speaker, group, str(len(folders))] + [f"{v:.3f}" for v in before[:2]] + [f"{before[2]:+.1f}"]
                    + [f"{v:.3f}" for v in after[:2]] + [f"{after[2]:+.1f}"])
        means[group].append(before + after)
    for group, values in sorted(means.items()):
        m = np.mean(values, 0)
        rows.append([f"**{group} mean**", "", ""] + [f"**{v:.3f}**" for v in m[:2]] + [f"{m[2]:+.1f}"]
                    + [f"**{v:.3f}**" for v in m[3:5]] + [f"{m[5]:+.1f}"])
    print(markdown_table(["held-out speaker", "group", "clips", "shipped r", "best r", "lag", "fine-tuned r", "best r",
                          "lag"], rows))
    if seconds:
        print(f"\nfine-tuning: {np.mean(seconds):.0f} s per held-out speaker ({args.steps} steps)")


if __name__ == "__main__":
    main()
