"""Bad and unusual input to `talkinghead animate` (and `talkinghead motion`).

Bad input: a non-zero exit, exactly one line on stderr, "talkinghead: error: <file>: <problem>", no traceback, and
nothing left in the output folder (neither the video nor a temporary file). Unusual but valid input: a video.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import (CLIP, COLLINS, PORTRAIT, SPEECH, CliRun, assert_fails_cleanly, assert_plays, read_rgb, run_cli,
                      save_rgb, write_wav)

pytestmark = pytest.mark.slow
PHOTO = COLLINS  # colour photo, 400x320
SOUND = CLIP.video  # 3 s of speech, the sound track of an mp4
BIG_SOURCE = PORTRAIT  # 512x600 colour photo, 61 kB


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """An input folder and an empty output folder."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path / "in", tmp_path / "out"


def animate(image: Path, audio: Path, output: Path, *options: object) -> CliRun:
    return run_cli("animate", "--image", image, "--audio", audio, "-o", output, *options)


# bad input: a clear error and no output ----------------------------------------------------------------------------


def landscape() -> np.ndarray:
    """A faceless picture: a sky-to-meadow gradient with noise."""
    y, x = np.mgrid[0:480, 0:640] / np.array([480.0, 640.0])[:, None, None]
    sky = np.stack([120 + 80 * x, 170 + 40 * y, 250 - 150 * y], -1)
    noise = np.random.default_rng(0).normal(0, 18, sky.shape)
    return np.clip(sky + noise, 0, 255).astype(np.uint8)


def tiny_face() -> np.ndarray:
    """A portrait shrunk to 30 px wide, pasted on a 600x600 canvas."""
    canvas = np.full((600, 600, 3), 200, np.uint8)
    canvas[300:330, 280:310] = cv2.resize(read_rgb(PHOTO), (30, 30), interpolation=cv2.INTER_AREA)
    return canvas


BAD_IMAGES = {
    "no_face": lambda d: save_rgb(d / "landscape.png", landscape()),
    "truncated_jpg": lambda d: _write(d / "cut.jpg", BIG_SOURCE.read_bytes()[:40_000]),
    "text_as_image": lambda d: _write(d / "notes.txt", b"Dear diary, today I gave a text file to a video tool.\n" * 20),
    "text_named_png": lambda d: _write(d / "notes.png", b"Dear diary, this is not a picture.\n" * 20),
    "empty_image": lambda d: _write(d / "empty.jpg", b""),
    "face_too_small": lambda d: save_rgb(d / "tiny_face.png", tiny_face()),
    "missing_image": lambda d: d / "nobody.jpg",
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_image(case, folders):
    inputs, out = folders
    image = BAD_IMAGES[case](inputs)
    line = assert_fails_cleanly(animate(image, SOUND, out / "video.mp4"), image, out)
    if case in ("no_face", "face_too_small"):
        assert "face" in line


BAD_AUDIO = {
    "text_as_audio": lambda d: _write(d / "speech.wav", b"Hello, this is a text file, not a recording.\n" * 20),
    "text_file_as_audio": lambda d: _write(d / "speech.txt", b"Hello, this is a text file, not a recording.\n" * 20),
    "empty_wav": lambda d: write_wav(d / "empty.wav", np.zeros(0, np.float32)),
    "image_as_audio": lambda d: PHOTO,
    "missing_audio": lambda d: d / "nothing.wav",
}


@pytest.mark.parametrize("case", sorted(BAD_AUDIO))
def test_bad_audio(case, folders):
    inputs, out = folders
    audio = BAD_AUDIO[case](inputs)
    assert_fails_cleanly(animate(PHOTO, audio, out / "video.mp4"), audio, out)


def test_output_folder_that_does_not_exist(tmp_path):
    output = tmp_path / "no" / "such" / "folder" / "video.mp4"
    assert_fails_cleanly(animate(PHOTO, SOUND, output), output, tmp_path / "no")


def test_output_inside_a_file(folders):
    _, out = folders
    (out / "notes.txt").write_text("not a folder")
    output = out / "notes.txt" / "video.mp4"
    run = animate(PHOTO, SOUND, output, "--size", 128)
    (out / "notes.txt").unlink()
    assert_fails_cleanly(run, output, out)


def test_output_that_is_a_folder(folders):
    _, out = folders
    output = out / "video.mp4"
    output.mkdir()
    run = animate(PHOTO, SOUND, output, "--size", 128)
    output.rmdir()
    assert_fails_cleanly(run, output, out)


@pytest.mark.parametrize("name", ["video.avi", "video.gif", "video"])
def test_output_that_is_not_mp4(name, folders):
    _, out = folders
    assert_fails_cleanly(animate(PHOTO, SOUND, out / name, "--size", 128), out / name, out)


IMPOSSIBLE_OPTIONS = {  # options, and the word the error line must contain
    "size_zero": (["--size", 0], "size"),
    "size_negative": (["--size", -4], "size"),
    "size_odd": (["--size", 101], "size"),
    "fps_zero": (["--fps", 0], "fps"),
    "fps_negative": (["--fps", -25], "fps"),
}


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE_OPTIONS))
def test_impossible_option(case, folders):
    """An impossible option value gets one clear line naming the option, like a bad file does."""
    _, out = folders
    options, word = IMPOSSIBLE_OPTIONS[case]
    run = animate(PHOTO, SOUND, out / "video.mp4", *options)
    assert run.code != 0
    assert len(run.stderr.splitlines()) == 1 and run.stderr.startswith("talkinghead: error:"), run.stderr
    assert word in run.stderr, run.stderr
    assert sorted(out.iterdir()) == []


