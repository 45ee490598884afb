"""The learned motion models: synthetic corpus, tiny training runs that overfit, the shipped weights, the generators."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from conftest import DATA, assert_fails_cleanly, need, run_cli
from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.data.augment import add_noise, augment, lossy_codec
from talkinghead.data.espeak_phones import arpabet_phones, to_arpabet
from talkinghead.data.synth import SynthConfig, synth_corpus
from talkinghead.data.tts import synthesize
from talkinghead.errors import InputError
from talkinghead.eval.lipsync import pearson
from talkinghead.motion import registry
from talkinghead.motion.motion import Motion
from talkinghead.models.weights import ASSETS, load_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "speech.wav"
MEDIA = Path(__file__).resolve().parent / "media"
OPEN_VOWELS = {"AA", "AE", "AO", "AH", "AW", "AY", "EH", "OW"}
TINY_LIPS = {"channels": 32, "dilations": "1,2,4", "lr": 3e-3, "frames": 40, "batch_size": 8, "micro_batch": 8,
             "checkpoint_every": 1000, "spec_augment": False}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic utterances in English, German and Mandarin."""
    out = tmp_path_factory.mktemp("synth")
    synth_corpus(out, SynthConfig(utterances=6, languages="en,de,cmn", workers=1))
    return out


