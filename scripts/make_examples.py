#!/usr/bin/env python
"""Regenerate examples/: the portrait (copied from matplotlib) and the speech (synthesised by espeak-ng).

    .venv/bin/python scripts/make_examples.py [--check]

Idempotent: files are rewritten only when their content changes, and the speech is the same bytes on
every run (it is the first synthesis of a fresh process). ``--check`` writes nothing and exits 1 if
a file is missing or differs from what this script would write.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from talkinghead.data.tts import synthesize  # noqa: E402

EXAMPLES = ROOT / "examples"
TEXT = (
    "Hello! My name is Grace. Welcome to talking head, "
    "a little program that brings portraits to life with your voice."
)  # every word is in the bundled pocketsphinx dictionary, so speech.txt works as --transcript
VOICE = "en-us+f3"
RATE_WPM = 160
RATE = 16000
PAD_S = 0.25  # silence before and after the speech: the face starts and ends at rest


def portrait_bytes() -> bytes:
    """matplotlib's bundled Grace Hopper photograph (US Navy, public domain)."""
    import matplotlib

    return (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()


def speech_files() -> dict[str, bytes]:
    """speech.wav (16 kHz mono 16-bit), speech.txt (the text) and speech.timings.json (espeak-ng's
    phonemes and words, in seconds of speech.wav)."""
    speech = synthesize(TEXT, voice=VOICE, rate_wpm=RATE_WPM)
    samples = speech.resampled(RATE)
    pad = np.zeros(int(round(PAD_S * RATE)), np.float32)
    samples = np.concatenate([pad, samples, pad])
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    duration = len(pcm) / RATE

    def shift(items: list[tuple[float, float, str]]) -> list[list]:
        return [[round(s + PAD_S, 4), round(e + PAD_S, 4), label] for s, e, label in items]

    phonemes = shift(speech.phonemes)
    if phonemes[0][2].startswith("_"):
        phonemes[0][0] = 0.0  # the leading pad joins espeak-ng's own leading pause
    else:
        phonemes.insert(0, [0.0, PAD_S, "_"])
    phonemes[-1][1] = round(duration, 4)  # the trailing pad belongs to the last (pause) entry
    timings = {
        "text": TEXT,
        "voice": VOICE,
        "rate_wpm": RATE_WPM,
        "sample_rate": RATE,
        "duration": round(duration, 4),
        "phonemes": phonemes,  # [start s, end s, espeak-ng mnemonic], covering the whole file
        "words": shift(speech.words),  # [start s, end s, word as written]
    }
    return {
        "speech.wav": buf.getvalue(),
        "speech.txt": (TEXT + "\n").encode(),
        "speech.timings.json": _json(timings).encode(),
    }


def _json(obj: dict) -> str:
    """JSON with one [start, end, label] entry per line."""
    lines = ["{"]
    items = list(obj.items())
    for k, (key, value) in enumerate(items):
        comma = "," if k + 1 < len(items) else ""
        if isinstance(value, list):
            rows = [json.dumps(row, ensure_ascii=False) for row in value]
            lines.append(f"  {json.dumps(key)}: [")
            lines += [f"    {row}{',' if i + 1 < len(rows) else ''}" for i, row in enumerate(rows)]
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    return "\n".join(lines) + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if examples/ is out of date")
    args = parser.parse_args()
    files = {"portrait.jpg": portrait_bytes(), **speech_files()}
    stale = []
    for name, data in files.items():
        path = EXAMPLES / name
        if path.exists() and path.read_bytes() == data:
            print(f"unchanged  {path.relative_to(ROOT)}")
            continue
        stale.append(name)
        if args.check:
            print(f"out of date {path.relative_to(ROOT)}")
            continue
        EXAMPLES.mkdir(exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        print(f"wrote      {path.relative_to(ROOT)} ({len(data) / 1024:.0f} KiB)")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
