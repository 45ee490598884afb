"""The streaming (causal) learned lips: any chunking gives the same frames as the ``causal`` generator, no frame
waits for more than the look-ahead or changes with the sound after it, one frame per video frame, a mouth that
opens on speech and rests in silence, and state that stays flat over a long stream."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SPEECH
from talkinghead.audio.decode import SAMPLE_RATE, Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.motion import registry
from talkinghead.motion.streaming_lips import StreamingLips

JAW = StreamingLips.channels.index("jaw_open")


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(SPEECH).samples


def streamed(samples: np.ndarray, sizes: np.ndarray | None = None, fps: float = 25.0) -> np.ndarray:
    """Lip rows of ``samples`` pushed in chunks of ``sizes`` (cycled; default: one chunk), then flushed."""
    stream = StreamingLips(fps=fps)
    bounds = np.cumsum(np.resize(sizes, len(samples)))[:len(samples)] if sizes is not None else []
    chunks = np.split(samples, [b for b in bounds if b < len(samples)])
    return np.concatenate([stream.push(c) for c in chunks] + [stream.flush()])


@pytest.mark.parametrize("fps", [25.0, 22.13])
def test_any_chunking_gives_the_generator_frames(speech: np.ndarray, fps: float) -> None:
    whole = streamed(speech, fps=fps)
    sizes = np.random.default_rng(0).integers(0, 4000, 200)
    assert np.allclose(streamed(speech, sizes, fps), whole, atol=1e-5)
    motion = registry.create("lips", "causal").generate(AudioFeatures(Audio(speech), fps))
    assert np.allclose(np.stack([motion[c] for c in StreamingLips.channels], 1), whole, atol=1e-5)


def test_a_frame_waits_for_its_lookahead_only_and_ignores_later_sound(speech: np.ndarray) -> None:
    frame, lookahead = 100, StreamingLips().lookahead_s
    assert 0.05 <= lookahead <= 0.15
    need = int(np.ceil(((frame + 1) / 25.0 + lookahead) * SAMPLE_RATE))
    assert len(StreamingLips().push(speech[:need - SAMPLE_RATE // 100])) <= frame  # 10 ms short: not yet
    decided = StreamingLips().push(speech[:need])
    later = speech.copy()
    later[need:] = np.random.default_rng(1).normal(0, 0.3, len(speech) - need).astype(np.float32)  # loud noise
    assert len(decided) > frame
    assert np.allclose(decided[frame], streamed(speech)[frame], atol=1e-5)
    assert np.allclose(streamed(later)[frame], decided[frame], atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 159, 640, 12345, 16000 * 3 + 7])
def test_one_row_per_video_frame(speech: np.ndarray, n: int) -> None:
    assert len(streamed(speech[:n], np.array([333]))) == Audio(speech[:n]).n_frames(25.0)


def test_mouth_opens_on_speech_and_rests_in_silence(speech: np.ndarray) -> None:
    silence = np.zeros(SAMPLE_RATE * 2, np.float32)
    jaw = streamed(np.concatenate([silence, speech, silence]), np.array([640]))[:, JAW]
    assert np.abs(jaw[:40]).max() < 0.02 and np.abs(jaw[-40:]).max() < 0.02
    talking = jaw[60:-60]
    assert np.percentile(talking, 90) > 0.25 and np.mean(talking > 0.1) > 0.3
    assert np.abs(streamed(silence)).max() < 0.02


def test_state_stays_flat_over_a_long_stream(speech: np.ndarray) -> None:
    stream, sizes = StreamingLips(), []
    for _ in range(4):
        for start in range(0, len(speech), 640):
            stream.push(speech[start:start + 640])
            sizes.append((stream._sound.shape[1], len(stream._active), stream._phones.shape[1], len(stream._pending),
                          len(stream._live._recent), len(stream._live._pending)))
    rows, active, phones, pending, cepstra, phone_pending = np.array(sizes).T
    assert rows.max() == active.max() < 200 and pending.max() < 512  # the receptive field; less than a mel frame
    assert phones.max() <= rows.max() and cepstra.max() <= 7 and phone_pending.max() < 1000  # the deltas' reach
    assert rows[-len(rows) // 2:].max() <= rows[:len(rows) // 2].max() + 4  # no growth beyond a frame's rows of jitter
