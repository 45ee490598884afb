"""Mouth-crop fidelity in `eval`, and `dub --motion`: a performance moved onto another face, on the shipped clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import CLIP, OTHER_CLIP, assert_fails_cleanly, run_cli

from talkinghead.eval.lipsync import pearson
from talkinghead.eval.mouth import CROP_SIZE, MouthFidelity, mouth_crop
from talkinghead.face.track import track_video
from talkinghead.io.video import Mp4Writer, read_frames
from talkinghead.motion.motion import Motion


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    h, w = frames[0].shape[:2]
    with Mp4Writer(path, w, h, 25.0, crf=12) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def mouth_scores(tmp_path: Path, name: str, frames: list[np.ndarray]) -> dict:
    """`talkinghead eval` of ``frames`` (with the clip's sound) against the real clip."""
    video = write_video(tmp_path / f"{name}.mp4", frames)
    run = run_cli("eval", video, "--reference", CLIP.video, "--audio", CLIP.video, "--json", "--quiet")
    assert run.code == 0, run.stderr
    return run.summary["clips"][0]["metrics"]


@pytest.fixture(scope="module")
def real_frames() -> list[np.ndarray]:
    return list(read_frames(CLIP.video))


def test_crop_follows_the_mouth_wherever_it_is(real_frames):
    """The crop is cut by each video's own landmarks: a frame moved 24 px gives the same mouth crop."""
    frame = real_frames[40]
    lms = track_video(CLIP.video).landmarks[40]
    moved = np.roll(frame, (12, 24), axis=(0, 1))
    shifted = lms.copy()
    shifted[:, :2] += [24, 12]
    a, b = mouth_crop(frame, lms), mouth_crop(moved, shifted)
    assert a.shape == (CROP_SIZE[1], CROP_SIZE[0], 3)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0
    assert mouth_crop(frame, np.full_like(lms, np.nan)) is None


def test_the_real_clip_against_itself_is_perfect_and_a_still_frame_is_not(tmp_path, real_frames):
    itself = mouth_scores(tmp_path, "itself", real_frames)
    assert itself["mouth_ssim"] > 0.97 and 0.95 < itself["mouth_sharpness"] < 1.05
    assert 0.9 < itself["mouth_change"] < 1.1
    still = mouth_scores(tmp_path, "still", [real_frames[0]] * len(real_frames))
    assert still["mouth_ssim"] < itself["mouth_ssim"] - 0.1  # the mouth moves in the real clip
    assert still["mouth_change"] < 0.5  # a frozen mouth changes only by its crop's tracking jitter


def test_a_blurred_mouth_reads_soft_and_a_shimmering_one_unsteady(tmp_path, real_frames):
    blurred = mouth_scores(tmp_path, "blurred", [cv2.GaussianBlur(f, (0, 0), 2.0) for f in real_frames])
    assert blurred["mouth_sharpness"] < 0.5
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in real_frames]
    shimmer = mouth_scores(tmp_path, "shimmer", noisy)  # grain that changes every frame
    assert shimmer["mouth_change"] > 1.25 and shimmer["mouth_sharpness"] > 1.5


def test_fidelity_counts_only_frames_where_both_faces_were_found():
    scores = MouthFidelity()
    crop = np.full((CROP_SIZE[1], CROP_SIZE[0], 3), 128, np.uint8)
    scores.add(crop, None)
    assert scores.metrics() == {}
    scores.add(crop, crop)
    assert scores.metrics()["mouth_ssim"] == pytest.approx(1.0)


def test_dub_takes_the_lips_from_a_motion_file(tmp_path):
    """Another performance on this face: Collins's video dubbed with Hopper's motion moves like Hopper's mouth."""
    motion = tmp_path / "hopper.json"
    CLIP.motion.at_fps(50.0).save(motion)  # another frame rate: resampled to the video's on the way
    out = tmp_path / "dubbed.mp4"
    run = run_cli("dub", "--video", OTHER_CLIP.video, "--audio", CLIP.video, "--motion", motion, "-o", out,
                  "--json", "--quiet")
    assert run.code == 0, run.stderr
    assert run.summary["frames"] == 75
    opening = track_video(out).mouth_opening
    assert pearson(opening, CLIP.motion["jaw_open"]) > 0.8
    assert pearson(opening, CLIP.motion["jaw_open"]) > pearson(opening, OTHER_CLIP.motion["jaw_open"]) + 0.2


def test_dub_refuses_a_motion_file_that_is_not_one(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"fps": 25}')
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(run_cli("dub", "--video", CLIP.video, "--audio", CLIP.video, "--motion", bad,
                                 "-o", out / "d.mp4"), bad, out)


def test_motion_at_another_fps_lasts_as_long():
    motion = CLIP.motion
    faster = motion.at_fps(60.0)
    assert faster.n_frames == round(motion.duration * 60) and faster.fps == 60.0
    np.testing.assert_allclose(faster["jaw_open"][::12], motion["jaw_open"][::5][:len(faster["jaw_open"][::12])],
                               atol=1e-6)
    assert motion.at_fps(motion.fps) is motion
    assert isinstance(motion.at_fps(12.5), Motion)
