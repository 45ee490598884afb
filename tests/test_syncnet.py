"""SyncNet: dataset preparation on talking clips, training a tiny model, the LSE scores and checkpoint errors.

The clips are the shipped ones (tests/media): two speakers, their picture and sound in sync by construction, so the
offset every method must find is 0.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from conftest import CLIP, OTHER_CLIP, run_cli, visible_lines
from talkinghead.data.prepare import PrepareConfig, energy_offset, prepare_dataset
from talkinghead.errors import InputError
from talkinghead.face import regions
from talkinghead.motion.channels import CHANNELS
from talkinghead.motion.motion import Motion
from talkinghead.eval.syncnet import score_video
from talkinghead.models.syncnet import MEL_ROWS_PER_FRAME, SyncNet, SyncNetConfig, load_syncnet, mel_input, sync_probability, sync_scores
from talkinghead.train.syncnet import SyncNetTrainConfig, SyncPairs, train_syncnet

CLIPS = {"s1__hopper_bin_blue": CLIP.video, "s2__collins_lay_red": OTHER_CLIP.video}
OWN, OTHER = CLIPS
CROP = 64  # small crops keep the test fast; the default (LatentSync's) is 256
# a tiny SyncNet: 5-frame windows of 32-pixel faces; BatchNorm leaves the 0.69 plateau within a few hundred steps
TINY = dict(num_frames=5, image_size=32, visual_channels=8, audio_channels=8, max_channels=32, embed_dim=32,
            norm="batch")
STEPS = 250


def tiny_training(steps: int = STEPS) -> SyncNetTrainConfig:
    return SyncNetTrainConfig(**TINY, batch_size=32, micro_batch=32, lr=3e-4, steps=steps, checkpoint_every=100,
                              num_workers=0, augment=False)


def delayed(mel: np.ndarray, frames: int) -> np.ndarray:
    """The mel of the same sound played ``frames`` video frames later (silence first), same length."""
    rows = frames * MEL_ROWS_PER_FRAME
    return np.concatenate([np.full((rows, mel.shape[1]), mel.min(), mel.dtype), mel])[:len(mel)]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread: the tiny model gains nothing from more, and OpenMP threads crawl when others load the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Two clips in a VoxCeleb-like layout (speaker/clip) and a corrupt file, prepared by two worker processes."""
    source = tmp_path_factory.mktemp("source")
    for name, path in CLIPS.items():
        speaker, clip = name.split("__")
        (source / speaker).mkdir()
        shutil.copy(path, source / speaker / path.name)
    (source / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    output = tmp_path_factory.mktemp("prepared")
    summary = prepare_dataset(source, output, PrepareConfig(crop_size=CROP, workers=2))
    return source, output, summary


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    """A tiny SyncNet trained on the prepared clips; (checkpoint, summary)."""
    checkpoint = tmp_path_factory.mktemp("syncnet") / "tiny.pt"
    return checkpoint, train_syncnet(prepared[1], checkpoint, tiny_training())


def test_prepare_writes_aligned_clips_at_25_fps(prepared):
    _, output, summary = prepared
    assert (summary["prepared"], summary["skipped"], summary["failed"]) == (2, 0, 1)
    for name, source in CLIPS.items():
        folder = output / name
        meta = json.loads((folder / "meta.json").read_text())
        frames = meta["frames"]
        assert (meta["fps"], meta["crop_size"]) == (25.0, CROP)
        assert Path(meta["source"]).samefile(prepared[0] / name.split("__")[0] / source.name)
        assert frames == 75 and meta["duration"] == pytest.approx(3.0)  # 3 s at 25 fps
        assert meta["found"] == 1.0
        faces = np.load(folder / "face.npy")
        assert faces.shape == (frames, CROP, CROP, 3) and faces.dtype == np.uint8
        assert faces.std() > 10  # pictures, not blanks
        landmarks = np.load(folder / "landmarks.npy")
        assert landmarks.shape == (frames, 478, 3) and landmarks.dtype == np.float32
        offset, confidence = energy_offset(landmarks, np.load(folder / "mel.npy"), PrepareConfig().max_offset)
        assert (meta["av_offset"], meta["av_offset_method"]) == (offset, "energy")  # what the energy fit finds
        assert meta["av_confidence"] == pytest.approx(confidence, abs=1e-4)
        affine = np.load(folder / "affine.npy")
        # the transform puts the eye corners where the crop wants them
        right_eye = affine[:, :, :2] @ landmarks[:, 33, :2, None] + affine[:, :, 2:]
        assert np.abs(right_eye[:, :, 0] - [0.29 * CROP, 0.38 * CROP]).max() < 0.05 * CROP
        mel = np.load(folder / "mel.npy")
        assert mel.shape[1] == 80 and abs(len(mel) - 4 * frames) <= 8  # 100 Hz
        with wave.open(str(folder / "audio.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            assert w.getnframes() / 16000 == pytest.approx(meta["audio_duration"], abs=1e-3)


def test_prepare_resumes_and_logs_bad_clips(prepared):
    source, output, _ = prepared
    again = prepare_dataset(source, output, PrepareConfig(crop_size=CROP, workers=2))
    assert (again["prepared"], again["skipped"], again["failed"]) == (0, 2, 1)
    lines = (output / "errors.log").read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("broken\t") for line in lines)
    assert "not a readable video" in lines[0]
    assert not (output / "broken").exists()


def test_prepare_writes_the_tracked_motion(prepared):
    """motion.json beside the landmarks: every channel at 25 fps, the jaw following the mouth the landmarks show."""
    for name, source in CLIPS.items():
        folder = prepared[1] / name
        motion = Motion.load(folder / "motion.json")
        assert (motion.n_frames, motion.fps, set(motion.channels)) == (75, 25.0, set(CHANNELS))
        opening = regions.mouth_opening(np.load(folder / "landmarks.npy").astype(np.float64))
        assert np.corrcoef(motion["jaw_open"], opening)[0, 1] > 0.95
        assert motion.meta["found"] == 1.0 and Path(motion.meta["source"]).name == source.name
        blinks = np.round(np.array(motion.meta["blinks"]) * 25).astype(int)
        truth = Motion.load(source.with_suffix(".motion.json")).meta["blinks"]
        assert np.abs(blinks - truth).max() <= 1, (blinks, truth)  # both speakers' two blinks, where they are


def test_training_windows_pool_speakers_in_one_unit_and_keep_the_recorded_timing(prepared, tmp_path):
    """Real clips' lips read in a typical speaker's units (the clip's span over the typical one), not each clip's own
    0..1; a measured audio-visual offset is removed only when asked."""
    from talkinghead.motion.tracked import TYPICAL_SPAN
    from talkinghead.train.clips import load_clip

    for name in CLIPS:
        folder = tmp_path / name
        shutil.copytree(prepared[1] / name, folder)
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps({**meta, "av_offset": 2}))
        motion = Motion.load(folder / "motion.json")
        recorded = load_clip(folder, ("jaw_open",), False, av_offset=False).target[0]
        span = motion.meta["levels"]["jaw_open"]["span"]
        assert np.allclose(recorded, motion["jaw_open"][:len(recorded)] * span / TYPICAL_SPAN["jaw_open"])
        moved = load_clip(folder, ("jaw_open",), False, av_offset=True).target[0]
        assert np.allclose(moved, recorded[2:2 + len(moved)])


class FakeRay(types.ModuleType):
    """A stand-in ``ray`` that runs each remote task in this process when it is submitted, and logs its calls."""

    def __init__(self, refuse: bool = False) -> None:
        super().__init__("ray")
        self.refuse, self.calls = refuse, []

    def init(self, address: str) -> None:
        if self.refuse:
            raise ConnectionError(f"Could not find any running Ray instance at {address}.\nPlease start one.")
        self.calls.append(("init", address))

    def remote(self, num_cpus: int):
        def wrap(function):
            def submit(task):
                self.calls.append(("task", task[0], num_cpus))
                return function(task)
            return types.SimpleNamespace(remote=submit)
        return wrap

    def wait(self, pending: list, num_returns: int) -> tuple[list, list]:
        return pending[:num_returns], pending[num_returns:]

    def get(self, ref):
        return ref

    def shutdown(self) -> None:
        self.calls.append(("shutdown",))


def test_prepare_on_ray_runs_each_clip_as_a_remote_task(prepared, tmp_path, monkeypatch):
    ray = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    summary = prepare_dataset(prepared[0], tmp_path, PrepareConfig(crop_size=CROP, ray="ray://head:10001"))
    assert (summary["prepared"], summary["failed"]) == (2, 1)
    assert ray.calls[0] == ("init", "ray://head:10001") and ray.calls[-1] == ("shutdown",)
    assert sorted(call[1] for call in ray.calls[1:-1]) == ["broken", *sorted(CLIPS)]
    for name in CLIPS:
        files = sorted(p.name for p in (tmp_path / name).iterdir())
        assert files == sorted(p.name for p in (prepared[1] / name).iterdir()) and "motion.json" in files
    assert (tmp_path / "errors.log").read_text().startswith("broken\t")
    again = prepare_dataset(prepared[0], tmp_path, PrepareConfig(crop_size=CROP, ray="ray://head:10001"))
    assert (again["prepared"], again["skipped"], again["failed"]) == (0, 2, 1)  # resumed: only the bad clip again


@pytest.mark.parametrize("ray, problem", [(None, "--ray needs Ray, which is not installed (pip install ray)"),
                                          (FakeRay(refuse=True), "--ray auto: cannot connect (Could not find any "
                                                                 "running Ray instance at auto.)")])
def test_prepare_on_ray_without_ray_or_a_cluster_says_so(prepared, tmp_path, monkeypatch, ray, problem):
    monkeypatch.setitem(sys.modules, "ray", ray)  # None: ``import ray`` fails, as where Ray is not installed
    run = run_cli("prepare", prepared[0], "-o", tmp_path / "out", "--ray", "auto")
    assert run.code == 1 and visible_lines(run.stderr) == [f"talkinghead: error: {problem}"]
    assert not (tmp_path / "out").exists()


def test_energy_offset_follows_delayed_audio(prepared):
    """On the clip whose sync the energy fit finds (see the next test): 0, then the delays put into the sound."""
    folder = prepared[1] / OTHER
    landmarks, mel = np.load(folder / "landmarks.npy"), np.load(folder / "mel.npy")
    offset, _ = energy_offset(landmarks, mel, 15)
    assert abs(offset) <= 1  # the clip is in sync
    # sound 5 frames late = picture 5 frames early
    assert energy_offset(landmarks, delayed(mel, 5), 15)[0] == offset - 5
    rows = 3 * MEL_ROWS_PER_FRAME  # sound 3 frames early = picture 3 frames late
    early = np.concatenate([mel[rows:], np.full((rows, mel.shape[1]), mel.min(), mel.dtype)])
    assert energy_offset(landmarks, early, 15)[0] == offset + 3


@pytest.mark.xfail(strict=True, reason="the confidence (best R minus the median R over lags) of the clip's own sound "
                   "is no higher than that of the same sound with its frames shuffled (0.10 vs 0.10-0.17 and 0.09 vs "
                   "0.08-0.18 here; on real GRID clips too, e.g. lrwp9a 0.17 vs 0.09-0.21): it says nothing on 3 s")
def test_energy_offset_is_surer_of_the_clips_own_sound(prepared):
    """A sound whose frames are shuffled has no lag that explains the mouth: it must get a lower confidence."""
    rng = np.random.default_rng(0)
    for name in CLIPS:
        folder = prepared[1] / name
        landmarks, mel = np.load(folder / "landmarks.npy"), np.load(folder / "mel.npy")
        _, own = energy_offset(landmarks, mel, 15)
        frames = mel[:len(mel) // MEL_ROWS_PER_FRAME * MEL_ROWS_PER_FRAME].reshape(-1, MEL_ROWS_PER_FRAME, mel.shape[1])
        for _ in range(5):
            shuffled = frames[rng.permutation(len(frames))].reshape(-1, mel.shape[1])
            assert energy_offset(landmarks, shuffled, 15)[1] < own, name


@pytest.mark.xfail(strict=True, reason="the energy fit reads the hopper clip, in sync by construction, as a picture "
                   "5 frames early (confidence 0.09; 0.15-0.21 on real GRID clips, which it finds at 0, -2, 0)")
def test_energy_offset_finds_the_sync_of_every_clip(prepared):
    for name in CLIPS:
        folder = prepared[1] / name
        offset, _ = energy_offset(np.load(folder / "landmarks.npy"), np.load(folder / "mel.npy"), 15)
        assert abs(offset) <= 1, (name, offset)


def test_training_overfits_the_clips(prepared, trained):
    checkpoint, summary = trained
    assert summary["steps"] == STEPS and summary["clips"] == 2
    log = np.loadtxt(checkpoint.with_name("tiny.log.csv"), delimiter=",", skiprows=1)
    assert log.shape == (STEPS, 3) and (log[:, 0] == np.arange(1, STEPS + 1)).all()
    assert log[:10, 1].mean() > 0.6  # chance: BCE of a 0.5 guess is 0.69
    assert log[-50:, 1].mean() < 0.5
    # the pairs it trained on (in sync or shifted), scored afresh by the saved model
    model = load_syncnet(checkpoint)
    pairs = SyncPairs(prepared[1], tiny_training())
    faces, mel, label = (torch.stack(x) for x in zip(*(pairs[i] for i in range(len(pairs)))))
    with torch.no_grad():
        accuracy = ((sync_probability(*model(faces, mel)) > 0.5) == (label > 0.5)).float().mean().item()
    assert accuracy > 0.75


def test_training_resumes_from_its_checkpoint(prepared, trained, tmp_path):
    checkpoint = tmp_path / "tiny.pt"
    shutil.copy(trained[0], checkpoint)
    shutil.copy(trained[0].with_name("tiny.log.csv"), tmp_path / "tiny.log.csv")
    with open(tmp_path / "tiny.log.csv", "a") as log:  # a step logged but lost with its run: redone, not repeated
        log.write(f"{STEPS + 1},0.7,0.5\n")
    summary = train_syncnet(prepared[1], checkpoint, tiny_training(STEPS + 10))
    assert (summary["resumed_from"], summary["steps"]) == (STEPS, STEPS + 10)
    log = np.loadtxt(tmp_path / "tiny.log.csv", delimiter=",", skiprows=1)
    assert (log[:, 0] == np.arange(1, STEPS + 11)).all()
    assert log[STEPS:, 1].mean() < 0.55  # carried on from the trained weights, not from scratch
    assert torch.load(checkpoint, weights_only=True)["step"] == STEPS + 10
    with pytest.raises(InputError, match="another architecture"):
        train_syncnet(prepared[1], checkpoint, SyncNetTrainConfig(**{**TINY, "embed_dim": 16}, steps=STEPS + 20))


def test_training_pairs_shift_audio_by_the_clip_offset(prepared, tmp_path):
    """In-sync pairs take the audio ``av_offset`` frames before the faces; the others audio at least 3 frames off."""
    shutil.copytree(prepared[1] / OWN, tmp_path / "clip")
    meta = json.loads((tmp_path / "clip" / "meta.json").read_text())
    (tmp_path / "clip" / "meta.json").write_text(json.dumps({**meta, "av_offset": 3}))
    mel = np.load(tmp_path / "clip" / "mel.npy")
    pairs = SyncPairs(tmp_path, tiny_training())
    windows = [mel_input(mel[4 * a:4 * a + 20]) for a in range(len(mel) // 4 - 4)]
    labels = []
    for i, (_, start) in enumerate(pairs.windows):
        _, pair_mel, label = pairs[i]
        matches = [a for a, w in enumerate(windows) if torch.equal(w, pair_mel)]
        assert len(matches) == 1
        assert matches[0] == start - 3 if label == 1 else abs(matches[0] - (start - 3)) >= 3
        labels.append(label.item())
    assert 0.3 < np.mean(labels) < 0.7


class FrameMeans(nn.Module):
    """A stand-in encoder: the mean of each frame of a window, centred and scaled to unit length."""

    def __init__(self, frames: int, audio: bool) -> None:
        super().__init__()
        self.frames, self.is_audio = frames, audio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_audio:  # (B, 1, 80, 4F)
            per_frame = x[:, 0].reshape(len(x), 80, self.frames, -1).mean((1, 3))
        else:  # (B, F * 3, h, w)
            per_frame = x.reshape(len(x), self.frames, -1).mean(-1)
        return nn.functional.normalize(per_frame - per_frame.mean(1, keepdim=True), dim=1)


@pytest.mark.parametrize("shift", [-6, 0, 4])
def test_sync_scores_find_a_known_shift(shift):
    """Each frame's picture and sound carry the same random number, the picture ``shift`` frames late."""
    model = SyncNet(SyncNetConfig(**TINY))
    model.visual, model.audio = FrameMeans(5, audio=False), FrameMeans(5, audio=True)
    code = np.round(np.random.default_rng(1).random(140) * 255)
    frames = np.arange(100)
    faces = np.broadcast_to(code[frames + 20, None, None, None], (100, 16, 16, 3)).astype(np.uint8)
    mel = np.repeat(code[frames + 20 + shift], MEL_ROWS_PER_FRAME * 80).reshape(-1, 80).astype(np.float32)
    scores = sync_scores(model, faces, mel, max_offset=10)
    assert scores["offset_frames"] == shift
    assert scores["lse_d"] < 0.01 and scores["lse_c"] > 0.5
    with pytest.raises(ValueError, match="too short"):
        sync_scores(model, faces[:14], mel, max_offset=10)


def test_trained_syncnet_finds_the_offset_of_its_clips(prepared, trained):
    model = load_syncnet(trained[0])
    mels = {name: np.load(prepared[1] / name / "mel.npy") for name in CLIPS}
    for name in CLIPS:
        folder = prepared[1] / name
        faces, meta = np.load(folder / "face.npy"), json.loads((folder / "meta.json").read_text())
        own = sync_scores(model, faces, mels[name], max_offset=10)
        assert abs(own["offset_frames"] - meta["av_offset"]) <= 1 and own["lse_c"] > 0.1
        late = sync_scores(model, faces, delayed(mels[name], 4), max_offset=10)
        assert abs(late["offset_frames"] - (own["offset_frames"] - 4)) <= 1
        other = sync_scores(model, faces, next(m for n, m in mels.items() if n != name), max_offset=10)
        assert other["lse_d"] > own["lse_d"]


def test_prepare_with_a_syncnet_takes_its_offset_and_drops_unsure_clips(trained, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(CLIPS[OWN], source)
    config = PrepareConfig(crop_size=CROP, workers=1, syncnet=str(trained[0]), max_offset=10)
    kept = prepare_dataset(source, tmp_path / "kept", config)
    assert kept["prepared"] == 1
    folder = tmp_path / "kept" / CLIPS[OWN].stem
    meta = json.loads((folder / "meta.json").read_text())
    scores = sync_scores(load_syncnet(trained[0]), np.load(folder / "face.npy"), np.load(folder / "mel.npy"), 10)
    assert meta["av_offset_method"] == "syncnet" and meta["av_offset"] == scores["offset_frames"]
    assert meta["av_confidence"] == pytest.approx(scores["lse_c"], abs=1e-4)
    strict = prepare_dataset(source, tmp_path / "strict", replace(config, min_sync_confidence=meta["av_confidence"] + 1))
    assert strict["failed"] == 1 and "LSE-C" in (tmp_path / "strict" / "errors.log").read_text()
    with pytest.raises(InputError, match="file not found"):  # the user's mistake, not every clip's
        prepare_dataset(source, tmp_path / "none", replace(config, syncnet=str(tmp_path / "missing.pt")))


def test_score_video_tracks_and_scores_a_clip(prepared, trained):
    """A trained SyncNet finds each clip at the offset its training pairs had, and scores the other speaker's sound
    as worse sync (farther, less sure)."""
    for own, other in ((OWN, OTHER), (OTHER, OWN)):
        scores = score_video(trained[0], CLIPS[own], max_offset=10)
        assert scores["frames"] == 75 and scores["face_found"] == 1.0
        trained_at = json.loads((prepared[1] / own / "meta.json").read_text())["av_offset"]
        wrong = score_video(trained[0], CLIPS[own], audio=CLIPS[other], max_offset=10)
        assert abs(scores["offset_frames"] - trained_at) <= 1, (scores, trained_at)
        assert wrong["lse_d"] > scores["lse_d"] and wrong["lse_c"] < scores["lse_c"], (scores, wrong)


def test_load_syncnet_names_the_file_and_the_problem(tmp_path):
    with pytest.raises(InputError, match="file not found") as missing:
        load_syncnet(tmp_path / "none.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02not a torch file at all")
    with pytest.raises(InputError, match="not a SyncNet checkpoint") as bad:
        load_syncnet(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(InputError, match="not a SyncNet checkpoint"):
        load_syncnet(foreign)
    for error, path in ((missing, "none.pt"), (bad, "corrupt.pt")):
        assert "\n" not in str(error.value) and str(error.value).startswith(str(tmp_path / path))
