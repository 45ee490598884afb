"""`talkinghead animate` and `talkinghead motion` end to end, asserting what a user notices in the output.

Lip sync is measured the way a viewer would judge it: FaceMesh re-measures the mouth on the rendered video and on
the recorded video of the same sentence (whose first frame is the portrait), and the two must move together. The
recorded video is the shipped clip (tests/media, motion known exactly) and, where ../shared/data is there, a real
GRID clip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import (BILABIALS, CLIP, FPS, GRID_CLIP, GRID_TRANSCRIPT, PORTRAIT, SIZE, VOWELS, assert_plays,
                      audio_seconds, frames_of_phones, portrait_landmarks, run_cli, write_wav)

import talkinghead
from talkinghead.eval.lipsync import best_lag
from talkinghead.face import regions
from talkinghead.face.track import track_video
from talkinghead.io.video import read_frames
from talkinghead.motion.motion import Motion
from talkinghead.pipeline import AnimateConfig, MotionConfig, motion_from_audio

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def decoded(path: Path) -> np.ndarray:
    return np.stack(list(read_frames(path)))


# the file a user gets ----------------------------------------------------------------------------------------------


def test_output_is_h264_aac_mp4_as_long_as_the_audio(clip_render):
    info = assert_plays(clip_render.output, clip_render.audio)
    assert (info.width, info.height) == (SIZE, SIZE)


def test_json_summary_describes_the_video(clip_render):
    summary = clip_render.run.summary
    info = assert_plays(clip_render.output, clip_render.audio)
    assert Path(summary["output"]) == clip_render.output
    assert summary["frames"] == info.frames
    assert summary["fps"] == pytest.approx(FPS)
    assert summary["seconds"] == pytest.approx(info.frames / FPS, abs=1e-3)
    assert summary["audio_seconds"] == pytest.approx(audio_seconds(clip_render.audio), abs=1e-3)
    # the time the render took, in seconds: within what the whole command took, and most of it
    assert 0.3 * clip_render.elapsed <= summary["wall_seconds"] <= clip_render.elapsed, (summary, clip_render.elapsed)
    assert summary["real_time_factor"] == pytest.approx(summary["wall_seconds"] / summary["audio_seconds"], rel=0.02)


def test_quiet_prints_nothing_on_stderr(clip_render):
    assert clip_render.run.stderr == ""


def test_command_line_run_is_quiet_and_repeats_the_video(clip_render, tmp_path):
    """The installed command in a fresh process (hash seed randomised): nothing on stderr, the very same frames."""
    output = tmp_path / "again.mp4"
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    done = subprocess.run([sys.executable, "-m", "talkinghead", "animate", "--image", str(clip_render.image),
                           "--audio", str(clip_render.audio), "-o", str(output), "--size", str(SIZE), "--seed", "3",
                           "--quiet"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
    assert np.array_equal(decoded(output), decoded(clip_render.output))


def test_face_is_found_in_the_output(clip_render_track):
    assert clip_render_track.found.mean() >= 0.99


def test_progress_and_summary_without_quiet(tmp_path, clip_portrait):
    """Without --quiet the user sees a progress bar and a closing line naming the output."""
    short = tmp_path / "short.wav"
    write_wav(short, 0.1 * np.sin(np.arange(16000) * 2 * np.pi * 180 / 16000))
    run = run_cli("animate", "--image", clip_portrait, "--audio", short, "-o", tmp_path / "out.mp4", "--size", 128)
    assert run.code == 0, run.stderr
    assert "frame" in run.stderr  # the progress bar
    assert run.stderr.rstrip().splitlines()[-1].startswith(f"wrote {tmp_path / 'out.mp4'}")
    assert "Traceback" not in run.stderr


# lip sync ----------------------------------------------------------------------------------------------------------


def test_mouth_follows_the_real_speakers_mouth(grid_track, real_track):
    """Mouth opening re-measured on the output correlates with the real video's, better than loudness alone does.

    GRID sentences share one rhythm (silence, six words, silence), so over the whole clip even another sentence's
    lips correlate fairly well (r 0.52-0.62); within the speech, only the right articulation does (0.29-0.36).
    Measured on this clip, seeds 0-5: r 0.60-0.65 over the clip, 0.54-0.61 within speech; loudness 0.41 and 0.39.
    Real footage (../shared/data): the shipped clip's mouth was itself made from the speech, see the next test.
    """
    r, lag, baseline, r_speech, baseline_speech = lip_sync(grid_track, real_track, GRID_CLIP)
    assert r >= 0.5, f"lip-sync r = {r:.3f} (lag {lag})"
    assert abs(lag) <= 1, f"the lips are {lag} frames late"
    assert r >= baseline + 0.1, f"lip-sync r = {r:.3f} does not beat the loudness baseline r = {baseline:.3f}"
    assert r_speech >= 0.45, f"within speech, lip-sync r = {r_speech:.3f}"
    assert r_speech >= baseline_speech + 0.05, f"within speech, r = {r_speech:.3f} vs loudness {baseline_speech:.3f}"


def test_mouth_follows_the_shipped_clips_mouth(clip_render_track, clip_track, clip_mpg):
    """The same on the shipped clip, whose mouth was made from its transcript-aligned phones: the output, from phones
    recognised without the transcript, moves its mouth with the clip's and in time, and within the speech it follows
    the articulation, not just the loudness. Measured, seeds 0-3: r 0.78 at lag 1 over the clip (loudness 0.64),
    0.41-0.48 within speech (loudness 0.23).
    """
    r, lag, _, r_speech, baseline_speech = lip_sync(clip_render_track, clip_track, clip_mpg)
    assert r >= 0.65 and abs(lag) <= 1, f"lip-sync r = {r:.3f} (lag {lag})"
    assert r_speech >= baseline_speech + 0.1, f"within speech, r = {r_speech:.3f} vs loudness {baseline_speech:.3f}"


def lip_sync(generated_track, real_track, speech: Path) -> tuple[float, int, float, float, float]:
    """Mouth-opening r and lag of the output against the recording, loudness's r, and both within the speech."""
    from talkinghead.audio.decode import load_audio
    from talkinghead.audio.features import AudioFeatures
    from talkinghead.eval.lipsync import pearson
    from talkinghead.motion.signals import speech_mask

    features = AudioFeatures(load_audio(speech), FPS)
    generated, real = generated_track.mouth_opening, real_track.mouth_opening
    n = min(len(generated), len(real), features.n_frames)
    r, lag = best_lag(generated, real)
    baseline, _ = best_lag(features.loudness, real)
    speaking = speech_mask(features)[:n]
    r_speech = pearson(generated[:n][speaking], real[:n][speaking])
    return r, lag, baseline, r_speech, pearson(features.loudness[:n][speaking], real[:n][speaking])


