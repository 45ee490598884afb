"""Frame-wise phone posteriors from the bundled acoustic model, and Festival's phone sets read as ARPAbet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import CLIP, GRID_CLIP, GRID_TRANSCRIPT, OTHER_CLIP, need
from talkinghead.audio.decode import Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.phone_posteriors import (MODEL, PHONES, LivePhonePosteriors, live_phone_log_posteriors,
                                                phone_log_posteriors)
from talkinghead.audio.phones import recognize_phones
from talkinghead.data.espeak_phones import arpabet_phones
from talkinghead.data.festival import VOICES, festival_speech, installed_voices, to_arpabet

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def ranks(audio: Audio, phones: list[tuple[float, float, str]], live: bool = False,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 10 ms frame: the rank of the labelled phone among the posteriors (offline or ``live``), whether it is
    speech, the posteriors."""
    posteriors = (live_phone_log_posteriors if live else phone_log_posteriors)(audio)
    labels = np.full(len(posteriors), PHONES.index("SIL"))
    for start, end, phone in phones:
        labels[int(round(start * 100)):int(round(end * 100))] = PHONES.index(phone)
    rank = (posteriors > posteriors[np.arange(len(labels)), labels][:, None]).sum(1)
    return rank, labels != PHONES.index("SIL"), posteriors


def test_phone_names_follow_the_model_definition() -> None:
    mdef = (MODEL / "mdef").read_bytes()
    listed = mdef[mdef.index(b"+NSN+"):].split(b"\0")[:len(PHONES)]
    assert tuple(name.decode() for name in listed) == PHONES


def test_posteriors_find_the_spoken_phones_and_silence() -> None:
    audio = load_audio(EXAMPLES / "speech.wav")
    timings = json.loads((EXAMPLES / "speech.timings.json").read_text())
    rank, speech, posteriors = ranks(audio, arpabet_phones([tuple(p) for p in timings["phonemes"]]))
    assert posteriors.shape == (len(AudioFeatures(audio).mel), len(PHONES))  # lined up with the mel's rows
    assert np.allclose(np.exp(posteriors).sum(1), 1, atol=1e-3)
    assert (rank[speech] == 0).mean() > 0.25  # chance: 1 in 42
    assert (rank[speech] < 5).mean() > 0.6
    padded = phone_log_posteriors(Audio(np.pad(audio.samples, 16000), 16000))
    assert np.exp(padded[:80, PHONES.index("SIL")]).mean() > 0.9  # digital silence reads as silence


def test_live_posteriors_are_the_same_for_any_chunking_and_wait_for_their_deltas_only() -> None:
    samples = load_audio(EXAMPLES / "speech.wav").samples
    whole = live_phone_log_posteriors(Audio(samples))
    assert whole.shape == phone_log_posteriors(Audio(samples)).shape
    live, rows = LivePhonePosteriors(), []
    for chunk in np.split(samples, np.cumsum(np.random.default_rng(0).integers(0, 3000, 200))):
        rows.append(live.push(chunk))
    assert np.allclose(np.concatenate(rows + [live.flush()]), whole, atol=1e-4)
    row = 300  # centred at 3 s: decided by the sound up to its deltas' reach, not before
    need = row * 160 + LivePhonePosteriors.ahead_samples
    assert len(LivePhonePosteriors().push(samples[:need - 1])) == row
    assert np.allclose(LivePhonePosteriors().push(samples[:need])[row], whole[row], atol=1e-4)


def test_live_posteriors_find_the_spoken_phones_like_the_offline_ones() -> None:
    """The running cepstral mean starts from a typical voice's and settles within seconds: the live rows rank the
    spoken phones about as well, and once settled mostly pick the same phone as the utterance mean does."""
    audio = load_audio(EXAMPLES / "speech.wav")
    phones = arpabet_phones([tuple(p) for p in json.loads((EXAMPLES / "speech.timings.json").read_text())["phonemes"]])
    rank, speech, live = ranks(audio, phones, live=True)
    assert (rank[speech] == 0).mean() > 0.25 and (rank[speech] < 5).mean() > 0.6
    offline = phone_log_posteriors(audio)
    assert (live[300:].argmax(1) == offline[300:].argmax(1)).mean() > 0.8


@pytest.mark.parametrize("source", ["shipped_clips", "grid"])
def test_posteriors_follow_a_recorded_voice(source: str) -> None:
    """A real GRID speaker, and the shipped clips' voices through AAC with faint noise, labelled by forced alignment."""
    if source == "grid":
        need(GRID_CLIP)
        voices = [(GRID_CLIP, GRID_TRANSCRIPT)]
    else:
        voices = [(clip.video, clip.text) for clip in (CLIP, OTHER_CLIP)]
    for path, transcript in voices:
        audio = load_audio(path)
        rank, speech, _ = ranks(audio, recognize_phones(audio, transcript))
        assert (rank[speech] == 0).mean() > 0.2 and (rank[speech] < 5).mean() > 0.6, path.name


def test_festival_phone_sets_map_to_visemes() -> None:
    cases = {("ax", "kal"): "AH", ("hv", "slt"): "HH", ("tS", "lp"): "CH", ("E1", "pc"): "EH", ("pau", "ona"): "SIL",
             ("rr", "ona"): "R", ("c~", "dita"): "CH", ("ch", "ph"): "HH", ("s~", "dita"): "SH", ("7", "lj"): "UH",
             ("y", "mv"): "UW", ("#", "mv"): "SIL", ("dd", "nsh"): "D", ("sch", "nsh"): "SH", ("y", "nsh"): "IH",
             ("oo", "nsh"): "AO"}
    assert {case: to_arpabet(*case) for case in cases} == cases


@pytest.mark.parametrize("voice", sorted(VOICES))
def test_festival_voice_says_its_language_with_exact_phones(voice: str) -> None:
    if voice not in installed_voices():
        pytest.skip(f"festival voice {voice} is not installed")
    text = {"en": "maybe a bamboo boat", "it": "mamma mia, bambino", "ca": "mama, bombons", "cs": "máma mele maso",
            "fi": "mummo maalaa", "ru": "мама мыла раму"}[VOICES[voice].language]
    samples, rate, phones = festival_speech(text, voice)
    labels = [p for _, _, p in phones]
    assert "M" in labels and sum(p != "SIL" for p in labels) >= 6, labels
    assert phones[-1][1] == pytest.approx(len(samples) / rate, abs=0.02)
    assert all(a[1] == b[0] for a, b in zip(phones, phones[1:]))  # contiguous
