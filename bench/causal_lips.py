"""The streaming (causal) learned lips against the offline ones, on every real talking clip of ../shared/data.

Usage: python bench/causal_lips.py [--lips learned causal] [--chunk-ms 40]

1. Per clip, each generator's jaw_open from the clip's own sound against its tracked mouth opening
   (:mod:`lipsync_motion`): r as the lips come out, the best r within +-3 frames and its lag (+: the generated mouth
   is late); means over GRID's five speakers, the other short clips (HDTF-style) and the long single-speaker clips.
   Every clip's speaker is held out: both networks learned from synthetic speech, the causal one also from the
   offline lips' reading of other speakers' recordings (audio-only files of ../shared/data, none of these clips).
2. Cost of streaming: the causal lips on 60 s of speech pushed in chunks of --chunk-ms, one torch thread: ms of
   compute per second of sound, per chunk (mean and 99th percentile), and the look-ahead a frame waits for.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch

from common import DATA, TALKING_CLIPS, markdown_table, require_data
from lips_speakers import LONG
from lipsync_motion import lips, real_opening
from talkinghead.audio.decode import SAMPLE_RATE, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.eval.lipsync import best_lag, pearson
from talkinghead.motion.streaming_lips import StreamingLips

GROUPS = ("GRID", "HDTF-style", "long")
COST_SPEECH = "musetalk/eng.wav"  # 60 s of English


def group_of(clip: str) -> str:
    return "GRID" if clip.startswith("lipnet-grid/") else "long" if clip.startswith("long/") else "HDTF-style"


def sync_table(clips: list[str], names: list[str]) -> str:
    """Per clip and generator: r, best r, lag; the last generator's best r less the first's; group means."""
    rows, scores = [], defaultdict(list)
    for clip in sorted(clips, key=lambda c: (GROUPS.index(group_of(c)), c)):
        opening, fps = real_opening(DATA / clip)
        features = AudioFeatures(load_audio(DATA / clip), fps)
        row, values = [clip, group_of(clip)], []
        for name in names:
            jaw = lips(name, features)["jaw_open"]
            n = min(len(jaw), len(opening))
            r, (best, lag) = pearson(jaw[:n], opening[:n]), best_lag(jaw[:n], opening[:n])
            row += [f"{r:.3f}", f"{best:.3f}", f"{lag:+d}"]
            values += [r, best, lag]
        values.append(values[-2] - values[1])
        rows.append(row + [f"{values[-1]:+.3f}"])
        scores[group_of(clip)].append(values)
    for group in GROUPS:
        means = np.mean(scores[group], 0)
        cells = [f"**{v:.3f}**" if i % 3 < 2 else f"{v:+.1f}" for i, v in enumerate(means[:-1])]
        rows.append([f"**{group} mean** ({len(scores[group])})", ""] + cells + [f"**{means[-1]:+.3f}**"])
    head = ["clip", "group"] + sum(([f"{n} r", "best r", "lag"] for n in names), []) + \
        [f"best r, {names[-1]} - {names[0]}"]
    return markdown_table(head, rows)


def cost_table(chunk_ms: float) -> str:
    """The streaming lips' compute per second of sound and per chunk, and their look-ahead."""
    torch.set_num_threads(1)
    samples = load_audio(DATA / COST_SPEECH).samples
    stream, step, times, frames = StreamingLips(), int(chunk_ms / 1000 * SAMPLE_RATE), [], 0
    stream.push(samples[:SAMPLE_RATE])  # warm up (first calls allocate)
    stream.reset()
    for start in range(0, len(samples), step):
        t0 = time.perf_counter()
        frames += len(stream.push(samples[start:start + step]))
        times.append(time.perf_counter() - t0)
    frames += len(stream.flush())
    seconds = len(samples) / SAMPLE_RATE
    times_ms = 1000 * np.array(times)
    return markdown_table(["sound", "chunk", "frames", "ms per s of sound", "ms per chunk (mean)", "(p99)",
                           "look-ahead past a frame's end"],
                          [[f"{COST_SPEECH} ({seconds:.0f} s)", f"{chunk_ms:g} ms", str(frames),
                            f"{times_ms.sum() / seconds:.1f}", f"{times_ms.mean():.2f}",
                            f"{np.percentile(times_ms, 99):.2f}", f"{1000 * stream.lookahead_s:.0f} ms"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lips", nargs="+", default=["learned", "causal"])
    parser.add_argument("--chunk-ms", type=float, default=40.0)
    args = parser.parse_args()
    require_data()
    print(sync_table(TALKING_CLIPS + LONG, args.lips))
    print("\nStreaming cost (one torch thread):\n")
    print(cost_table(args.chunk_ms))


if __name__ == "__main__":
    main()
