"""``talkinghead eval``: metrics checked on cases whose right answer is known, on recorded and rendered video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import CLIP, COLLINS, PORTRAIT, run_cli
from talkinghead.eval.evaluate import pair_inputs
from talkinghead.eval.lipsync import best_lag
from talkinghead.eval.naturalness import sequence_ssim
from talkinghead.face.blinks import detect_blinks
from talkinghead.eval.results import load_results
from talkinghead.face.portrait import load_portrait
from talkinghead.io.video import Mp4Writer, read_frames
from talkinghead.motion import Motion
from talkinghead.render.warp import WarpRenderer



def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    with Mp4Writer(path, w, h, fps, crf=12) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def evaluate(*argv: object) -> dict:
    run = run_cli("eval", *argv, "--json", "--quiet")
    assert run.code == 0, run.stderr
    return run.summary


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    return list(read_frames(CLIP.video))


def test_a_video_against_itself_is_perfect(tmp_path):
    summary = evaluate(CLIP.video, "--reference", CLIP.video, "--save", tmp_path / "res")
    m = summary["clips"][0]["metrics"]
    assert m["lipsync_r"] == pytest.approx(1.0)
    assert (m["lag_frames"], m["lag_ms"], m["lmd"]) == (0, 0, 0)
    assert m["psnr"] == 100 and m["ssim"] == pytest.approx(1.0)
    assert m["pose_ssim"] == pytest.approx(1.0) and m["eyebrow_ssim"] == pytest.approx(1.0)
    assert m["blink_rate"] == m["blink_rate_ref"] == pytest.approx(len(CLIP.blinks) * 60 / 3.0)  # 2 in 3 s
    saved = load_results(tmp_path / "res")[0]
    np.testing.assert_array_equal(saved.series["mouth"], saved.series["mouth_ref"])
    assert saved.series["strip"].shape[0] == 6 and saved.series["strip"].dtype == np.uint8


@pytest.mark.parametrize("k", [3, -2])
def test_a_shifted_copy_gives_its_lag(tmp_path, clip_frames, k):
    """Delaying the picture by k frames (k < 0: advancing it) is read back as lag k."""
    frames = [clip_frames[0]] * k + clip_frames if k > 0 else clip_frames[-k:]
    shifted = write_video(tmp_path / "shifted.mp4", frames)
    m = evaluate(shifted, "--reference", CLIP.video)["clips"][0]["metrics"]
    assert m["lag_frames"] == k and m["lag_ms"] == pytest.approx(k * 40)
    assert m["lipsync_r"] > 0.95
    assert m["lmd"] < 0.01  # eye widths: the same lips once re-aligned


def test_a_still_face_does_not_blink_or_move(tmp_path):
    still = load_portrait(PORTRAIT, 256).image
    video = write_video(tmp_path / "still.mp4", [still] * 75)
    m = evaluate(video)["clips"][0]["metrics"]
    assert m["blink_rate"] == 0
    assert m["pose_speed"] < 2 and m["pose_std"] < 0.3  # degrees per second, degrees: FaceMesh noise only
    assert "audio_r" not in m  # a video without sound has no audio sync to score


def test_a_blink_every_second_is_sixty_per_minute(tmp_path):
    """The warp renderer closes the eyes for 4 frames each second; FaceMesh on the video finds 60 blinks/min."""
    n = 125
    blink = np.zeros(n)
    for start in range(10, n, 25):
        blink[start:start + 4] = 1.0
    motion = Motion(25, {"blink_left": blink, "blink_right": blink})
    frames = list(WarpRenderer().render(load_portrait(PORTRAIT, 256), motion))
    m = evaluate(write_video(tmp_path / "blinks.mp4", frames))["clips"][0]["metrics"]
    assert m["blink_rate"] == pytest.approx(60)
    assert 100 <= m["blink_ms"] <= 240


def test_blink_detector_on_curves():
    rng = np.random.default_rng(0)
    fps, n = 25.0, 250
    eyes = 0.3 + rng.normal(0, 0.01, n)
    assert len(detect_blinks(eyes, fps)) == 0
    for start in range(5, n, 25):
        eyes[start:start + 3] = 0.04
    assert len(detect_blinks(eyes, fps)) == 10  # 10 s -> 60 per minute
    eyes[100:150] = 0.03  # eyes shut for 2 s: not a blink
    assert len(detect_blinks(eyes, fps)) == 8


def test_sequence_ssim_and_lag_on_curves():
    t = np.arange(200) / 25
    a = np.stack([np.sin(2 * np.pi * 0.7 * t), np.cos(2 * np.pi * 0.3 * t)], axis=1)
    assert sequence_ssim(a, a) == pytest.approx(1.0)
    assert sequence_ssim(a * 0.2, a) < sequence_ssim(a * 0.8, a) < 1.0
    mouth = np.abs(np.sin(2 * np.pi * 1.5 * t)) + np.random.default_rng(1).normal(0, 0.05, len(t))
    assert best_lag(np.r_[np.zeros(4), mouth[:-4]], mouth, 5)[1] == 4


def test_folders_are_matched_by_name(tmp_path):
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    gen.mkdir(), ref.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (gen / name).write_bytes(b"x")
    (ref / "a.mpg").write_bytes(b"x")
    (gen / "notes.txt").write_text("not a video")
    pairs = pair_inputs(gen, ref, source=PORTRAIT)
    assert [(p.name, p.reference and p.reference.name) for p in pairs] == [("a", "a.mpg"), ("b", None)]
    assert all(p.source == PORTRAIT for p in pairs)


def test_identity_distance_tells_the_source_from_another_face(tmp_path):
    """The rendered face is closer to its own portrait than to another person's."""
    own, other = COLLINS, PORTRAIT
    motion = Motion(25, {"jaw_open": 0.5 + 0.5 * np.sin(np.arange(50) / 3), "head_yaw": 4 * np.sin(np.arange(50) / 8)})
    video = write_video(tmp_path / "happy.mp4", list(WarpRenderer().render(load_portrait(own, 256), motion)))
    same = evaluate(video, "--source", own)["clips"][0]["metrics"]["geometry"]
    different = evaluate(video, "--source", other)["clips"][0]["metrics"]["geometry"]
    assert same < 0.75 * different  # FaceMesh couples its outline to the jaw: a weak but real signal


