"""Lip sync of the lip generators against real video, and how they move the lips in other languages, as Markdown.

Usage: python bench/lipsync_motion.py [--lips phonetic learned] [--lips-weights FILE] [--syncer FILE]

1. Every talking clip of ../shared/data: r of each generator's jaw_open against the tracked mouth opening (best
   lag within +-3 frames), from the sound alone (no transcript), then the GRID clips with their transcripts.
2. Every speech recording, grouped by language: how much the jaw moves while speaking (deviation of jaw_open over
   voiced frames, share of them with the mouth open past 0.2), how closely it follows the syllables (r with the
   speech activity) and the MS-Sync syncer's confidence that lips and sound belong together.
3. Speed: each generator's x real time on 60 s of speech.
Tracked mouth curves are cached in /tmp (keyed by size and mtime).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DATA, TALKING_CLIPS, markdown_table, require_data
from talkinghead.audio.decode import Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.data.grid import grid_transcript
from talkinghead.eval.lipsync import best_lag, pearson
from talkinghead.motion import registry
from talkinghead.motion.motion import Motion
from talkinghead.motion.syncer import sync_score
from talkinghead.models.syncer import Syncer
from talkinghead.models.weights import load_model

CACHE = Path(tempfile.gettempdir()) / "talkinghead-bench-mouth"
SPEECH = {  # recording -> language
    "sadtalker/RD_Radio31_000.wav": "English", "sadtalker/RD_Radio34_002.wav": "English",
    "echomimic/jane.wav": "English", "echomimic/walden.wav": "English", "videoretalking/audio1.wav": "English",
    "videoretalking/audio2.wav": "English", "dreamtalk/acknowledgement_english.m4a": "English",
    "sadtalker/chinese_news.wav": "Mandarin", "sadtalker/deyu.wav": "German", "sadtalker/fayu.wav": "French",
    "sadtalker/japanese.wav": "Japanese", "dreamtalk/korean1.wav": "Korean",
}


def real_opening(path: Path) -> tuple[np.ndarray, float]:
    """The tracked mouth opening of a video and its fps, cached in /tmp."""
    from talkinghead.face.track import track_video

    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = CACHE / f"{path.stem}-{key}.npz"
    if cached.exists():
        data = np.load(cached)
        return data["opening"], float(data["fps"])
    track = track_video(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cached, opening=track.mouth_opening, fps=track.fps)
    return track.mouth_opening, track.fps


WEIGHTS: dict[str, str] = {}  # generator name -> the checkpoint it uses (--lips-weights), where not the shipped one


def lips(name: str, features: AudioFeatures) -> Motion:
    """The lip channels of generator ``name`` for ``features``."""
    generator = registry.generator_class("lips", name)
    config = generator.Config(lips_weights=WEIGHTS[name]) if name in WEIGHTS else None
    return generator(config).generate(features)


def sync_table(paths: list[Path], names: list[str], transcripts: bool) -> str:
    """Per clip and generator: r and lag against the real mouth; GRID and other means."""
    rows, scores = [], {n: {"GRID": [], "other": []} for n in names}
    for path in paths:
        opening, fps = real_opening(path)
        features = AudioFeatures(load_audio(path), fps, grid_transcript(path.stem) if transcripts else None)
        row = [str(path.relative_to(DATA))]
        for name in names:
            r, lag = best_lag(lips(name, features)["jaw_open"], opening, 3)
            scores[name]["GRID" if path.parent.name == "lipnet-grid" else "other"].append(r)
            row += [f"{r:.3f}", f"{lag:+d}"]
        rows.append(row)
    for group in ("GRID", "other"):
        if scores[names[0]][group]:
            rows.append([f"**{group} mean**"] + sum(([f"**{np.mean(scores[n][group]):.3f}**", ""] for n in names), []))
    return markdown_table(["clip"] + sum(([f"{n} r", "lag"] for n in names), []), rows)


def language_table(names: list[str], syncer: Syncer) -> str:
    """Per recording and generator: jaw deviation while speaking, open share, r with activity, syncer confidence."""
    rows, groups = [], {}
    for rel, language in SPEECH.items():
        if not (DATA / rel).exists():
            continue
        features = AudioFeatures(load_audio(DATA / rel), 25.0)
        speaking = features.activity > 0.3
        row = [rel, language]
        for name in names:
            motion = lips(name, features)
            j = motion["jaw_open"]
            figures = [float(j[speaking].std()), float((j[speaking] > 0.2).mean()), pearson(j, features.activity),
                       sync_score(syncer, motion, features)["confidence"]]
            groups.setdefault((language == "English", name), []).append(figures)
            row += [f"{v:.3f}" for v in figures]
        rows.append(row)
    for english in (True, False):
        rows.append([f"**{'English' if english else 'other languages'} mean**", ""]
                    + sum(([f"**{v:.3f}**" for v in np.mean(groups[(english, n)], 0)] for n in names), []))
    head = sum(([f"{n} jaw sd", "open", "r activity", "sync conf."] for n in names), [])
    return markdown_table(["recording", "language"] + head, rows)


def speed_table(names: list[str], seconds: float = 60.0) -> str:
    """Per generator: x real time on ``seconds`` of speech (the example, repeated), the mel computed beforehand."""
    example = load_audio(Path(__file__).resolve().parents[1] / "examples" / "speech.wav")
    repeats = int(np.ceil(seconds / example.duration))
    audio = Audio(np.tile(example.samples, repeats)[:int(seconds * example.rate)], example.rate)
    rows = []
    for name in names:
        features = AudioFeatures(audio, 25.0)
        features.mel  # noqa: B018 - computed before the clock starts
        lips(name, AudioFeatures(example, 25.0))  # weights loaded
        start = time.perf_counter()
        lips(name, features)
        rows.append([name, f"{audio.duration / (time.perf_counter() - start):.0f}"])
    return markdown_table(["lips", "x real time"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lips", nargs="+", default=["phonetic", "learned"], help="lip generators to compare")
    parser.add_argument("--lips-weights", metavar="FILE", help="checkpoint of `train lips` the learned lips use")
    parser.add_argument("--syncer", default="syncer", help="MS-Sync syncer checkpoint or shipped name")
    args = parser.parse_args()
    if args.lips_weights:
        WEIGHTS["learned"] = args.lips_weights
    require_data()
    videos = [DATA / c for c in TALKING_CLIPS]
    print("Lip sync from the sound alone (no transcript):\n")
    print(sync_table(videos, args.lips, transcripts=False))
    print("\nGRID clips with their transcripts:\n")
    print(sync_table([v for v in videos if v.parent.name == "lipnet-grid"], args.lips, transcripts=True))
    print(f"\nSpeed on 60 s of speech:\n\n{speed_table(args.lips)}")
    print("\nLip motion per language (speech recordings):\n")
    print(language_table(args.lips, load_model(Syncer, args.syncer)))


if __name__ == "__main__":
    main()
