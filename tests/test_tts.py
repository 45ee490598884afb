"""espeak-ng text to speech: audible speech with phoneme and word timings that match the audio."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from talkinghead.data.tts import Speech, list_voices, synthesize
from talkinghead.errors import InputError

SENTENCE = "Hello, my name is Grace. Welcome to our toolkit, which can map portraits to life."


@pytest.fixture(scope="module")
def english() -> Speech:
    return synthesize(SENTENCE, voice="en")


def _rms(speech: Speech, start: float, end: float) -> float:
    seg = speech.samples[int(start * speech.rate) : int(end * speech.rate)]
    return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if len(seg) else 0.0


def test_english_is_audible_speech_of_plausible_length(english: Speech) -> None:
    assert english.samples.dtype == np.float32 and english.samples.ndim == 1
    assert english.rate > 8000
    n_words = len(SENTENCE.split())
    assert 0.3 * n_words <= english.duration <= 0.8 * n_words
    assert np.abs(english.samples).max() <= 1.0
    assert _rms(english, 0, english.duration) > 0.01  # not silent


def test_phonemes_cover_the_audio_in_order(english: Speech) -> None:
    ph = english.phonemes
    assert len(ph) > 20
    assert ph[0][0] == 0.0 and ph[-1][1] == pytest.approx(english.duration)
    starts = [p[0] for p in ph]
    assert all(a < b for a, b in zip(starts, starts[1:]))  # strictly increasing
    assert all(ph[i][1] == ph[i + 1][0] for i in range(len(ph) - 1))  # no gaps, no overlaps
    assert all(end > start for start, end, _ in ph)
    assert all(isinstance(label, str) and 0 < len(label.encode()) <= 8 for _, _, label in ph)
    # Pauses are silent and sounds are not: the timings line up with the audio itself.
    spoken = [p for p in ph if not p[2].startswith("_")]
    vowels = [p for p in spoken if any(v in p[2] for v in "aeiouAEIOU@3")]
    pauses = [p for p in ph if p[2].startswith("_") and p[1] - p[0] > 0.05]
    assert pauses and vowels
    assert max(_rms(english, s, e) for s, e, _ in pauses) < 0.2 * np.median([_rms(english, s, e) for s, e, _ in vowels])


def test_words_are_timed_and_spelled_as_written(english: Speech) -> None:
    words = [w for _, _, w in english.words]
    assert words == [w.strip(",.") for w in SENTENCE.split()]
    for (s0, e0, _), (s1, _, _) in zip(english.words, english.words[1:]):
        assert s0 < e0 <= s1


def test_map_has_a_lip_closure_that_is_quieter_than_its_vowel(english: Speech) -> None:
    start, end, _ = next(w for w in english.words if w[2] == "map")
    inside = [p for p in english.phonemes if start <= p[0] < end]
    labels = [p[2] for p in inside]
    assert "m" in labels and "p" in labels
    vowel = next(p for p in inside if "a" in p[2])
    closure = next(p for p in inside if p[2] == "p")
    assert _rms(english, closure[0], closure[1]) < _rms(english, vowel[0], vowel[1])


def test_german_and_non_ascii_words() -> None:
    speech = synthesize("Grüße aus München, wie geht es dir?", voice="de")
    assert 1.0 < speech.duration < 5.0
    assert [w for _, _, w in speech.words] == ["Grüße", "aus", "München", "wie", "geht", "es", "dir"]
    assert len(speech.phonemes) > 15


def test_voices_are_language_names() -> None:
    voices = list_voices()
    assert len(voices) > 50
    assert {"en", "en-us", "de", "fr", "es", "zh", "ja", "hi"} <= set(voices)
    speech = synthesize("你好", voice="zh")  # a language name that is not itself a voice file
    assert speech.duration > 0.2 and speech.phonemes


def test_bad_requests_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown espeak-ng voice 'elvish'"):
        synthesize("hello", voice="elvish")
    with pytest.raises(InputError, match="variant"):
        synthesize("hello", voice="en+nobody")
    with pytest.raises(InputError, match="nothing to say"):
        synthesize("   ")
    with pytest.raises(InputError, match="nothing to say"):
        synthesize("?!")
    with pytest.raises(InputError, match="rate"):
        synthesize("hello", rate_wpm=5)
    assert synthesize("hello", voice="en").duration > 0.2  # still usable after the errors


def test_rate_and_pitch_change_the_speech() -> None:
    slow = synthesize("the quick brown fox", rate_wpm=100)
    fast = synthesize("the quick brown fox", rate_wpm=300)
    assert fast.duration < 0.7 * slow.duration
    from talkinghead.audio.features import AudioFeatures

    def median_f0(pitch: int) -> float:
        f0 = AudioFeatures(synthesize("the quick brown fox jumps over the lazy dog", pitch=pitch).to_audio()).f0_100hz
        return float(np.median(f0[f0 > 0]))

    low, high = median_f0(30), median_f0(70)
    assert high > 1.2 * low, (low, high)  # measured: 94 and 128 Hz


def test_repeated_calls_from_threads() -> None:
    results: list[tuple[str, float]] = []

    def work(voice: str, text: str) -> None:
        for _ in range(5):
            s = synthesize(text, voice=voice)
            results.append((voice, s.duration))

    threads = [threading.Thread(target=work, args=a) for a in [("en", "map the world"), ("de", "guten Morgen")]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10
    for voice in ("en", "de"):
        d = [dur for v, dur in results if v == voice]
        assert max(d) - min(d) < 0.02  # same words, same length (espeak-ng jitters by a few ms)


def test_to_audio_is_16k_and_same_length(english: Speech) -> None:
    audio = english.to_audio()
    assert audio.rate == 16000 and audio.samples.dtype == np.float32
    assert audio.duration == pytest.approx(english.duration, abs=1e-3)