def test_folder_evaluation_prints_a_table_and_saves_results(tmp_path, clip_frames):
    gen = tmp_path / "gen"
    gen.mkdir()
    write_video(gen / "bbaf2n.mp4", clip_frames[:50])
    write_video(gen / "late.mp4", [clip_frames[0]] * 2 + clip_frames[:48])
    run = run_cli("eval", gen, "--reference", CLIP.video, "--save", tmp_path / "res", "--quiet")
    assert run.code == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith("| clip | lipsync_r | lag_ms")
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["bbaf2n", "late", "mean"]
    data = json.loads((tmp_path / "res" / "results.json").read_text())
    assert data["summary"]["lag_frames"] == pytest.approx(1.0)  # lags 0 and 2


@pytest.mark.parametrize("make, problem", [
    (lambda d: d / "missing.mp4", "not found"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no videos"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, make, problem):
    run = run_cli("eval", make(tmp_path), "--quiet")
    assert run.code == 1
    assert len(run.stderr.strip().splitlines()) == 1 and problem in run.stderr


def test_a_video_without_a_face_is_an_error(tmp_path):
    blank = write_video(tmp_path / "blank.mp4", [np.full((128, 128, 3), 90, np.uint8)] * 10)
    run = run_cli("eval", blank, "--quiet")
    assert run.code == 1 and "no face found" in run.stderr


def test_eval_then_report_from_the_command_line(tmp_path):
    assert run_cli("eval", CLIP.video, "--reference", CLIP.video, "--save", tmp_path / "res", "--quiet").code == 0
    run = run_cli("report", tmp_path / "res", "-o", tmp_path / "report.html", "--quiet")
    assert run.code == 0, run.stderr
    page = (tmp_path / "report.html").read_text()
    assert CLIP.video.stem in page and page.count("data:image/png;base64,") == 4  # mouth, frames, blinks, pose
    bad = run_cli("report", tmp_path / "res", "-o", tmp_path / "report.pdf", "--quiet")
    assert bad.code == 1 and "unsupported report format" in bad.stderr and not (tmp_path / "report.pdf").exists()