def vowels_and_bilabials(opening: np.ndarray, phones: list) -> tuple[float, list[float]]:
    """Mean mouth opening over the vowels, and the smallest opening within each m/b/p."""
    vowels = frames_of_phones(phones, VOWELS, FPS, len(opening))
    bilabials = frames_of_phones(phones, BILABIALS, FPS, len(opening))
    assert len(vowels) >= 3 and len(bilabials) >= 1, phones
    return float(np.mean([np.nanmean(opening[f]) for f in vowels])), [float(np.nanmin(opening[f])) for f in bilabials]


def test_mouth_opens_on_vowels_and_closes_on_m_b_p(clip_render, clip_render_track):
    """On the phones the lips were built from (motion.meta["phones"]): open during vowels, shut during m/b/p."""
    motion = motion_from_audio(clip_render.audio, MotionConfig(seed=3))
    vowel, closed = vowels_and_bilabials(clip_render_track.mouth_opening, motion.meta["phones"])
    assert vowel >= 0.06, f"vowels barely open the mouth ({vowel:.3f})"
    assert max(closed) <= 0.3 * vowel, f"m/b/p openings {closed} vs vowels {vowel:.3f}"


@pytest.mark.parametrize("source", ["shipped_clip", "grid"])
def test_transcript_shuts_the_lips_on_the_real_m_b_p(source, tmp_path, request):
    """With the transcript, the lips close where the speaker really says b ("bin blue"), as the recorded mouth does."""
    if source == "grid":
        portrait, speech, recorded = request.getfixturevalue("grid_portrait"), GRID_CLIP, "real_track"
    else:
        portrait, speech, recorded = request.getfixturevalue("clip_portrait"), CLIP.video, "clip_track"
    phones = true_phones(speech)
    assert [p for *_, p in phones if p in BILABIALS] == ["B", "B"]
    _, real_closed = vowels_and_bilabials(request.getfixturevalue(recorded).mouth_opening, phones)
    assert max(real_closed) < 0.02  # the aligned b's are where the recorded lips shut

    output = tmp_path / "aligned.mp4"
    run = run_cli("animate", "--image", portrait, "--audio", speech, "-o", output, "--size", SIZE,
                  "--transcript", GRID_TRANSCRIPT, "--quiet")
    assert run.code == 0, run.stderr
    vowel, closed = vowels_and_bilabials(track_video(output).mouth_opening, phones)
    assert vowel >= 0.06, f"vowels barely open the mouth ({vowel:.3f})"
    assert max(closed) <= 0.3 * vowel, f"m/b/p openings {closed} vs vowels {vowel:.3f}"


def true_phones(speech: Path = GRID_CLIP) -> list:
    """The sentence's phones, timed by forced alignment to its known words."""
    return motion_from_audio(speech, MotionConfig(transcript=GRID_TRANSCRIPT)).meta["phones"]


@pytest.mark.xfail(strict=True, reason="phone recognition without a transcript misses the b of 'bin' and 'blue': "
                   "the lips only shut on the m/b/p it hears (measured: the mouth stays 0.06-0.18 open there, "
                   "the real speaker's 0.002, vowels 0.13-0.15)")
