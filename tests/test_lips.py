"""Phonetic and blended lips: phones, visemes, coarticulation, agreement with a real mouth, Rhubarb and ARKit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from talkinghead.audio.decode import SAMPLE_RATE, Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.phones import recognize_phones
from talkinghead.data.espeak_phones import arpabet_phones
from talkinghead.eval.lipsync import best_lag
from talkinghead.motion import registry
from talkinghead.motion.channels import LIP_CHANNELS
from talkinghead.motion.export import CUE_LETTERS, arkit_csv, arkit_frames, mouth_cues, rhubarb_json, rhubarb_tsv
from talkinghead.motion.motion import Motion
from talkinghead.motion.phonetic_lips import PhoneticLips
from talkinghead.motion.visemes import BILABIALS, GLIDES, VISEMES

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "tests" / "media"
CLIP = MEDIA / "hopper_bin_blue.mp4"  # "bin blue at f two now", synthetic voice
OTHER_CLIP = MEDIA / "collins_lay_red.mp4"  # "lay red with p nine again", another synthetic voice
DATA = ROOT / ".." / "shared" / "data"
GRID = DATA / "lipnet-grid"
needs_data = pytest.mark.skipif(not GRID.is_dir(), reason="shared media not available")
VOWELS = {"AA", "AE", "AH", "AO", "EH", "ER", "IH", "IY", "UH", "UW"} | set(GLIDES)


def frames_overlapping(start: float, end: float, fps: float) -> np.ndarray:
    """Video frames whose interval [i/fps, (i+1)/fps) overlaps [start, end)."""
    return np.arange(int(np.floor(start * fps)), int(np.ceil(end * fps)))


def assert_covers(segments: list, duration: float, tolerance: float = 0.01) -> None:
    """Segments start at 0, end at the duration, and follow each other without gap or overlap."""
    assert segments[0][0] == 0 and segments[-1][1] == pytest.approx(duration, abs=tolerance)
    for (_, end, _), (start, _, _) in zip(segments, segments[1:]):
        assert start == pytest.approx(end)
    assert all(end > start for start, end, _ in segments)


@pytest.fixture(scope="module")
def aligned() -> AudioFeatures:
    """'bin blue at F two now' (GRID's bbaf2n sentence, the shipped clip's sound), aligned to its transcript."""
    return AudioFeatures(load_audio(CLIP), transcript="bin blue at F two now")


@pytest.fixture(scope="module")
def motion(aligned: AudioFeatures) -> Motion:
    """The phonetic lips of that clip."""
    return PhoneticLips().generate(aligned)


def silence(seconds: float = 2.0) -> AudioFeatures:
    """Very faint noise, as from a quiet room (-80 dBFS)."""
    noise = np.random.default_rng(0).normal(0, 1e-4, int(seconds * SAMPLE_RATE)).astype(np.float32)
    return AudioFeatures(Audio(noise))


def test_aligned_phones_cover_the_audio_and_follow_the_transcript(aligned: AudioFeatures) -> None:
    phones = aligned.phones
    assert_covers(phones, aligned.audio.duration)
    names = [p for _, _, p in phones]
    assert set(names) <= set(VISEMES) | set(GLIDES)
    words = [p for p in names if p != "SIL"]
    assert words == ["B", "IH", "N", "B", "L", "UW", "AE", "T", "EH", "F", "T", "UW", "N", "AW"]
    assert names[0] == names[-1] == "SIL"


def test_recognised_phones_cover_the_audio_and_fall_back_from_unknown_words() -> None:
    audio = load_audio(OTHER_CLIP)
    recognised = recognize_phones(audio)
    assert_covers(recognised, audio.duration)
    assert sum(p != "SIL" for _, _, p in recognised) >= 8
    assert recognize_phones(audio, "lay red with qzxjv nine again") == recognised
    assert recognize_phones(audio) == recognised  # repeatable: no state carried between calls


@pytest.mark.parametrize("source", ["example", "real"])
def test_alignment_holds_over_a_longer_clip_with_pauses(source: str) -> None:
    """A real 5 s clip, and the 7.75 s example speech, whose espeak-ng timings are exact: the aligned m, b and p lie
    where they were spoken."""
    if source == "real":
        path = DATA / "videoretalking" / "face2.mp4"
        if not path.exists():
            pytest.skip(f"real media not available ({path})")
        audio = load_audio(path)
        words = "the heart of my california congressional district right chase my own dreams growing up"  # as heard
        phones = recognize_phones(audio, words)
        assert_covers(phones, audio.duration)
        sequence = " ".join(p for _, _, p in phones if p != "SIL")
        assert "K AE L AH F AO R N Y AH" in sequence and sequence.endswith("G R OW IH NG AH P")
        return
    audio = load_audio(ROOT / "examples" / "speech.wav")
    timings = json.loads((ROOT / "examples" / "speech.timings.json").read_text())
    phones = recognize_phones(audio, timings["text"])
    assert_covers(phones, audio.duration)
    sequence = " ".join(p for _, _, p in phones if p != "SIL")
    assert sequence.startswith("HH AH L OW M AY N EY M IH Z G R EY S") and sequence.endswith("W IH DH Y UH R V OY S")
    # each lip closure lies where espeak-ng spoke it (measured: within 0.035 s of its centre)
    aligned = [(s + e) / 2 for s, e, p in phones if p in BILABIALS]
    spoken = [(s + e) / 2 for s, e, p in arpabet_phones([tuple(p) for p in timings["phonemes"]]) if p in BILABIALS]
    assert len(aligned) == len(spoken) == 7
    assert np.abs(np.subtract(aligned, spoken)).max() < 0.06, (aligned, spoken)


def test_phones_of_silence_and_of_a_tone_cover_them() -> None:
    tone = np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32) * 0.3
    for audio in (silence(1.5).audio, Audio(tone)):
        assert_covers(recognize_phones(audio), audio.duration)
    assert recognize_phones(silence(1.5).audio) == [(0.0, 1.5, "SIL")]


def test_mouth_shuts_on_every_bilabial_and_opens_on_vowels(aligned: AudioFeatures, motion) -> None:
    assert motion.n_frames == aligned.n_frames and set(LIP_CHANNELS) <= set(motion.channels)
    jaw, press = motion["jaw_open"], motion["lip_press"]
    vowel_peaks = []
    for start, end, phone in aligned.phones:
        frames = frames_overlapping(start, end, aligned.fps)
        if phone in BILABIALS:
            assert ((jaw[frames] <= 0.01) & (press[frames] >= 0.99)).any(), (start, phone)
        elif phone in VOWELS:
            vowel_peaks.append(jaw[frames].max())
            assert vowel_peaks[-1] >= 0.15 and press[frames].min() < 0.2, (start, phone)
    assert np.mean(vowel_peaks) >= 0.35 and max(vowel_peaks) >= 0.6
    assert motion.meta["phones"] == [list(p) for p in aligned.phones]


def test_labiodentals_tuck_the_lower_lip_and_rounded_vowels_round(aligned: AudioFeatures, motion) -> None:
    fps = aligned.fps
    for start, end, phone in aligned.phones:
        frames = frames_overlapping(start, end, fps)
        if phone == "F":
            assert motion["lower_lip"][frames].min() <= -0.4
        if phone == "UW":
            assert motion["lip_round"][frames].max() >= 0.5


def test_silence_gives_a_closed_neutral_mouth() -> None:
    motion = PhoneticLips().generate(silence())
    for name in LIP_CHANNELS:
        assert np.abs(motion[name]).max() < 1e-3, name


def test_mouth_is_closed_after_the_speech_ends(aligned: AudioFeatures, motion) -> None:
    end_of_speech = max(e for _, e, p in aligned.phones if p != "SIL")
    tail = int(np.ceil((end_of_speech + 0.4) * aligned.fps))
    assert motion["jaw_open"][tail:].max() < 0.05


@needs_data
def test_jaw_follows_the_real_mouth_better_than_loudness() -> None:
    from talkinghead.face.track import track_video

    path = GRID / "lrwp9a.mpg"
    track = track_video(path)
    features = AudioFeatures(load_audio(path), fps=track.fps)
    r, lag = best_lag(PhoneticLips().generate(features)["jaw_open"], track.mouth_opening, 3)
    baseline, _ = best_lag(features.loudness, track.mouth_opening, 3)
    assert r > 0.65 and abs(lag) <= 1
    assert r > baseline + 0.1


def test_loudness_moves_the_mouth_where_no_phone_was_recognised() -> None:
    features = AudioFeatures(load_audio(OTHER_CLIP))
    features.phones = [(0.0, features.audio.duration, "SIL")]  # a recogniser that heard nothing
    jaw = PhoneticLips().generate(features)["jaw_open"]
    speech = features.activity > 0.5
    assert jaw[speech].mean() > 0.2 and jaw[~speech].max() < 0.1
    assert np.corrcoef(jaw, features.activity)[0, 1] > 0.5


def test_steady_sound_without_phones_keeps_the_mouth_shut() -> None:
    hum = (0.3 * np.sin(2 * np.pi * 120 * np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    assert PhoneticLips().generate(AudioFeatures(Audio(hum)))["jaw_open"].max() < 0.05


def test_mouth_cues_cover_the_audio_with_a_closed_mouth_on_bilabials(aligned: AudioFeatures, motion) -> None:
    for source in (motion, Motion(motion.fps, motion.channels)):  # from the phones, then from the channels alone
        cues = mouth_cues(source)
        assert_covers([(c["start"], c["end"], c["value"]) for c in cues], source.duration, tolerance=1 / source.fps)
        assert {c["value"] for c in cues} <= set(CUE_LETTERS)
        assert all(a["value"] != b["value"] for a, b in zip(cues, cues[1:]))
        for start, end, phone in aligned.phones:
            if phone in BILABIALS:
                assert any(c["value"] == "A" and c["start"] < end and c["end"] > start for c in cues), start
    assert {c["value"] for c in mouth_cues(motion)} >= {"A", "X", "F", "G"}


def test_rhubarb_writers(motion) -> None:
    data = json.loads(rhubarb_json(motion, "speech.wav"))
    assert data["metadata"] == {"soundFile": "speech.wav", "duration": data["mouthCues"][-1]["end"]}
    assert data["mouthCues"] == mouth_cues(motion)
    lines = [line.split("\t") for line in rhubarb_tsv(motion).splitlines()]
    assert [v for _, v in lines[:-1]] == [c["value"] for c in data["mouthCues"]]
    assert lines[-1] == [f"{data['metadata']['duration']:.2f}", "X"]


def test_arkit_export_carries_the_jaw(motion) -> None:
    frames = arkit_frames(motion)
    assert len(frames) == motion.n_frames
    np.testing.assert_allclose([f["jawOpen"] for f in frames], motion["jaw_open"], atol=1e-5)
    assert all(0 <= v <= 1 for f in frames for v in f.values())
    header, first = arkit_csv(motion).splitlines()[:2]
    assert header.split(",")[:3] == ["frame", "time", "jawOpen"]
    assert float(first.split(",")[2]) == pytest.approx(frames[0]["jawOpen"])


def test_registered_as_the_phonetic_lips() -> None:
    assert registry._REGISTRY["lips"]["phonetic"] is PhoneticLips


def test_blended_lips_are_the_mean_of_both_and_shut_where_either_does(aligned: AudioFeatures, motion) -> None:
    from talkinghead.motion.blended_lips import BlendedLips
    from talkinghead.motion.learned_lips import LearnedLips

    blend, learned = BlendedLips().generate(aligned), LearnedLips().generate(aligned)
    jaw, press = blend["jaw_open"], blend["lip_press"]
    shut = (motion["lip_press"] > 0.5) | (learned["lip_press"] > 0.5)
    mean = (motion["jaw_open"] + learned["jaw_open"]) / 2
    assert np.allclose(jaw[~shut], mean[~shut]) and shut.any() and (~shut).sum() > aligned.n_frames / 2
    for start, end, phone in aligned.phones:
        if phone in BILABIALS:  # as deep a closure as the phonetic lips make
            frames = frames_overlapping(start, end, aligned.fps)
            assert ((jaw[frames] <= 0.01) & (press[frames] >= 0.99)).any(), (start, phone)
    assert blend.meta["phones"] == motion.meta["phones"]
    assert registry.generator_class("lips", "blend") is BlendedLips


@needs_data
def test_blended_lips_follow_a_real_mouth_better_than_either_alone() -> None:
    """On GRID's five speakers (none tuned on): the blend's mean r beats the phonetic and the learned lips'."""
    from talkinghead.face.track import track_video

    scores = {name: [] for name in ("phonetic", "learned", "blend")}
    for path in sorted(GRID.glob("*.mpg")):
        track = track_video(path)
        features = AudioFeatures(load_audio(path), fps=track.fps)
        for name, found in scores.items():
            found.append(best_lag(registry.create("lips", name).generate(features)["jaw_open"], track.mouth_opening)[0])
    means = {name: np.mean(found) for name, found in scores.items()}
    assert means["blend"] > max(means["phonetic"], means["learned"]) + 0.01, means