def test_config_file_with_a_wrong_type(folders):
    inputs, out = folders
    config = inputs / "options.yaml"
    config.write_text("size: large\n")
    assert_fails_cleanly(animate(PHOTO, SOUND, out / "video.mp4", "--config", config), config, out)


# unusual but valid input: a video ----------------------------------------------------------------------------------


def assert_renders(run: CliRun, output: Path, audio: Path) -> None:
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert_plays(output, audio)
    assert sorted(output.parent.iterdir()) == [output], "temporary files left behind"


def test_silent_audio(silent_render):
    assert_renders(silent_render.run, silent_render.output, silent_render.audio)


def test_video_file_as_audio(clip_render):
    """An .mpg as GRID distributes them (MPEG-1 video + MP2 audio) given as --audio: its sound track is used."""
    assert clip_render.audio.suffix == ".mpg"
    assert_renders(clip_render.run, clip_render.output, clip_render.audio)


def test_25_ms_of_audio(tmp_path):
    audio = write_wav(tmp_path / "blip.wav", 0.2 * np.sin(np.arange(400) * 2 * np.pi * 200 / 16000))
    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / "blip.mp4"
    run = animate(PHOTO, audio, output, "--size", 128, "--quiet")
    assert_renders(run, output, audio)


def write_m4a(path: Path, wav: Path) -> Path:
    """``wav`` (16-bit mono) as AAC in an .m4a, as phones record voice memos."""
    import wave

    import av

    with wave.open(str(wav)) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), np.int16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, start:start + 1024].copy(), format="s16", layout="mono")
            frame.rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_m4a_audio(tmp_path):
    m4a = write_m4a(tmp_path / "memo.m4a", SPEECH)
    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / "speech.mp4"
    assert_renders(animate(PHOTO, m4a, output, "--size", 128, "--quiet"), output, m4a)
    assert assert_plays(output, m4a).audio_seconds > 7.7  # all 7.75 s of the memo (AAC adds its priming)


def test_phone_photo_with_exif_orientation_stays_upright(tmp_path):
    """A JPEG stored sideways with EXIF orientation 6 (as phones write them) is animated the way viewers show it."""
    Image = pytest.importorskip("PIL.Image")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.open(BIG_SOURCE).transpose(Image.Transpose.ROTATE_90).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / "phone.mp4"
    assert_renders(animate(tmp_path / "phone.jpg", SOUND, output, "--size", 128, "--quiet"), output, SOUND)
    from talkinghead.face.landmarks import FaceMesh
    from talkinghead.face.regions import CHIN, FOREHEAD, eye_distance
    from talkinghead.io.video import read_frames

    with FaceMesh() as mesh:
        face = mesh.detect(next(iter(read_frames(output))))[0].landmarks
    down = face[CHIN, :2] - face[FOREHEAD, :2]
    assert down[1] > 1.5 * eye_distance(face) and abs(down[0]) < 0.5 * down[1], f"forehead-to-chin {down}: not upright"


