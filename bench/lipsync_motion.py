"""Lip-sync of the phonetic lips against real video: r of jaw_open vs the tracked mouth opening, as Markdown.

Usage: python bench/lipsync_motion.py [--data DIR]
Prints one table from recognised phones (no transcript) for every clip, then one for the GRID clips aligned to
the transcripts their names encode. Tracked mouth curves are cached in /tmp (keyed by size and mtime).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from talkinghead.audio.decode import SAMPLE_RATE, Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.phones import recognize_phones
from talkinghead.eval.lipsync import best_lag
from talkinghead.motion.phonetic_lips import PhoneticLips

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TALKING = ["videoretalking/face1.mp4", "videoretalking/face2.mp4", "videoretalking/face3.mp4",
           "videoretalking/face4.mp4", "videoretalking/face5.mp4", "sadtalker/WDA_KatieHill_000.mp4",
           "hyperlips/video2.mp4", "latentsync/demo1_video.mp4"]
CACHE = Path(tempfile.gettempdir()) / "talkinghead-bench-mouth"
GRID_WORDS = [
    {"b": "bin", "l": "lay", "p": "place", "s": "set"},
    {"b": "blue", "g": "green", "r": "red", "w": "white"},
    {"a": "at", "b": "by", "i": "in", "w": "with"},
    None,  # the letter itself
    dict(zip("0123456789", "zero one two three four five six seven eight nine".split())),
    {"a": "again", "n": "now", "p": "please", "s": "soon"},
]


def grid_transcript(path: Path) -> str:
    """The sentence a GRID file name encodes, e.g. bbaf2n -> 'bin blue at f two now'."""
    return " ".join(code if table is None else table[code] for code, table in zip(path.stem, GRID_WORDS))


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


def measure(path: Path, transcript: str | None) -> dict[str, float]:
    """r and lag of jaw_open and of the loudness baseline against the real mouth, and the speed."""
    opening, fps = real_opening(path)
    audio = load_audio(path)
    start = time.perf_counter()
    features = AudioFeatures(audio, fps=fps, transcript=transcript)
    jaw = PhoneticLips().generate(features)["jaw_open"]
    seconds = time.perf_counter() - start
    r, lag = best_lag(jaw, opening, 3)
    r0, lag0 = best_lag(features.loudness, opening, 3)
    return {"r": r, "lag": lag, "r0": r0, "lag0": lag0, "speed": audio.duration / seconds}


def table(rows: dict[str, dict[str, float]]) -> str:
    """Markdown table of the per-clip figures and the GRID / other means."""
    lines = ["| clip | r | lag | loudness r | lag | x real time |", "|---|---|---|---|---|---|"]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['r']:.3f} | {m['lag']:+d} | {m['r0']:.3f} | {m['lag0']:+d} | {m['speed']:.0f} |")
    for group, members in (("GRID mean", [n for n in rows if n.startswith("lipnet-grid")]),
                           ("other mean", [n for n in rows if not n.startswith("lipnet-grid")])):
        if members:
            mean = {k: np.mean([rows[n][k] for n in members]) for k in ("r", "r0", "speed")}
            lines.append(f"| **{group}** | **{mean['r']:.3f}** | | {mean['r0']:.3f} | | {mean['speed']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared media folder")
    args = parser.parse_args()
    grid = sorted((args.data / "lipnet-grid").glob("*.mpg"))
    recognize_phones(Audio(np.zeros(SAMPLE_RATE, np.float32)), "a")  # load both decoders before timing
    name = lambda path: str(path.relative_to(args.data))  # noqa: E731
    print("Recognised phones (no transcript):\n")
    print(table({name(p): measure(p, None) for p in grid + [args.data / t for t in TALKING]}))
    print("\nGRID aligned to its transcripts:\n")
    print(table({name(p): measure(p, grid_transcript(p)) for p in grid}))


if __name__ == "__main__":
    main()