@pytest.fixture(scope="module")
def tiny_syncer(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A syncer trained briefly on the corpus."""
    from talkinghead.train.syncer import SyncerTrainConfig, train_syncer

    checkpoint = tmp_path_factory.mktemp("syncer") / "syncer.pt"
    train_syncer(corpus, checkpoint, SyncerTrainConfig(dim=32, steps=80, lr=3e-3, batch_size=6, micro_batch=6,
                                                       frames=24, checkpoint_every=1000))
    return checkpoint


def log_column(checkpoint: Path, name: str) -> np.ndarray:
    """One column of a training run's CSV log."""
    lines = checkpoint.with_name(checkpoint.stem + ".log.csv").read_text().splitlines()
    header = lines[0].split(",")
    return np.array([float(row.split(",")[header.index(name)]) for row in lines[1:]])


def test_espeak_phonemes_of_every_script_map_to_visemes() -> None:
    for voice, text in [("en", "maybe a bamboo boat"), ("de", "Mama baut Bäume"), ("cmn", "妈妈买面包"),
                        ("ru", "мама мыла раму"), ("ja", "ままはぱんをかう")]:
        phones = arpabet_phones(synthesize(text, voice).phonemes)
        labels = [p for _, _, p in phones]
        assert {"M"} & set(labels), (voice, labels)  # every sentence has an m
        assert sum(p != "SIL" for p in labels) >= 6, (voice, labels)
    assert [to_arpabet(m) for m in ["'aI", "tS", "_:", "'0", "y"]] == ["AY", "CH", "SIL", "AO", "UW"]


def test_corpus_labels_shut_the_lips_on_bilabials_and_open_them_on_vowels(corpus: Path) -> None:
    clips = sorted(p.parent for p in corpus.glob("*/meta.json"))
    assert len(clips) == 6
    assert {json.loads((c / "meta.json").read_text())["language"] for c in clips} == {"en", "de", "cmn"}
    for clip in clips:
        motion = Motion.load(clip / "motion.json")
        mel = np.load(clip / "mel.npy")
        assert abs(len(mel) / 100 - motion.duration) < 0.06
        assert np.load(clip / "phones.npy").shape == (len(mel), 42)
        jaw = motion["jaw_open"]
        closures = [int((s + e) / 2 * 25) for s, e, p in motion.meta["phones"] if p in {"M", "B", "P"}]
        vowels = [int((s + e) / 2 * 25) for s, e, p in motion.meta["phones"] if p in OPEN_VOWELS]
        assert len(closures) >= 1 and len(vowels) >= 3, (clip.name, motion.meta["phones"])  # every clip has both
        assert jaw[closures].max() < 0.05  # shut in the middle of every m, b and p
        assert jaw[vowels].mean() > 0.3  # measured: 0.35-0.52 per clip


def test_a_festival_failure_falls_back_to_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from talkinghead.data import festival
    from talkinghead.data.synth import synth_clip

    def fails(text: str, voice: str, stretch: float = 1.0) -> None:
        raise InputError(None, f"festival failed on {text[:40]!r}: SIOD ERROR")

    monkeypatch.setattr(festival, "installed_voices", lambda language=None: ["lj"])
    monkeypatch.setattr(festival, "festival_speech", fails)
    meta = synth_clip(0, tmp_path / "clip", SynthConfig(languages="fi", festival=1.0, clean=1.0))
    assert meta["source"] == "espeak-ng" and (tmp_path / "clip" / "meta.json").exists()
    error = pickle.loads(pickle.dumps(InputError("x.wav", "bad")))  # worker processes send errors to their parent
    assert str(error) == "x.wav: bad" and error.problem == "bad"


def test_data_workers_run_single_threaded_numerics(monkeypatch: pytest.MonkeyPatch) -> None:
    from talkinghead.data.workers import worker_pool

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with worker_pool(1) as pool:
        assert pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result() == "1"
        assert pool.submit(os.getenv, "OMP_NUM_THREADS").result() == "1"
    assert os.environ["OMP_NUM_THREADS"] == "2" and "OPENBLAS_NUM_THREADS" not in os.environ


def test_augmentation_keeps_length_and_timing() -> None:
    x = synthesize("papa and mama", "en").to_audio().samples.astype(np.float64)
    for codec in ("mp3", "aac", "opus"):
        y = lossy_codec(x, codec, 24000)
        assert len(y) == len(x) and pearson(x, y) > 0.9, codec
    rng = np.random.default_rng(1)
    for _ in range(10):
        y, applied = augment(x, rng)
        assert len(y) == len(x) and np.isfinite(y).all() and applied
        envelope = [np.convolve(np.abs(v), np.ones(800) / 800, "same")[::160] for v in (x, y)]
        assert pearson(*envelope) > 0.4, applied


def test_spec_augment_moves_a_formant_up_for_shorter_vocal_tracts_and_masks_stripes() -> None:
    import torch

    from talkinghead.train.lips import spec_augment

    mel = torch.zeros(1, 80, 50)
    mel[0, 30] = 5.0  # one formant band
    generator = torch.Generator().manual_seed(0)
    up = spec_augment(mel, generator, warp=(0.8, 0.8), max_tilt=0.0, masks=0)
    assert int(up[0, :, 0].argmax()) in (37, 38)  # 30 / 0.8
    masked = spec_augment(torch.ones(4, 80, 50), generator, warp=(1.0, 1.0), max_tilt=0.0, masks=2, max_width=10)
    zero = masked == 0
    assert zero.any() and zero.all(1).any() and zero.all(2).any()  # whole time stripes and whole band stripes
    assert not zero.all()


def test_tiny_lips_overfit_their_clips_and_resume(corpus: Path, tiny_syncer: Path, tmp_path: Path) -> None:
    from talkinghead.train.lips import LipsTrainConfig, train_lips

    checkpoint = tmp_path / "lips.pt"
    summary = train_lips(corpus, checkpoint, LipsTrainConfig(**TINY_LIPS, steps=100, syncer=str(tiny_syncer)))
    l1 = log_column(checkpoint, "l1")
    assert l1[-10:].mean() < 0.6 * l1[:5].mean()
    assert log_column(checkpoint, "sync")[-10:].mean() < log_column(checkpoint, "sync")[:5].mean()
    clip = sorted(corpus.glob("synth_*"))[0]
    features = AudioFeatures(load_audio(clip / "audio.wav"), 25.0)
    learned = registry.create("lips", "learned", registry.generator_class("lips", "learned").Config(
        lips_weights=str(checkpoint))).generate(features)
    assert pearson(learned["jaw_open"], Motion.load(clip / "motion.json")["jaw_open"]) > 0.6
    out = tmp_path / "m.json"
    run = run_cli("motion", "--audio", clip / "audio.wav", "--lips", "learned", "--lips-weights", checkpoint, "-o", out,
                  "--quiet")
    assert run.code == 0, run.stderr
    np.testing.assert_allclose(Motion.load(out)["jaw_open"], learned["jaw_open"], atol=1e-4)
    (tmp_path / "fail").mkdir()
    line = assert_fails_cleanly(run_cli("motion", "--audio", clip / "audio.wav", "--lips", "phonetic", "--lips-weights",
                                        checkpoint, "-o", tmp_path / "fail" / "m.json"), checkpoint, tmp_path / "fail")
    assert "read by none of the chosen generators (lips phonetic" in line  # the phonetic lips have no weights
    resumed = train_lips(corpus, checkpoint, LipsTrainConfig(**TINY_LIPS, steps=110, syncer=str(tiny_syncer)))
    assert (summary["resumed_from"], resumed["resumed_from"]) == (0, 100)
    assert len(log_column(checkpoint, "l1")) == 110


def test_tiny_causal_lips_learn_the_offline_lips_on_untranscribed_speech(corpus: Path, tmp_path: Path) -> None:
    """Distillation: a streaming student with live phone posteriors, taught by the shipped offline lips on a recording
    that has no labels, follows what they make of it."""
    from talkinghead.motion.streaming_lips import StreamingLips
    from talkinghead.train.lips import LipsTrainConfig, train_lips

    checkpoint = tmp_path / "causal.pt"
    summary = train_lips(corpus, checkpoint, LipsTrainConfig(**TINY_LIPS, steps=120, lookahead_ms=90, teacher="lips",
                                                             teacher_data=f"{EXAMPLE}*4"))
    assert summary["taught"] == 4
    features = AudioFeatures(load_audio(EXAMPLE), 25.0)
    teacher = registry.create("lips", "learned").generate(features)["jaw_open"]
    stream = StreamingLips(str(checkpoint))
    student = np.concatenate([stream.push(features.audio.samples), stream.flush()])
    assert pearson(student[:, stream.channels.index("jaw_open")], teacher) > 0.6


def test_tiny_syncer_tells_matching_lips_from_shifted_ones(corpus: Path, tiny_syncer: Path) -> None:
    from talkinghead.motion.syncer import sync_score
    from talkinghead.models.syncer import Syncer

    loss = log_column(tiny_syncer, "loss")
    assert loss[-10:].mean() < 0.7 * loss[:5].mean()
    syncer = load_model(Syncer, tiny_syncer)
    clip = sorted(corpus.glob("synth_*"))[1]
    features = AudioFeatures(load_audio(clip / "audio.wav"), 25.0)
    own = Motion.load(clip / "motion.json")
    shifted = own.update(**{c: np.roll(own[c], 12) for c in own.channels})
    assert sync_score(syncer, own, features)["similarity"] > sync_score(syncer, shifted, features)["similarity"]
    assert abs(sync_score(syncer, shifted, features, max_offset=15)["offset"] - 12) <= 2


def test_tiny_expression_model_learns_when_blinks_come(corpus: Path, tmp_path: Path) -> None:
    """Clips whose eyes blink at the start of every pause and whose brows follow loudness: the trained model blinks
    and raises its brows with the sound."""
    from talkinghead.motion.learned_expression import LearnedExpression, LearnedExpressionConfig
    from talkinghead.models.expression_net import ExpressionNet
    from talkinghead.train.expression import ExpressionTrainConfig, train_expression
    from talkinghead.train.lips import LipsTrainConfig, train_lips

    lips = tmp_path / "lips.pt"
    train_lips(corpus, lips, LipsTrainConfig(**TINY_LIPS, steps=5))
    data = tmp_path / "data"
    shutil.copytree(corpus, data)
    for clip in sorted(data.glob("synth_*")):
        motion = Motion.load(clip / "motion.json")
        activity = AudioFeatures(load_audio(clip / "audio.wav"), 25.0).activity[:motion.n_frames]
        quiet = activity < 0.2
        blink = np.zeros(motion.n_frames)
        for start in np.flatnonzero(quiet[1:] & ~quiet[:-1]) + 1:
            blink[start:start + 5] = [0.6, 1.0, 0.9, 0.5, 0.2][:len(blink[start:start + 5])]
        motion.update(blink_left=blink, blink_right=blink, brow_raise=0.8 * activity - 0.2).save(clip / "motion.json")
    checkpoint = tmp_path / "expression.pt"
    summary = train_expression(data, checkpoint, ExpressionTrainConfig(
        hidden=32, layers=1, steps=150, lr=5e-3, frames=40, batch_size=8, micro_batch=8, lips_weights=str(lips),
        checkpoint_every=1000))
    nll = log_column(checkpoint, "brow_nll")
    assert nll[-10:].mean() < nll[:5].mean() - 0.5
    sampled = load_model(ExpressionNet, checkpoint).config.sampled_blink_rate
    assert sampled == summary["sampled_blink_rate"] and 0.3 < sampled / summary["blink_rate"] < 3
    clip = sorted(data.glob("synth_*"))[0]
    features = AudioFeatures(load_audio(clip / "audio.wav"), 25.0)
    motion = LearnedExpression(LearnedExpressionConfig(expression_weights=str(checkpoint), stage1_weights=str(lips))).generate(
        features)
    target = Motion.load(clip / "motion.json")
    assert pearson(motion["brow_raise"], target["brow_raise"]) > 0.5
    assert motion["blink_left"].max() > 0.9


def test_bad_training_folders_and_checkpoints_fail_cleanly(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_fails_cleanly(run_cli("train", "lips", "--data", tmp_path / "empty", "-o", tmp_path / "l.pt"),
                         "no clip", tmp_path / "l.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    from talkinghead.models.lips_net import LipsNet

    with pytest.raises(InputError, match="not a LipsNet checkpoint"):
        load_model(LipsNet, bad)
    with pytest.raises(InputError, match="not found"):
        load_model(LipsNet, tmp_path / "missing.pt")


SHIPPED = ["lips", "lips_causal", "syncer", "expression"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_from_the_package(name: str) -> None:
    path = ASSETS / f"{name}.pt"
    assert path.is_file(), f"{path} is not shipped"
    assert path.stat().st_size < 30e6
    from talkinghead.models.expression_net import ExpressionNet
    from talkinghead.models.lips_net import LipsNet
    from talkinghead.models.syncer import Syncer

    model = load_model({"lips": LipsNet, "lips_causal": LipsNet, "syncer": Syncer, "expression": ExpressionNet}[name],
                       name)
    assert not model.training and sum(p.numel() for p in model.parameters()) > 1000


def test_shipped_learned_lips_follow_speech_in_several_languages() -> None:
    from talkinghead.audio.decode import Audio

    for audio in [load_audio(EXAMPLE), synthesize("Guten Morgen, wie geht es Ihnen heute?", "de").to_audio(),
                  synthesize("今天天气很好，我们去公园散步吧。", "cmn").to_audio()]:
        features = AudioFeatures(Audio(np.pad(audio.samples, audio.rate), audio.rate), 25.0)  # 1 s of silence around
        jaw = registry.create("lips", "learned").generate(features)["jaw_open"]
        speaking = features.activity > 0.5
        low, high = np.percentile(jaw[speaking], [10, 90])
        assert high - low > 0.1  # the mouth opens and closes while speaking
        far = uniform_filter1d((features.activity > 0.05).astype(float), 13) == 0  # 0.25 s from any sound
        assert far.any() and jaw[far].max() < 0.02  # shut in silence
        assert pearson(jaw, features.activity) > 0.3


def test_shipped_learned_lips_rest_to_the_end_of_a_noisy_recording() -> None:
    from talkinghead.audio.decode import Audio

    audio = load_audio(EXAMPLE)
    speech = np.pad(audio.samples.astype(np.float64), (0, 2 * audio.rate))  # 2 s of room noise after the speech
    for colour in (0.0, 1.0):  # white, pink; 25 dB below the speech, all through the recording
        noisy = add_noise(speech, 25.0, colour, np.random.default_rng(0))
        features = AudioFeatures(Audio(noisy.astype(np.float32), audio.rate), 25.0)
        jaw = registry.create("lips", "learned").generate(features)["jaw_open"]
        spoken = len(audio.samples) * 25 // audio.rate
        assert np.percentile(jaw[:spoken], 90) > 0.3 and jaw[spoken + 8:].max() < 0.05, (colour, jaw[-12:])


@pytest.mark.parametrize("source", ["shipped_clips", "grid"])
def test_shipped_learned_lips_rest_after_the_last_word_of_recordings(source: str) -> None:
    """The shipped clips end with 0.7 s of faint noise after the last word; the five real GRID recordings with about
    0.7 s of room noise and breath."""
    if source == "grid":
        need(DATA / "lipnet-grid" / "bbaf2n.mpg")
        clips = sorted((DATA / "lipnet-grid").glob("*.mpg"))
    else:
        clips = [MEDIA / "hopper_bin_blue.mp4", MEDIA / "collins_lay_red.mp4"]
    for clip in clips:
        features = AudioFeatures(load_audio(clip), 25.0)
        start, _, phone = features.phones[-1]
        assert phone == "SIL"
        jaw = registry.create("lips", "learned").generate(features)["jaw_open"]
        assert jaw[int((start + 0.25) * 25):].max() < 0.1, clip.name


def test_motion_command_with_learned_generators(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    run = run_cli("motion", "--audio", EXAMPLE, "--lips", "learned", "--expression-model", "learned", "-o", out,
                  "--json", "--quiet")
    assert run.code == 0, run.stderr
    motion = Motion.load(out)
    assert motion.meta["generators"]["lips"] == "learned"
    assert motion["jaw_open"].std() > 0.05 and motion["blink_left"].max() > 0.5


def test_lips_train_under_torchrun_with_two_processes(corpus: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    checkpoint = tmp_path / "ddp.pt"
    options = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY_LIPS, "steps": 4}.items() if not isinstance(v, bool)]
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "talkinghead",
                           "train", "lips", "--data", str(corpus), "-o", str(checkpoint), "--quiet", *options],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[:4000] + "\n...\n" + done.stderr[-2000:]  # the ranks' own errors come first
    from talkinghead.models.lips_net import LipsNet

    assert load_model(LipsNet, checkpoint).config.channels == TINY_LIPS["channels"]
    assert len(log_column(checkpoint, "l1")) == 4  # one row per step, written by rank 0 alone


def test_label_speech_labels_recordings_and_aligns_to_transcripts(tmp_path: Path) -> None:
    source = tmp_path / "speech"
    source.mkdir()
    shutil.copy(EXAMPLE, source / "aligned.wav")
    shutil.copy(EXAMPLE.with_suffix(".txt"), source / "aligned.txt")
    shutil.copy(EXAMPLE, source / "recognised.wav")
    (source / "broken.wav").write_bytes(b"RIFF not audio")
    run = run_cli("label-speech", source, "-o", tmp_path / "out", "--json", "--quiet")
    assert run.code == 0, run.stderr
    assert run.summary["labelled"] == 2 and run.summary["failed"] == 1
    assert "broken" in (tmp_path / "out" / "errors.log").read_text()
    labels = {name: json.loads((tmp_path / "out" / name / "meta.json").read_text())["labels"]
              for name in ("aligned", "recognised")}
    assert labels == {"aligned": "aligned", "recognised": "recognised"}
    motion = Motion.load(tmp_path / "out" / "aligned" / "motion.json")
    closures = [int((s + e) / 2 * 25) for s, e, p in motion.meta["phones"] if p in {"P", "B", "M"}]
    assert len(closures) >= 6 and motion["jaw_open"][closures].max() < 0.05  # shut on every p, b and m of the text
    assert abs(motion.duration - load_audio(EXAMPLE).duration) < 0.05
    again = run_cli("label-speech", source, "-o", tmp_path / "out", "--json", "--quiet")
    assert again.summary["skipped"] == 2  # resumable
