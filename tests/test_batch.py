"""`talkinghead batch`: many animate and dub jobs from one CSV or JSONL file, each run as its own command would run.

The jobs animate the shipped portrait and dub the shipped clip with 1.5 s of the shipped speech, at 128 px, so that
the whole file runs in a few seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import CLIP, FPS, PORTRAIT, SPEECH, assert_fails_cleanly, audio_seconds, run_cli, write_wav
from test_syncnet import FakeRay

from talkinghead.audio.decode import decode
from talkinghead.io.video import video_info


@pytest.fixture
def speech(tmp_path) -> Path:
    """1.5 s of the shipped speech, beside the jobs file (which names it by a relative path)."""
    return write_wav(tmp_path / "speech.wav", decode(SPEECH)[:24000])


def write_jobs(path: Path, rows: list[dict] | str) -> Path:
    """A jobs file: CSV text as given, or JSONL of the rows."""
    path.write_text(rows if isinstance(rows, str) else "".join(json.dumps(row) + "\n" for row in rows))
    return path


def assert_lasts(video: Path, speech: Path, side: int | None = None) -> None:
    """``video`` lasts as long as ``speech`` (within a frame), ``side`` pixels square when given."""
    _, width, height, seconds = video_info(video)
    assert abs(seconds - audio_seconds(speech)) <= 1 / FPS + 1e-6, (video, seconds)
    assert side is None or (width, height) == (side, side)


def test_jobs_run_a_bad_one_fails_alone_and_a_second_run_skips_the_done_ones(tmp_path, speech):
    jobs = write_jobs(tmp_path / "jobs.csv", "image,audio,size,seed,head_motion,output\n"
                                             f"{PORTRAIT},speech.wav,128,1,,\n"
                                             f"{PORTRAIT},speech.wav,128,2,0.5,second.mp4\n"
                                             "missing.jpg,speech.wav,128,,,bad.mp4\n")
    out = tmp_path / "out"
    run = run_cli("batch", jobs, "-o", out, "--workers", 2, "--json", "--quiet")
    assert run.code == 1, run.stderr
    summary = run.summary
    assert [(j["output"], j["status"]) for j in summary["jobs"]] == [
        ("1.mp4", "done"), ("second.mp4", "done"), ("bad.mp4", "failed")]
    assert (summary["done"], summary["skipped"], summary["failed"]) == (2, 0, 1) and summary["jobs_per_hour"] > 0
    assert summary["jobs"][2]["error"] == f"{tmp_path / 'missing.jpg'}: file not found"
    assert sorted(p.name for p in out.iterdir()) == ["1.mp4", "second.mp4"]  # nothing of the bad job, no temp file
    for name in ("1.mp4", "second.mp4"):
        assert_lasts(out / name, speech, 128)

    again = run_cli("batch", jobs, "-o", out)  # the table for people, and a progress bar over the one job left
    assert again.code == 1
    lines = again.stdout.strip().splitlines()
    assert [line.split()[3] for line in lines[1:4]] == ["skipped", "skipped", "failed"]
    assert lines[3].endswith("missing.jpg: file not found") and lines[4].startswith("0 done, 2 skipped, 1 failed")
    assert "batch" in again.stderr and "job" in again.stderr


def test_dub_jobs_from_jsonl_take_the_commands_options(tmp_path, speech):
    jobs = write_jobs(tmp_path / "jobs.jsonl", [
        {"kind": "dub", "video": str(CLIP.video), "audio": "speech.wav", "trim": True, "output": "dubbed/clip.mp4"},
        {"image": str(PORTRAIT), "audio": "speech.wav", "sise": 128},
    ])
    run = run_cli("batch", jobs, "-o", tmp_path / "out", "--json", "--quiet")
    assert run.code == 1
    dubbed, typo = run.summary["jobs"]
    assert (dubbed["kind"], dubbed["status"], dubbed["error"]) == ("dub", "done", None)
    assert_lasts(tmp_path / "out" / "dubbed" / "clip.mp4", speech)  # --trim: the 3 s clip ends with the speech
    assert (typo["status"], typo["error"]) == ("failed", "unrecognized arguments: --sise=128")  # as the CLI says it


@pytest.mark.parametrize("name, text, problem", [
    ("jobs.csv", f"image,audio,output\n{PORTRAIT},speech.wav,a.mp4\n{PORTRAIT},speech.wav,../escape.mp4\n",
     "line 3: output ../escape.mp4 must be a name inside the output folder"),
    ("jobs.csv", f"image,audio,output\n{PORTRAIT},speech.wav,/tmp/escape.mp4\n",
     "line 2: output /tmp/escape.mp4 must be a name inside the output folder"),
    ("jobs.csv", f"kind,image,audio\nanimate,{PORTRAIT},speech.wav\nlipsync,{PORTRAIT},speech.wav\n",
     "line 3: unknown kind 'lipsync' (animate or dub)"),
    ("jobs.csv", f"image\n{PORTRAIT}\n", "line 2: animate needs audio"),
    ("jobs.jsonl", '{"kind": "dub", "audio": "speech.wav"}\n', "line 1: dub needs video"),
    ("jobs.jsonl", f'{{"image": "{PORTRAIT}", "audio": "speech.wav"}}\n\n{{"image": "a.jpg",\n',
     "line 3: not valid JSON"),
])
def test_a_malformed_jobs_file_is_refused_before_any_job_runs(tmp_path, speech, name, text, problem):
    jobs, out = write_jobs(tmp_path / name, text), tmp_path / "out"
    line = assert_fails_cleanly(run_cli("batch", jobs, "-o", out, "--quiet"), jobs, out)
    assert line.startswith(f"talkinghead: error: {jobs}: {problem}")


def test_ray_without_ray_says_so(tmp_path, speech, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # ``import ray`` fails, as where Ray is not installed
    jobs = write_jobs(tmp_path / "jobs.csv", f"image,audio\n{PORTRAIT},speech.wav\n")
    run = run_cli("batch", jobs, "-o", tmp_path / "out", "--ray", "auto")
    assert run.code == 1 and run.stderr.strip() == "talkinghead: error: --ray needs Ray, which is not installed " \
                                                   "(pip install ray)"
    assert not (tmp_path / "out").exists()


def test_on_ray_each_job_is_a_remote_task(tmp_path, speech, monkeypatch):
    ray = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    jobs = write_jobs(tmp_path / "jobs.csv", f"image,audio,size\n{PORTRAIT},speech.wav,128\n")
    run = run_cli("batch", jobs, "-o", tmp_path / "out", "--ray", "ray://head:10001", "--json", "--quiet")
    assert run.code == 0 and run.summary["done"] == 1
    assert ray.calls == [("init", "ray://head:10001"), ("task", 1, 1), ("shutdown",)]
    assert_lasts(tmp_path / "out" / "1.mp4", speech, 128)
