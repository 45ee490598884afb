"""Options reach the generators that read them or are refused; renderers are chosen by name; SIGTERM leaves nothing
behind. All on the shipped example portrait and speech."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import CLIP, assert_fails_cleanly, assert_sigterm_leaves_nothing, run_cli

from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.errors import InputError
from talkinghead.face.portrait import Portrait
from talkinghead.motion import registry
from talkinghead.motion.motion import Motion
from talkinghead.pipeline import AnimateConfig, DubConfig, MotionConfig, generate_motion
from talkinghead.render import registry as renderers
from talkinghead.render.dub import DubSource

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "examples" / "portrait.jpg"
SPEECH = ROOT / "examples" / "speech.wav"


@pytest.fixture(scope="module")
def speech() -> AudioFeatures:
    return AudioFeatures(load_audio(SPEECH), 25.0)


@pytest.mark.parametrize("argv, option", [
    (["--expression-weights", "x.pt"], "--expression-weights x.pt"),  # the rule-based blinks have no weights
    (["--pose-weights", "x.pt", "--pose", "prosody"], "--pose-weights x.pt"),
    (["--lips-weights", "x.pt", "--lips", "phonetic"], "--lips-weights x.pt"),
])
def test_an_option_no_chosen_generator_reads_is_refused(tmp_path, argv, option):
    out = tmp_path / "out"
    out.mkdir()
    line = assert_fails_cleanly(run_cli("motion", "--audio", SPEECH, "-o", out / "m.json", *argv), Path("x.pt"), out)
    assert f"{option} is read by none of the chosen generators" in line


def test_each_option_reaches_the_generator_that_reads_it(speech):
    base = generate_motion(speech, MotionConfig(seed=2))
    more = generate_motion(speech, MotionConfig(seed=2, blink_rate=60.0, expression=2.0, head_motion=0.5))
    assert np.count_nonzero(np.diff((more["blink_left"] > 0.5).astype(int)) == 1) > \
        2 * np.count_nonzero(np.diff((base["blink_left"] > 0.5).astype(int)) == 1)
    np.testing.assert_allclose(more["head_yaw"], 0.5 * base["head_yaw"])
    assert np.abs(more["brow_raise"]).max() > 1.5 * np.abs(base["brow_raise"]).max()
    np.testing.assert_array_equal(more["jaw_open"], base["jaw_open"])  # no lips option changed


def test_ranges_live_with_the_options():
    with pytest.raises(InputError, match=r"--blink-rate 500.0 is outside 0..120"):
        MotionConfig(blink_rate=500.0)
    with pytest.raises(InputError, match=r"--head-motion -1.0 is outside 0..5"):
        registry.generator_class("pose", "prosody").Config(head_motion=-1.0)
    with pytest.raises(InputError, match=r"--mouth-scale 9.0 is outside 0..3"):
        DubConfig(mouth_scale=9.0)
    for cls in (MotionConfig, AnimateConfig, DubConfig):
        cls()  # the defaults are in range


def test_the_vae_pose_sets_the_blinks_by_its_declared_rule(speech):
    motion = generate_motion(speech, MotionConfig(pose="vae", seed=1))
    vae = registry.create("pose", "vae", registry.generator_class("pose", "vae").Config(seed=1)).generate(speech)
    np.testing.assert_array_equal(motion["blink_left"], vae["blink_left"])
    assert set(registry.generator_class("pose", "vae").replaces) == {"blink_left", "blink_right"}


def test_a_generator_that_sets_another_kinds_channel_without_saying_so_is_a_bug(speech, monkeypatch):
    @dataclass
    class NoddingConfig(registry.GeneratorConfig):
        pass

    class Nodding:
        kind, name, replaces = "pose", "nodding", ()
        Config: ClassVar[type] = NoddingConfig

        def __init__(self, config=None) -> None:  # noqa: ANN001
            pass

        def generate(self, features: AudioFeatures) -> Motion:
            return Motion(features.fps).update(head_pitch=np.zeros(features.n_frames),
                                               blink_left=np.zeros(features.n_frames))

    monkeypatch.setitem(registry._REGISTRY["pose"], "nodding", Nodding)
    with pytest.raises(ValueError, match="sets blink_left"):
        generate_motion(speech, MotionConfig(pose="nodding"))


def test_renderer_by_name(tmp_path):
    assert "warp" in renderers.available()
    run = run_cli("animate", "--image", PORTRAIT, "--audio", SPEECH, "-o", tmp_path / "o.mp4", "--renderer", "warp",
                  "--size", 128, "--quiet", "--json")
    assert run.code == 0 and run.summary["frames"] == 194, run.stderr
    (tmp_path / "bad").mkdir()
    run = run_cli("animate", "--image", PORTRAIT, "--audio", SPEECH, "-o", tmp_path / "bad" / "o.mp4",
                  "--renderer", "painted", "--quiet")
    assert run.code == 2 and "unknown renderer 'painted'; choose from hrdecoder, warp" in run.stderr
    assert list((tmp_path / "bad").iterdir()) == []
    run = run_cli("dub", "--video", CLIP.video, "--audio", SPEECH, "-o", tmp_path / "bad" / "d.mp4",
                  "--renderer", "painted", "--quiet")
    assert run.code == 2 and "unknown renderer 'painted'; choose from hrdecoder, warp" in run.stderr
    assert list((tmp_path / "bad").iterdir()) == []


def test_a_renderer_is_checked_for_its_source_and_avatar_before_any_work(monkeypatch):
    class Fitted:
        name, Config, sources, needs_avatar = "fitted", dict, (Portrait,), True

        def __init__(self, config=None, avatar=None) -> None:  # noqa: ANN001
            self.avatar = avatar

    monkeypatch.setitem(renderers._REGISTRY, "fitted", Fitted)
    assert renderers.create("fitted", Portrait, avatar="me.avatar").avatar == Path("me.avatar")
    with pytest.raises(InputError, match="needs --avatar"):
        renderers.create("fitted", Portrait)
    with pytest.raises(InputError, match="cannot dub a video"):
        renderers.create("fitted", DubSource, avatar="me.avatar")
    with pytest.raises(InputError, match="takes no avatar"):
        renderers.create("warp", Portrait, avatar="me.avatar")


def test_sigterm_during_animate_leaves_no_file(tmp_path):
    """A job runner stops work with SIGTERM: exit 143, one line, no output and no hidden temporary file."""
    out = tmp_path / "out"
    out.mkdir()
    assert_sigterm_leaves_nothing(["animate", "--image", str(PORTRAIT), "--audio", str(SPEECH), "-o",
                                   str(out / "o.mp4"), "--size", "1024", "--quiet"], out)