def test_lips_shut_on_the_real_m_b_p_without_a_transcript(grid_track):
    """Where the GRID speaker really says b (see the test above), the default render's lips shut too (real media)."""
    vowel, closed = vowels_and_bilabials(grid_track.mouth_opening, true_phones())
    assert max(closed) <= 0.3 * vowel, f"m/b/p openings {closed} vs vowels {vowel:.3f}"


# silence, seeds, stillness -----------------------------------------------------------------------------------------


def test_silence_gives_a_closed_mouth_and_blinks(silent_render):
    assert_plays(silent_render.output, silent_render.audio)
    track = track_video(silent_render.output)
    assert track.found.mean() >= 0.99
    own = portrait_landmarks(silent_render.image)
    opening = track.mouth_opening
    assert np.nanmax(opening) <= regions.mouth_opening(own) + 0.02, "the mouth opens on silence"
    eyes = regions.eye_opening(track.landmarks).mean(-1)
    assert np.nanmin(eyes) <= 0.65 * np.nanmedian(eyes), "no visible blink in 6 s"
    assert np.nanmedian(eyes) >= 0.8 * regions.eye_opening(own).mean(), "eyes are not open between blinks"


def test_same_seed_same_video_other_seed_other_head_motion(clip_render, clip_render_track, tmp_path):
    """Through the Python API: seed 3 repeats the CLI's video frame for frame; seed 4 moves the head differently."""
    config = AnimateConfig(size=SIZE, seed=3)
    summary = talkinghead.animate(clip_render.image, clip_render.audio, tmp_path / "same.mp4", config)
    assert summary["frames"] == clip_render.run.summary["frames"]
    assert np.array_equal(decoded(tmp_path / "same.mp4"), decoded(clip_render.output))

    config.seed = 4
    talkinghead.animate(clip_render.image, clip_render.audio, tmp_path / "other.mp4", config)
    other = track_video(tmp_path / "other.mp4")
    rotation = np.abs(other.pose[:, :3] - clip_render_track.pose[:, :3]).max(-1)  # degrees, per frame
    assert np.nanmean(rotation) >= 1.5, f"seeds 3 and 4 move the head alike ({np.nanmean(rotation):.2f} deg)"


def test_neutral_motion_keeps_the_portrait(tmp_path):
    """A still Motion (every channel at rest) renders the portrait's own face: landmarks stay where they were."""
    n = round(audio_seconds(CLIP.video) * FPS)
    Motion.neutral(n, FPS).save(tmp_path / "still.json")
    output = tmp_path / "still.mp4"
    run = run_cli("animate", "--image", PORTRAIT, "--audio", CLIP.video, "--motion", tmp_path / "still.json",
                  "-o", output, "--size", SIZE, "--quiet")
    assert run.code == 0, run.stderr
    assert_plays(output, CLIP.video)
    track = track_video(output)
    assert track.found.all()
    own = portrait_landmarks(PORTRAIT)
    distance = np.linalg.norm(track.landmarks[..., :2] - own[:, :2], axis=-1).mean(-1) / regions.eye_distance(own)
    assert distance.max() <= 0.025, f"landmarks moved by {distance.max():.4f} eye distances"


def test_pressed_lips_are_shut_even_when_rounded(tmp_path, clip_portrait):
    """m/b/p next to o/u/w ("blue", "move") come with rounded lips: a full press must still shut them."""
    n = 10
    still = Motion.neutral(n, FPS)
    press = np.ones(n)
    for name, motion in {"pressed": still.update(lip_press=press),
                         "pressed_rounded": still.update(lip_press=press, lip_round=np.full(n, 0.6))}.items():
        motion.save(tmp_path / f"{name}.json")
    speech = write_wav(tmp_path / "pause.wav", np.zeros(int(n / FPS * 16000), np.float32))
    openings = {}
    for name in ("pressed", "pressed_rounded"):
        output = tmp_path / f"{name}.mp4"
        run = run_cli("animate", "--image", clip_portrait, "--audio", speech, "--motion", tmp_path / f"{name}.json",
                      "-o", output, "--size", SIZE, "--quiet")
        assert run.code == 0, run.stderr
        openings[name] = float(np.nanmax(track_video(output).mouth_opening))
    own = float(regions.mouth_opening(portrait_landmarks(clip_portrait)))
    assert openings["pressed"] <= own + 0.01, openings
    assert openings["pressed_rounded"] <= own + 0.01, f"rounded, pressed lips stay open: {openings}"


# talkinghead motion ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_motion_command_writes_a_loadable_motion(tmp_path, suffix):
    output = tmp_path / f"m{suffix}"
    run = run_cli("motion", "--audio", CLIP.video, "-o", output, "--json")
    assert run.code == 0, run.stderr
    motion = Motion.load(output)
    frames = round(audio_seconds(CLIP.video) * FPS)
    assert motion.n_frames == frames == run.summary["frames"]
    assert motion.fps == pytest.approx(FPS)
    assert {"jaw_open", "lip_press", "blink_left", "head_yaw", "gaze_yaw"} <= set(motion.channels)
    assert motion["jaw_open"].max() > 0.2  # the speech opens the jaw
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name]  # no temporary file left behind