@pytest.fixture(scope="module")
def big_render(tmp_path_factory):
    """A 4000x4000 photo (upscaled portrait), animated quietly."""
    folder = tmp_path_factory.mktemp("big")
    image = save_rgb(folder / "big.jpg", cv2.resize(read_rgb(BIG_SOURCE), (4000, 4000), interpolation=cv2.INTER_CUBIC),
                     (cv2.IMWRITE_JPEG_QUALITY, 90))
    (folder / "out").mkdir()
    output = folder / "out" / "big.mp4"
    return animate(image, SOUND, output, "--size", 128, "--quiet"), output


def test_4000px_image(big_render):
    run, output = big_render
    assert_renders(run, output, SOUND)


def test_4000px_image_quiet_means_quiet(big_render):
    run, _ = big_render
    assert run.stderr == "", f"--quiet printed:\n{run.stderr}"


# two faces ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory) -> Path:
    """A colour portrait (larger, left) beside a black-and-white one (smaller, right)."""
    colour = cv2.resize(read_rgb(PORTRAIT)[60:460, 56:456], (384, 384), interpolation=cv2.INTER_AREA)  # face 197 px
    head = cv2.resize(read_rgb(COLLINS)[10:230, 85:305], (256, 256), interpolation=cv2.INTER_AREA)  # face 124 px
    grey = cv2.cvtColor(cv2.cvtColor(head, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    canvas = np.full((384, 384 + 64 + 256, 3), 255, np.uint8)
    canvas[:, :384] = colour
    canvas[64:320, 384 + 64:] = grey
    return save_rgb(tmp_path_factory.mktemp("two") / "two_faces.png", canvas)


def colourfulness(video: Path) -> float:
    """Mean channel spread of the first frame: about 0 for a black-and-white face."""
    from talkinghead.io.video import read_frames

    frame = next(iter(read_frames(video))).astype(float)
    return float(np.mean(frame.max(-1) - frame.min(-1)))


def test_two_faces_animates_the_largest_or_the_chosen_one(two_faces, tmp_path):
    (tmp_path / "largest").mkdir()
    (tmp_path / "second").mkdir()
    largest, second = tmp_path / "largest" / "video.mp4", tmp_path / "second" / "video.mp4"
    assert_renders(animate(two_faces, SOUND, largest, "--size", 128, "--quiet"), largest, SOUND)
    run = animate(two_faces, SOUND, second, "--size", 128, "--quiet", "--face-index", 1)
    assert_renders(run, second, SOUND)
    assert colourfulness(largest) > 8, "the default should animate the larger, colour face"
    assert colourfulness(second) < 3, "--face-index 1 should animate the smaller, black-and-white face"


def test_face_index_beyond_the_faces_found(two_faces, folders):
    _, out = folders
    line = assert_fails_cleanly(animate(two_faces, SOUND, out / "video.mp4", "--face-index", 5), two_faces, out)
    assert "face" in line


# talkinghead motion ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing_audio", "text_as_audio", "not_json_or_csv", "no_such_folder"])
def test_motion_command_bad_input(case, folders):
    inputs, out = folders
    audio, output = SOUND, out / "motion.json"
    if case == "missing_audio":
        audio = inputs / "nothing.wav"
    elif case == "text_as_audio":
        audio = BAD_AUDIO["text_as_audio"](inputs)
    elif case == "not_json_or_csv":
        output = out / "motion.txt"
    else:
        output = out / "no" / "motion.json"
    culprit = output if case in ("not_json_or_csv", "no_such_folder") else audio
    assert_fails_cleanly(run_cli("motion", "--audio", audio, "-o", output), culprit, out)
