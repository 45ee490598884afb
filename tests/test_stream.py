"""Live streaming in the library and from the command line: speech pushed in chunks becomes frames as it is heard,
the mouth opening in speech and shut in its pauses, an idle face that still lives in silence, and the measured
latency, late and dropped frames in ``talkinghead stream --json``."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import (PORTRAIT, SPEECH, assert_fails_cleanly, assert_plays, assert_sigterm_leaves_nothing, run_cli,
                      write_wav)
from live_media import LEAD_S, loudness_db, mouth_openings, speech_with_pauses

RATE = 16000


@pytest.fixture(scope="module")
def portrait():
    from talkinghead.face.portrait import load_portrait

    return load_portrait(PORTRAIT, 256)


def stream_of(portrait, **options):
    from talkinghead.pipeline.options import StreamConfig
    from talkinghead.pipeline.stream import Stream

    return Stream(portrait, StreamConfig(size=256, **options))


def pushed(stream, samples: np.ndarray, sizes: list[int], rate: int = RATE) -> list:
    """Every frame of ``samples`` pushed in chunks of the given sizes (cycled), then the stream closed."""
    frames, i, k = [], 0, 0
    while i < len(samples):
        frames += stream.push(samples[i:i + sizes[k % len(sizes)]], rate)
        i += sizes[k % len(sizes)]
        k += 1
    return frames + stream.close()


@pytest.fixture(scope="module")
def speech_frames(portrait):
    """The example speech with pauses around it, pushed in uneven chunks (5 ms to 0.3 s)."""
    samples = speech_with_pauses()
    return samples, pushed(stream_of(portrait), samples, [80, 4800, 320, 1111, 640])


def test_frames_cover_the_speech_in_order_with_their_timestamps(speech_frames):
    samples, frames = speech_frames
    from talkinghead.audio.decode import Audio

    assert len(frames) == Audio(samples).n_frames(25.0)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert np.allclose([f.pts for f in frames], np.arange(len(frames)) / 25.0)
    assert all(f.image.shape == (256, 256, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(f.ready_at >= f.heard_at for f in frames)


def test_mouth_opens_in_speech_and_shuts_in_silence(speech_frames):
    samples, frames = speech_frames
    opening = mouth_openings([f.image for f in frames])
    t = np.array([f.pts for f in frames])
    before, after = opening[t < LEAD_S - 0.2], opening[t > t[-1] - 0.8]
    assert np.nanmax(before) < 0.06 and np.nanmax(after) < 0.06, (before, after)
    speaking = (t > LEAD_S + 0.3) & (t < LEAD_S + 7.4)
    assert np.nanpercentile(opening[speaking], 75) > 0.12
    loudness = np.array([loudness_db(samples, RATE, s, s + 0.04) for s in t])
    r = [np.corrcoef(opening[speaking], np.roll(loudness, lag)[speaking])[0, 1] for lag in (-2, -1, 0, 1, 2)]
    assert max(r) > 0.4 and abs(int(np.argmax(r)) - 2) <= 1, r  # it follows the syllables, in time


def test_any_chunking_and_rate_give_the_same_frames(portrait):
    from talkinghead.audio.decode import decode

    speech = decode(SPEECH, RATE)[:RATE * 2]
    one = pushed(stream_of(portrait), speech, [len(speech)])
    many = pushed(stream_of(portrait), speech, [37, 999, 160])
    assert len(one) == len(many) == 50
    difference = [np.abs(a.image.astype(int) - b.image.astype(int)) for a, b in zip(one, many)]
    # the same pictures, but for the network's float rounding, which differs with the window it sees (1e-7 in the lips;
    # where it tips the renderer over a threshold a few pixels of one frame change more)
    assert max(d.mean() for d in difference) < 0.02 and sum(np.count_nonzero(d > 8) for d in difference) <= 16
    at_48k = pushed(stream_of(portrait), decode(SPEECH, 48000)[:48000 * 2], [960], rate=48000)
    assert len(at_48k) == 50
    assert np.corrcoef(mouth_openings([f.image for f in one[::3]]),
                       mouth_openings([f.image for f in at_48k[::3]]))[0, 1] > 0.9


def test_silence_gives_an_idle_face_that_still_moves(portrait):
    frames = pushed(stream_of(portrait, blink_rate=40), np.zeros(RATE * 6, np.float32), [320])
    assert len(frames) == 150
    assert np.nanmax(mouth_openings([f.image for f in frames[::5]])) < 0.06
    steps = [np.abs(a.image.astype(int) - b.image.astype(int)).mean() for a, b in zip(frames, frames[1:])]
    assert np.count_nonzero(np.array(steps) > 0.05) > 100  # not a frozen picture: head sway, blinks, gaze


def test_frames_the_stream_cannot_keep_up_with_are_dropped(portrait):
    stream = stream_of(portrait, drop_after_ms=500)
    speech = speech_with_pauses()[:RATE * 2]
    frames = stream.push(speech[:RATE], RATE) + stream.push(speech[RATE:], RATE, arrived=time.monotonic() - 2.0)
    dropped = [f for f in frames if f.dropped]
    assert dropped and all(np.array_equal(f.image, frames[f.index - 1].image) for f in dropped)
    summary = stream.stats.summary()
    assert summary["dropped"] == len(dropped) and summary["latency_ms_p95"] > 1500


def test_stream_command_records_what_it_showed_with_latency(tmp_path):
    out = tmp_path / "live.mp4"
    run = run_cli("stream", "--image", PORTRAIT, "--audio", SPEECH, "--record", out, "--size", 256, "--json")
    assert run.code == 0, run.stderr
    summary = run.summary
    assert_plays(out, SPEECH)
    assert summary["frames"] == 194 and summary["output"] == str(out)
    assert 0 < summary["latency_ms_p50"] <= summary["latency_ms_p95"]
    assert summary["lookahead_ms"] > 0 and summary["dropped"] == 0
    assert summary["wall_seconds"] >= 7.0  # the file was played at real-time speed
    assert {"late", "cpu_percent", "rss_mb_peak"} <= set(summary)


def test_stream_command_refuses_bad_input_cleanly(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    assert_fails_cleanly(run_cli("stream", "--image", PORTRAIT, "--audio", empty, "--record", out / "x.mp4"),
                         empty, out)
    missing = tmp_path / "nope.jpg"
    assert_fails_cleanly(run_cli("stream", "--image", missing, "--audio", SPEECH, "--record", out / "x.mp4"),
                         missing, out)
    run = run_cli("stream", "--image", PORTRAIT, "--audio", SPEECH, "--record", tmp_path / "no" / "x.mp4")
    assert run.code == 1 and "output folder does not exist" in run.stderr


def test_stream_stopped_with_sigterm_leaves_no_recording(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert_sigterm_leaves_nothing(["stream", "--image", str(PORTRAIT), "--audio", str(SPEECH), "--record",
                                   str(out / "live.mp4"), "--size", "256", "--quiet"], out, settle_s=1.0)
