"""Blinks, brows, head pose and gaze behave like a person: on silence and on speech."""

from __future__ import annotations

import numpy as np
import pytest

from talkinghead.audio.decode import SAMPLE_RATE, Audio
from talkinghead.data.tts import synthesize
from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.channels import CHANNELS
from talkinghead.motion.expression import BlinksAndBrows
from talkinghead.motion.gaze import FreeGaze, Gaze
from talkinghead.motion.head import ProsodyHead
from talkinghead.motion import registry
from talkinghead.motion.registry import available, create
from talkinghead.motion.signals import runs, speech_mask

PHRASES = ("Good evening, and welcome.", "Tonight we look at the weather,", "the markets, and the news from abroad.",
           "But first, a word about the storm.")  # read as a newsreader does: a breath between phrases
FPS = 25.0
GENERATORS = (BlinksAndBrows, ProsodyHead, Gaze, FreeGaze)
OWN = {BlinksAndBrows: {"blink_left", "blink_right", "brow_raise"},
       ProsodyHead: {"head_yaw", "head_pitch", "head_roll", "head_x", "head_y"},
       Gaze: {"gaze_yaw", "gaze_pitch"}, FreeGaze: {"gaze_yaw", "gaze_pitch"}}
HEAD_ROTATIONS = ("head_yaw", "head_pitch", "head_roll")


def silence(seconds: float) -> AudioFeatures:
    return AudioFeatures(Audio(np.zeros(int(seconds * SAMPLE_RATE), np.float32)), FPS)


@pytest.fixture(scope="module")
def silent_minute() -> AudioFeatures:
    return silence(60)


@pytest.fixture(scope="module")
def talk() -> AudioFeatures:
    """6 s silence, 10 s of speech (four phrases, 0.7 s apart), 6 s silence, the speech again, 6 s silence."""
    gap = np.zeros(6 * SAMPLE_RATE, np.float32)
    breath = np.zeros(int(0.7 * SAMPLE_RATE), np.float32)
    speech = np.concatenate([x for p in PHRASES for x in (synthesize(p, "en-us+m3", 170).resampled(SAMPLE_RATE),
                                                          breath)])
    return AudioFeatures(Audio(np.concatenate([gap, speech, gap, speech, gap])), FPS)


