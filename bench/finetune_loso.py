"""The shipped learned lips or MS-Sync syncer fine-tuned on real footage, leave-one-speaker-out: each speaker's clips
scored by a model whose training never saw that speaker.

Usage: python bench/finetune_loso.py --model lips|syncer --prepared PREPARED --synth SYNTH [--steps 300] [--lr 1e-4]
       [--real-weight 2]

PREPARED is `talkinghead prepare` of a folder with one subfolder per speaker (clip ids ``speaker__clip``), SYNTH a
`talkinghead synth` corpus mixed in so that the network keeps what it learned there. Per held-out speaker, the
shipped weights are fine-tuned (`train lips|syncer --init`) on SYNTH plus every other speaker's clips
(``--real-weight`` times each, lips in a typical speaker's units), then the speaker's clips are scored:

- lips: jaw_open from each clip's own sound against the tracked mouth opening of the source video: r, best r within
  +-3 frames and its lag (+: late);
- syncer: its confidence that the clip's tracked lips go with their own speech, and with another speaker's speech
  (the gap between the two is what a sync score is for), and the share of clips whose best offset is within 1 frame.
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
from talkinghead.models.syncer import Syncer
from talkinghead.models.weights import load_model
from talkinghead.motion.motion import Motion
from talkinghead.motion.syncer import sync_score
from talkinghead.train.lips import LipsTrainConfig, train_lips
from talkinghead.train.syncer import SyncerTrainConfig, train_syncer

ASSETS = Path(__file__).resolve().parents[1] / "talkinghead" / "assets"


def lips_scores(weights: Path | None, folders: list[Path], others: list[Path]) -> tuple[float, ...]:
    """Mean r, best r and lag of the learned lips (``weights``, or the shipped ones) on the clips' source videos."""
    generator = LearnedLips(LearnedLips.Config(lips_weights=str(weights) if weights else None))
    found = []
    for folder in folders:
        source = Path(json.loads((folder / "meta.json").read_text())["source"])
        opening, fps = real_opening(source)
        jaw = generator.generate(AudioFeatures(load_audio(source), fps))["jaw_open"]
        n = min(len(jaw), len(opening))
        found.append((pearson(jaw[:n], opening[:n]), *best_lag(jaw[:n], opening[:n])))
    return tuple(np.mean(found, 0))


def syncer_scores(weights: Path | None, folders: list[Path], others: list[Path]) -> tuple[float, ...]:
    """The syncer's mean confidence on the clips' tracked lips with their own speech and with another speaker's, and
    the share whose best offset is within one frame."""
    syncer = load_model(Syncer, str(weights) if weights else "syncer")
    found = []
    for i, folder in enumerate(folders):
        motion = Motion.load(folder / "motion.json")
        own = sync_score(syncer, motion, AudioFeatures(load_audio(folder / "audio.wav"), 25.0))
        other = AudioFeatures(load_audio(others[i % len(others)] / "audio.wav"), 25.0)
        found.append((own["confidence"], sync_score(syncer, motion, other)["confidence"], abs(own["offset"]) <= 1))
    return tuple(np.mean(found, 0))


MODELS = {"lips": (train_lips, LipsTrainConfig, lips_scores, ("r", "best r", "lag")),
          "syncer": (train_syncer, SyncerTrainConfig, syncer_scores, ("own speech", "other speech", "offset ok"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default="lips")
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--synth", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--real-weight", type=int, default=2, help="times each real clip counts beside SYNTH's")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "talkinghead-loso")
    args = parser.parse_args()
    train, config, scores, columns = MODELS[args.model]
    work = args.work / args.model
    clips = defaultdict(list)
    for meta in sorted(args.prepared.glob("*/meta.json")):
        clips[meta.parent.name.split("__")[0]].append(meta.parent)
    rows, means, seconds = [], defaultdict(list), []
    for speaker, folders in sorted(clips.items()):
        fold = work / speaker / "real"
        fold.mkdir(parents=True, exist_ok=True)
        for other in (f for s, fs in clips.items() if s != speaker for f in fs):
            if not (fold / other.name).exists():
                (fold / other.name).symlink_to(other.resolve())
        weights = work / f"{speaker}.pt"
        if not weights.exists():
            start = time.perf_counter()
            train(f"{args.synth},{fold}*{args.real_weight}", weights,
                  config(init=str(ASSETS / f"{args.model}.pt"), steps=args.steps, lr=args.lr))
            seconds.append(time.perf_counter() - start)
        others = [f for s, fs in clips.items() if s != speaker for f in fs]
        sources = [json.loads((f / "meta.json").read_text())["source"] for f in folders]
        group = "GRID" if all(s.endswith(".mpg") for s in sources) else "other"
        before, after = scores(None, folders, others), scores(weights, folders, others)
        rows.append([speaker, group, str(len(folders))] + [f"{v:+.3f}" for v in before + after])
        means[group].append(before + after)
    for group, values in sorted(means.items()):
        rows.append([f"**{group} mean**", "", ""] + [f"**{v:+.3f}**" for v in np.mean(values, 0)])
    print(markdown_table(["held-out speaker", "group", "clips"] + [f"shipped: {c}" for c in columns]
                         + [f"fine-tuned: {c}" for c in columns], rows))
    if seconds:
        print(f"\nfine-tuning: {np.mean(seconds):.0f} s per held-out speaker ({args.steps} steps)")


if __name__ == "__main__":
    main()
