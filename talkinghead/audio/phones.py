"""Phone segments from speech with the bundled pocketsphinx en-us model: forced alignment or phone recognition."""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path

import numpy as np
from pocketsphinx import Decoder, get_model_path

from talkinghead.audio.decode import SAMPLE_RATE, Audio, resample
from talkinghead.audio.signal import HOP_S, rms_db, speech_level

FRAME_S = 0.01  # pocketsphinx frame hop
MODEL = Path(get_model_path()) / "en-us"
# allphone search settings, tuned on GRID for viseme-class accuracy against forced alignment
ALLPHONE_OPTIONS = {"lw": 1.0, "beam": 1e-10, "pbeam": 1e-10}
QUIET_DB = 24.0  # a recognised phone whose loudest 10 ms stay this far below the speech level is noise: silence
Segment = tuple[float, float, str]
_LOCK = threading.Lock()  # the cached decoders are stateful: one utterance at a time


@cache
def _decoder(mode: str) -> Decoder:
    """One reusable decoder per mode ("allphone" or "align"), kept in memory."""
    common = {"hmm": str(MODEL / "en-us"), "samprate": SAMPLE_RATE, "loglevel": "FATAL", "lm": None}
    if mode == "allphone":
        return Decoder(allphone=str(MODEL / "en-us-phone.lm.bin"), **ALLPHONE_OPTIONS, **common)
    # bestpath off: it can end the first pass on a one-frame </s> that the phone pass cannot align (pocketsphinx #339)
    return Decoder(dict=str(MODEL / "cmudict-en-us.dict"), bestpath=False, **common)


def _pcm(audio: Audio) -> bytes:
    """16 kHz 16-bit PCM, scaled down when the samples overshoot full scale."""
    x = resample(audio.samples, audio.rate, SAMPLE_RATE)
    x = x / max(1.0, float(np.abs(x).max(initial=0.0)))
    return (x * 32767).astype(np.int16).tobytes()


def _decode(decoder: Decoder, pcm: bytes) -> None:
    """Run one whole-utterance pass from fresh feature and noise statistics (so results repeat)."""
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _phone_name(name: str) -> str:
    """ARPAbet phone without stress digits; silence and noise fillers become 'SIL'."""
    name = name.rstrip("012").upper()
    return "SIL" if not name.isalpha() or name == "SIL" else name


def _allphone(pcm: bytes, audio: Audio) -> list[tuple[int, int, str]]:
    """Phone recognition: (start frame, end frame exclusive, phone), phones heard only in quiet made silence."""
    decoder = _decoder("allphone")
    _decode(decoder, pcm)
    loudness = rms_db(audio.samples, audio.rate, HOP_S, 0.03)
    floor = speech_level(loudness) - QUIET_DB
    phones = []
    for seg in decoder.seg() or []:  # None for audio too short to decode
        heard = loudness[seg.start_frame:seg.end_frame + 1].max(initial=-np.inf) >= floor
        phones.append((seg.start_frame, seg.end_frame + 1, seg.word if heard else "SIL"))
    return phones


def _align(pcm: bytes, transcript: str) -> list[tuple[int, int, str]] | None:
    """Forced alignment to the transcript's words, or None if a word is unknown or alignment fails."""
    decoder = _decoder("align")
    words = re.findall(r"[a-z0-9']+", transcript.lower())
    if not words or any(decoder.lookup_word(w) is None for w in words):
        return None
    try:
        decoder.set_align_text(" ".join(words))
        _decode(decoder, pcm)
        decoder.set_alignment()
        _decode(decoder, pcm)
        phones = [(p.start, p.start + p.duration, p.name) for p in decoder.get_alignment().phones()]
    except RuntimeError:
        return None
    return phones or None


def _contiguous(raw: list[tuple[int, int, str]], duration: float) -> list[Segment]:
    """Segments in seconds covering [0, duration] without gaps, neighbouring silences merged."""
    out: list[list] = []
    t = 0.0
    for start, end, name in sorted(raw):
        start_s, end_s = min(round(start * FRAME_S, 3), duration), min(round(end * FRAME_S, 3), duration)
        if start_s > t:
            out.append([t, start_s, "SIL"])
        start_s = max(start_s, t)
        if end_s > start_s:
            out.append([start_s, end_s, _phone_name(name)])
            t = end_s
    if t < duration or not out:
        out.append([t, duration, "SIL"])
    merged: list[list] = []
    for seg in out:
        if merged and seg[2] == "SIL" == merged[-1][2]:
            merged[-1][1] = seg[1]
        else:
            merged.append(seg)
    merged[-1][1] = duration
    return [(float(s), float(e), p) for s, e, p in merged]


def recognize_phones(audio: Audio, transcript: str | None = None) -> list[Segment]:
    """(start s, end s, phone) covering the audio; aligned to ``transcript`` when given, else recognised."""
    pcm = _pcm(audio)
    with _LOCK:
        raw = _align(pcm, transcript) if transcript else None
        if raw is None:
            raw = _allphone(pcm, audio)
    return _contiguous(raw, audio.duration)
