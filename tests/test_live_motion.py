"""The live face decided frame by frame from the sound so far: its activity and pitch agree with the offline
features, blinks come at the asked rate, the head moves more in speech than in silence, and the seed decides it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SPEECH

from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.live import LiveSound
from talkinghead.motion.live import LiveMotion, LiveMotionConfig


@pytest.fixture(scope="module")
def speech():
    return load_audio(SPEECH)


def live_sound(samples: np.ndarray, chunk: int = 320) -> list:
    sound = LiveSound()
    return [f for i in range(0, len(samples), chunk) for f in sound.push(samples[i:i + chunk])]


def face(samples: np.ndarray, **options) -> dict[str, np.ndarray]:
    step = LiveMotion(LiveMotionConfig(**options)).step
    steps = [step(s) for s in live_sound(samples)]
    return {name: np.array([s[name] for s in steps]) for name in steps[0]}


def test_live_sound_agrees_with_the_offline_features(speech):
    offline = AudioFeatures(speech)
    frames = live_sound(speech.samples, chunk=777)
    n = len(frames)
    assert n == offline.n_frames - 1  # the last, partial frame waits for more sound
    activity = np.array([f.activity for f in frames])
    f0 = np.array([f.f0 for f in frames])
    assert np.corrcoef(activity, offline.activity[:n])[0, 1] > 0.95
    both = (f0 > 0) & (offline.f0[:n] > 0)
    assert np.mean((f0 > 0) == (offline.f0[:n] > 0)) > 0.9
    assert np.median(np.abs(f0[both] / offline.f0[:n][both] - 1)) < 0.05


def test_blinks_come_at_the_asked_rate_and_the_head_moves_more_in_speech(speech):
    silence = np.zeros(16000 * 60, np.float32)
    talk = np.concatenate([speech.samples] * 8)[:16000 * 60]
    quiet, talking = face(silence, blink_rate=20), face(talk, blink_rate=20)
    for channels in (quiet, talking):
        closed = channels["blink_left"] > 0.5
        blinks = np.count_nonzero(closed[1:] & ~closed[:-1])
        assert 8 <= blinks <= 35, blinks  # about 20 a minute, fewer mid-speech
        assert np.abs(channels["gaze_yaw"]).max() > 0.3  # the eyes make small saccades
    head = ("head_yaw", "head_pitch", "head_roll")
    assert sum(np.std(np.diff(talking[k])) for k in head) > 1.3 * sum(np.std(np.diff(quiet[k])) for k in head)
    assert talking["brow_raise"].max() > 0.15 > quiet["brow_raise"].max()
    assert face(silence[:16000 * 5], head_motion=0)["head_yaw"].max() == 0.0


def test_the_seed_decides_the_face(speech):
    one, again, other = (face(speech.samples, seed=s) for s in (3, 3, 4))
    assert all(np.array_equal(one[k], again[k]) for k in one)
    assert not np.allclose(one["head_yaw"], other["head_yaw"])
