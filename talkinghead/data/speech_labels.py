"""Real speech labelled by the phonetic lips, for training the learned lips on real voices (teacher and student).

Every audio file under a folder (wav, mp3, m4a, flac, ogg, opus) becomes a clip folder laid out like a prepared
one (:mod:`talkinghead.data.prepare`): ``audio.wav``, ``mel.npy``, ``phones.npy``, ``motion.json`` (the phonetic lips
at 25 fps) and ``meta.json`` (written last). A ``.txt`` file beside an audio file holds its transcript: the phones
are then force-aligned to it (English), which makes far better labels than recognition. Resumable; files that
cannot be used are listed in ``OUTPUT/errors.log`` and skipped.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.data.prepare import clip_id, write_sound
from talkinghead.errors import InputError
from talkinghead.io.formats import AUDIO_SUFFIXES
from talkinghead.motion.phonetic_lips import PhoneticLips
from talkinghead.progress import Progress

FPS = 25


def label_clip(path: Path, clip_dir: Path) -> dict:
    """Write one recording's clip folder (meta.json last); returns its metadata."""
    audio = load_audio(path)
    transcript_file = path.with_suffix(".txt")
    transcript = transcript_file.read_text().strip() if transcript_file.exists() else None
    features = AudioFeatures(audio, FPS, transcript)
    motion = PhoneticLips().generate(features)
    clip_dir.mkdir(parents=True, exist_ok=True)
    write_sound(clip_dir, features)
    motion.save(clip_dir / "motion.json")
    meta = {"format": 1, "source": str(path), "labels": "aligned" if transcript else "recognised", "fps": FPS,
            "frames": motion.n_frames, "duration": round(motion.n_frames / FPS, 4), "av_offset": 0}
    tmp = clip_dir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, clip_dir / "meta.json")
    return meta


def label_speech(source_dir: str | Path, output_dir: str | Path, progress: Progress | None = None) -> dict:
    """Label every recording under ``source_dir`` into ``output_dir``; returns a summary."""
    start = time.perf_counter()
    source_dir, output_dir = Path(source_dir).resolve(), Path(output_dir).resolve()
    if not source_dir.is_dir():
        raise InputError(source_dir, "source folder not found")
    files = [p for p in sorted(source_dir.rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
             and not p.is_relative_to(output_dir)]
    output_dir.mkdir(parents=True, exist_ok=True)
    todo = [p for p in files if not (output_dir / clip_id(p, source_dir) / "meta.json").exists()]
    failed = 0
    with open(output_dir / "errors.log", "a") as log:
        for path in progress(todo, len(todo)) if progress else todo:
            try:
                label_clip(path, output_dir / clip_id(path, source_dir))
            except InputError as exc:
                log.write(f"{clip_id(path, source_dir)}\t{path}\t{exc.problem}\n")
                failed += 1
    return {"output": str(output_dir), "recordings": len(files), "labelled": len(todo) - failed,
            "skipped": len(files) - len(todo), "failed": failed, "seconds": round(time.perf_counter() - start, 3)}
