"""Lip sync on speakers nothing was tuned on: leave-one-speaker-out over every real talking speaker in ../shared/data.

Usage: python bench/lips_speakers.py [--lips phonetic learned] [--max-lead 4] [--tune]

Each clip's jaw_open (from its own sound, no transcript) is compared with the clip's tracked mouth opening: "r" is
Pearson's r as the lips come out, "best" the best r within +-3 frames and "lag" where it is (+: the generated mouth
is late; in frames of the clip's own fps). Obama's seven clips count as one speaker, and each speaker weighs the same.

1. The lead: for each held-out speaker, the whole frames the lips are moved earlier that give the highest mean r
   over the other speakers; "r after" is the held-out speaker's r with that lead.
2. With --tune, the phonetic lips' constants that shape the jaw (a grid), chosen the same way on best r.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections import defaultdict
from pathlib import Path
from typing import Callable, Hashable

import numpy as np

from common import DATA, TALKING_CLIPS, markdown_table, require_data
from lipsync_motion import lips, real_opening
from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.eval.lipsync import best_lag, pearson, shift
from talkinghead.motion.phonetic_lips import PhoneticLips, PhoneticLipsConfig

LONG = sorted(str(p.relative_to(DATA)) for p in (DATA / "long").glob("*.mp4")) if DATA.exists() else []
GRID = {"spread_s": (0.01, 0.03, 0.06, 0.1), "loudness_weight": (0.3, 0.5, 0.7, 0.9), "silence_fill": (0.3, 0.5, 0.8),
        "breath_open": (0.3, 0.6)}  # the phonetic lips' constants that shape the jaw


def speaker_of(clip: str) -> str:
    """Who speaks in a clip: GRID and the short clips one speaker each, the long clips by name."""
    name = Path(clip).stem.lower()
    for person in ("obama", "macron", "reagan"):
        if person in name:
            return person
    return "obama" if clip == "hyperlips/video2.mp4" else name


def choose(scores: dict[Hashable, dict[str, float]], held_out: str) -> Hashable:
    """The option with the highest mean score over every speaker but ``held_out`` (ties: the first)."""
    return max(scores, key=lambda o: np.mean([v for s, v in scores[o].items() if s != held_out]))


def per_speaker(clips: dict[str, list[str]], score: Callable[[str], float]) -> dict[str, float]:
    """The mean of ``score`` over each speaker's clips."""
    return {s: float(np.mean([score(c) for c in cs])) for s, cs in clips.items()}


class Clips:
    """The clips' real mouth openings and sound features, loaded once."""

    def __init__(self, names: list[str]) -> None:
        self.opening, self.features = {}, {}
        for clip in names:
            opening, fps = real_opening(DATA / clip)
            self.opening[clip], self.features[clip] = opening, AudioFeatures(load_audio(DATA / clip), fps)

    def pair(self, clip: str, jaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = min(len(jaw), len(self.opening[clip]))
        return jaw[:n], self.opening[clip][:n]


def lead_table(data: Clips, clips: dict[str, list[str]], names: list[str], leads: range) -> str:
    """Per held-out speaker and generator: r, best r, lag; the lead the others choose, r and lag with it."""
    jaws = {(n, c): data.pair(c, lips(n, data.features[c])["jaw_open"]) for n in names for cs in clips.values()
            for c in cs}
    rows, means = [], defaultdict(list)
    for speaker in sorted(clips, key=lambda s: (group_of(s, clips), s)):
        row = [speaker, group_of(speaker, clips), str(len(clips[speaker]))]
        for n in names:
            scores = {k: per_speaker(clips, lambda c: pearson(*shift(*jaws[(n, c)], k))) for k in leads}
            lead = choose(dict(sorted(scores.items(), key=lambda t: abs(t[0]))), speaker)
            fits = [best_lag(*jaws[(n, c)]) for c in clips[speaker]]
            after = [best_lag(*shift(*jaws[(n, c)], lead))[1] for c in clips[speaker]]
            before, best, lag = scores[0][speaker], np.mean([f[0] for f in fits]), np.mean([f[1] for f in fits])
            row += [f"{before:.3f}", f"{best:.3f}", f"{lag:+.1f}", f"{lead:+d}", f"{scores[lead][speaker]:.3f}",
                    f"{np.mean(after):+.1f}"]
            means[(n, group_of(speaker, clips))].append((before, best, lag, scores[lead][speaker], np.mean(after)))
        rows.append(row)
    for group in ("GRID", "other"):
        row = [f"**{group} mean**", "", ""]
        for n in names:
            before, best, lag, after, after_lag = np.mean(means[(n, group)], 0)
            row += [f"**{before:.3f}**", f"**{best:.3f}**", f"{lag:+.1f}", "", f"**{after:.3f}**", f"{after_lag:+.1f}"]
        rows.append(row)
    head = ["held-out speaker", "group", "clips"] + sum(
        ([f"{n} r", "best r", "lag", "lead (others)", "r after", "lag after"] for n in names), [])
    return markdown_table(head, rows)


def tune_table(data: Clips, clips: dict[str, list[str]]) -> str:
    """Per held-out speaker: the phonetic lips' best r with the shipped constants and with those the others choose."""
    options = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    shipped = {k: getattr(PhoneticLipsConfig(), k) for k in GRID}
    options.insert(0, shipped)
    scores = {}
    for i, option in enumerate(options):
        generator = PhoneticLips(dataclasses.replace(PhoneticLipsConfig(), **option))
        scores[i] = per_speaker(clips, lambda c: best_lag(*data.pair(c, generator.generate(data.features[c])
                                                                     ["jaw_open"]))[0])
    rows, means = [], defaultdict(list)
    for speaker in sorted(clips, key=lambda s: (group_of(s, clips), s)):
        chosen = choose(scores, speaker)
        rows.append([speaker, group_of(speaker, clips), f"{scores[0][speaker]:.3f}", f"{scores[chosen][speaker]:.3f}",
                     ", ".join(f"{k} {v}" for k, v in options[chosen].items() if v != shipped[k]) or "shipped"])
        means[group_of(speaker, clips)].append((scores[0][speaker], scores[chosen][speaker]))
    for group, values in means.items():
        before, after = np.mean(values, 0)
        rows.append([f"**{group} mean**", "", f"**{before:.3f}**", f"**{after:.3f}**", ""])
    everyone = choose(scores, "")
    rows.append(["(all speakers)", "", "", f"{np.mean(list(scores[everyone].values())):.3f}",
                 ", ".join(f"{k} {v}" for k, v in options[everyone].items())])
    return markdown_table(["held-out speaker", "group", "best r, shipped", "best r, tuned on the others",
                           "constants the others choose"], rows)


def group_of(speaker: str, clips: dict[str, list[str]]) -> str:
    return "GRID" if all(c.startswith("lipnet-grid/") for c in clips[speaker]) else "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lips", nargs="+", default=["phonetic", "learned"])
    parser.add_argument("--max-lead", type=int, default=4, help="leads tried: -N..N frames")
    parser.add_argument("--tune", action="store_true", help="also tune the phonetic lips' jaw constants")
    args = parser.parse_args()
    require_data()
    clips = defaultdict(list)
    for clip in TALKING_CLIPS + LONG:
        clips[speaker_of(clip)].append(clip)
    data = Clips([c for cs in clips.values() for c in cs])
    print(lead_table(data, clips, args.lips, range(-args.max_lead, args.max_lead + 1)))
    if args.tune:
        print("\nThe phonetic lips' jaw constants, tuned leaving each speaker out:\n")
        print(tune_table(data, clips))


if __name__ == "__main__":
    main()