def regions(features: AudioFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Speech frames, and silent frames a second or more away from any speech."""
    speech = speech_mask(features)
    near_speech = np.convolve(speech, np.ones(2 * int(FPS) + 1), "same") > 0
    return speech, ~near_speech


def blinks(lid: np.ndarray) -> np.ndarray:
    """(start, end) frames of each visible blink that lies wholly inside the clip."""
    found = runs(lid > 0.05)
    return found[(found[:, 0] > 0) & (found[:, 1] < len(lid))]


@pytest.mark.parametrize("seed", range(5))
def test_blinks_on_silence_look_natural(silent_minute: AudioFeatures, seed: int) -> None:
    motion = BlinksAndBrows(BlinksAndBrows.Config(seed=seed)).generate(silent_minute)
    left, right = motion["blink_left"], motion["blink_right"]
    found = blinks(left)
    assert 10 <= len(found) <= 25  # per minute
    durations = (found[:, 1] - found[:, 0]) / FPS
    assert durations.min() >= 0.1 and durations.max() <= 0.3
    for start, end in found:
        assert left[start:end].max() == 1.0 and right[start:end].max() == 1.0  # the eyes close fully
        assert abs(int(np.argmax(left[start:end])) - int(np.argmax(right[start:end]))) <= 1  # together
        peak = start + int(np.argmax(left[start:end]))
        assert peak - start < end - peak  # closes faster than it reopens
    intervals = np.diff(found[:, 0]) / FPS
    assert len(np.unique(np.round(intervals, 2))) > len(intervals) // 2  # no fixed rhythm
    assert np.abs(left - right).max() < 0.5


def test_blink_rate_follows_the_setting(silent_minute: AudioFeatures) -> None:
    counts = {rate: np.mean([len(blinks(BlinksAndBrows(BlinksAndBrows.Config(seed=s, blink_rate=rate))
                                        .generate(silent_minute)["blink_left"])) for s in range(6)])
              for rate in (10.0, 25.0)}
    assert 7 <= counts[10.0] <= 13 and 20 <= counts[25.0] <= 30


def test_blinks_gather_in_pauses(talk: AudioFeatures) -> None:
    speech = speech_mask(talk)
    centres = []
    for seed in range(20):
        found = blinks(BlinksAndBrows(BlinksAndBrows.Config(seed=seed)).generate(talk)["blink_left"])
        centres.extend((found[:, 0] + found[:, 1]) // 2)
    in_pause = np.mean(~speech[np.asarray(centres)])
    assert in_pause > 1.2 * np.mean(~speech)


def test_brows_lift_with_speech(talk: AudioFeatures) -> None:
    brow = BlinksAndBrows().generate(talk)["brow_raise"]
    speaking, quiet = regions(talk)
    assert np.abs(brow[quiet]).max() < 0.05
    assert 0.2 <= brow[speaking].max() <= 0.7
    assert brow[speaking].mean() > brow[quiet].mean() + 0.02
    assert BlinksAndBrows(BlinksAndBrows.Config(expression=0.5)).generate(talk)["brow_raise"].max() < 0.6 * brow.max()


@pytest.mark.parametrize("generator", GENERATORS)
def test_seed_decides_the_motion(talk: AudioFeatures, generator: type) -> None:
    first, again, other = (generator(generator.Config(seed=s)).generate(talk) for s in (3, 3, 4))
    assert set(first.channels) == OWN[generator]
    for name in first.channels:
        assert np.array_equal(first[name], again[name])
    assert any(not np.allclose(first[name], other[name]) for name in first.channels)


@pytest.mark.parametrize("generator", GENERATORS)
def test_channels_have_the_audio_length_and_stay_in_range(talk: AudioFeatures, generator: type) -> None:
    motion = generator().generate(talk)
    assert motion.fps == FPS and motion.n_frames == talk.n_frames
    for name, values in motion.channels.items():
        assert np.all(np.isfinite(values))
        assert CHANNELS[name].low <= values.min() and values.max() <= CHANNELS[name].high


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_single_frame_clip_works(generator: type) -> None:
    assert generator().generate(silence(0.04)).n_frames == 1


def test_strength_zero_keeps_the_head_still(talk: AudioFeatures) -> None:
    motion = ProsodyHead(ProsodyHead.Config(head_motion=0.0)).generate(talk)
    assert all(np.all(motion[name] == 0) for name in OWN[ProsodyHead])


def test_head_moves_more_while_speaking(talk: AudioFeatures) -> None:
    speaking, quiet = regions(talk)
    for seed in range(3):
        motion = ProsodyHead(ProsodyHead.Config(seed=seed)).generate(talk)
        for name in HEAD_ROTATIONS:
            velocity = np.diff(motion[name], prepend=motion[name][0])
            assert np.sqrt(np.mean(velocity[speaking] ** 2)) > 2 * np.sqrt(np.mean(velocity[quiet] ** 2)), name
        assert 0.5 < np.abs(motion["head_yaw"]).max() < 15  # visible, but a few degrees, not a spin


def test_head_motion_is_smooth(talk: AudioFeatures) -> None:
    motion = ProsodyHead().generate(talk)
    for name in HEAD_ROTATIONS:
        assert np.abs(np.diff(motion[name], 2)).max() < 1.0, name  # degrees per frame per frame
    for name in ("head_x", "head_y"):
        assert np.abs(np.diff(motion[name], 2)).max() < 0.01, name  # face widths


def test_camera_gaze_holds_and_makes_small_saccades(silent_minute: AudioFeatures) -> None:
    motion = Gaze().generate(silent_minute)
    gaze = np.stack([motion["gaze_yaw"], motion["gaze_pitch"]], axis=1)
    assert np.abs(gaze).max() < 3.5
    step = np.linalg.norm(np.diff(gaze, axis=0), axis=1)
    assert np.mean(step == 0) > 0.85  # mostly holding still
    saccades = runs(step > 0)[:, 0]
    gaps = np.diff(saccades) / FPS
    assert 0.5 <= np.median(gaps) <= 2.5 and gaps.min() >= 0.5
    sizes = [np.linalg.norm(gaze[end] - gaze[start]) for start, end in runs(step > 0)]
    assert 0.5 <= np.median(sizes) <= 2.0


def test_free_gaze_glances_away_and_back(talk: AudioFeatures) -> None:
    away_share = []
    for seed in range(5):
        motion = FreeGaze(FreeGaze.Config(seed=seed)).generate(talk)
        away = np.hypot(motion["gaze_yaw"], motion["gaze_pitch"]) > 4
        away_share.append(away.mean())
        assert np.hypot(motion["gaze_yaw"], motion["gaze_pitch"]).max() <= 18
        assert not away[-int(4 * FPS):].all()  # comes back
    assert 0.02 < np.mean(away_share) < 0.4


def test_generators_are_registered() -> None:
    names = {kind: available(kind) for kind in ("expression", "pose", "gaze")}
    assert "natural" in names["expression"] and "prosody" in names["pose"]
    assert registry.generator_class("expression", "natural") is BlinksAndBrows
    assert registry.generator_class("pose", "prosody") is ProsodyHead
    assert (registry.generator_class("gaze", "camera"), registry.generator_class("gaze", "free")) == (Gaze, FreeGaze)
    assert {"camera", "free"} <= set(names["gaze"])
    assert create("gaze", "free").config.look_away_rate > create("gaze", "camera").config.look_away_rate == 0
