"""Shared fixtures of the end-to-end tests: shipped and real media, a CLI runner that captures what a user sees,
shared renders.

Most tests run on media that ship with the repository (``examples/`` and ``tests/media/``, see its README): two 3 s
clips in the manner of the GRID corpus, rendered by ``scripts/make_test_media.py`` from public-domain portraits and
synthetic speech, whose motion is known exactly. A few tests measure behaviour on real footage; they read the
research media in ``../shared/data`` (not part of the repository) and skip cleanly without it.

Renders that several tests inspect are made once per session (3 s clip, 6 s of silence, 256 px) so that the
whole end-to-end suite stays within a few minutes on two CPU cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MEDIA = Path(__file__).resolve().parent / "media"
EXAMPLES = ROOT / "examples"
PORTRAIT = EXAMPLES / "portrait.jpg"  # Grace Hopper: colour photo, 512x600, glasses
SPEECH = EXAMPLES / "speech.wav"  # 7.75 s of synthetic speech; its text in speech.txt
COLLINS = MEDIA / "collins.jpg"  # Eileen Collins: colour photo, 400x320, no glasses

DATA = ROOT / ".." / "shared" / "data"  # real research media, absent from a fresh clone
GRID_CLIP = DATA / "lipnet-grid" / "bbaf2n.mpg"
GRID_TRANSCRIPT = "bin blue at f two now"  # GRID names encode the sentence: b-b-a-f-2-n
FPS = 25.0
SIZE = 256
VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
BILABIALS = {"M", "B", "P"}


class Clip:
    """A shipped talking clip (360x288, 25 fps, 3 s, AAC speech) and the Motion it was rendered from."""

    def __init__(self, video: Path) -> None:
        self.video = video

    @cached_property
    def motion(self):  # noqa: ANN201 - talkinghead Motion
        """The Motion the clip was rendered from: what its face really does, frame by frame."""
        from talkinghead.motion.motion import Motion

        return Motion.load(self.video.with_suffix(".motion.json"))

    @property
    def text(self) -> str:
        return self.motion.meta["text"]

    @property
    def phones(self) -> list:
        """The sentence's phones as its lips were built from (forced alignment to the known words)."""
        return self.motion.meta["phones"]

    @property
    def blinks(self) -> list[tuple[int, int]]:
        """[start, end) frames of each blink."""
        return [tuple(b) for b in self.motion.meta["blinks"]]

    @property
    def speech(self) -> tuple[float, float]:
        """Seconds where the sentence starts and ends."""
        return tuple(self.motion.meta["speech"])

    n_frames, width, height = 75, 360, 288


CLIP = Clip(MEDIA / "hopper_bin_blue.mp4")  # Grace Hopper, "bin blue at f two now": stands in for GRID's bbaf2n
OTHER_CLIP = Clip(MEDIA / "collins_lay_red.mp4")  # Eileen Collins, "lay red with p nine again", another voice


def need(*paths: Path) -> None:
    """Skip the test when the shared real media are not available."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"real media not available ({missing[0]})")


@dataclass
class CliRun:
    """What a user sees from one ``talkinghead`` command: exit code, stdout and stderr (file-descriptor level)."""

    code: int
    stdout: str
    stderr: str
    argv: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict:
        """The ``--json`` summary: the one line printed on stdout."""
        lines = self.stdout.strip().splitlines()
        assert len(lines) == 1, f"expected one JSON line on stdout, got {self.stdout!r}"
        return json.loads(lines[0])


def run_cli(*argv: object) -> CliRun:
    """Run ``talkinghead.cli.main(argv)`` in-process, capturing Python's and the C libraries' stdout and stderr."""
    from talkinghead.__main__ import main

    args = [str(a) for a in argv]
    py_out, py_err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile() as fd_out, tempfile.TemporaryFile() as fd_err:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(fd_out.fileno(), 1)
        os.dup2(fd_err.fileno(), 2)
        try:
            with contextlib.redirect_stdout(py_out), contextlib.redirect_stderr(py_err):
                code = main(args)
        finally:
            for stream in (sys.__stdout__, sys.__stderr__):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        fd_out.seek(0)
        fd_err.seek(0)
        stdout = py_out.getvalue() + fd_out.read().decode(errors="replace")
        stderr = py_err.getvalue() + fd_err.read().decode(errors="replace")
    return CliRun(code, stdout, stderr, args)


def visible_lines(text: str) -> list[str]:
    """The lines a terminal shows for ``text``: each carriage return starts its line over, cleared lines vanish."""
    shown = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return [line for line in shown if line.strip()]


def assert_fails_cleanly(run: CliRun, culprit: Path, out: Path) -> str:
    """Non-zero exit, one stderr line naming ``culprit``, no traceback, an output folder left empty."""
    assert run.code != 0
    lines = visible_lines(run.stderr)
    assert len(lines) == 1, f"expected one line on stderr, got:\n{run.stderr}"
    assert lines[0].startswith("talkinghead: error:"), lines[0]
    assert str(culprit) in lines[0], f"{lines[0]!r} does not name {culprit}"
    assert "Traceback" not in run.stderr
    assert not out.exists() or sorted(out.iterdir()) == [], f"left behind: {sorted(out.iterdir())}"
    return lines[0]


def free_port() -> int:
    """A TCP port nothing listens on now, for a server under test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_sigterm_leaves_nothing(argv: list[str], out: Path, settle_s: float = 0.0) -> None:
    """``talkinghead *argv`` stopped with SIGTERM once its temporary output appears in ``out`` (and ``settle_s``
    later): exit 143, one line, no output and no hidden temporary file."""
    proc = subprocess.Popen([sys.executable, "-m", "talkinghead", *argv], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while not any(out.iterdir()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # the temporary file appears when writing starts
    time.sleep(settle_s)
    assert proc.poll() is None, "finished before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip().splitlines() == ["talkinghead: terminated"]
    assert list(out.iterdir()) == []


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """16-bit mono wav of float samples in [-1, 1]."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def save_rgb(path: Path, rgb: np.ndarray, flags: tuple[int, ...] = ()) -> Path:
    """Write an RGB uint8 picture (png, jpg...) with OpenCV (``flags``: cv2.imwrite parameters)."""
    import cv2

    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), list(flags))
    return path


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@dataclass
class Mp4Info:
    """What PyAV sees in an output file."""

    video_codec: str
    audio_codec: str | None
    fps: float
    frames: int  # decoded video frames
    video_seconds: float
    audio_seconds: float | None
    width: int
    height: int


def probe(path: Path) -> Mp4Info:
    """Codecs, decoded frame count and stream durations of an mp4 (durations from the container's timing)."""
    import av

    with av.open(str(path)) as container:
        v = container.streams.video[0]
        a = container.streams.audio[0] if container.streams.audio else None
        frames = sum(1 for _ in container.decode(v))
        return Mp4Info(v.codec_context.name, a.codec_context.name if a else None, float(v.average_rate),
                       frames, float(v.duration * v.time_base),
                       float(a.duration * a.time_base) if a is not None and a.duration else None,
                       v.codec_context.width, v.codec_context.height)


def audio_seconds(path: Path) -> float:
    """Length of the speech the user gave, as talkinghead decodes it."""
    from talkinghead.audio.decode import load_audio

    return load_audio(path).duration


def assert_plays(video: Path, speech: Path, fps: float = FPS) -> Mp4Info:
    """``video`` is an H.264 + AAC mp4 whose picture and sound both last as long as ``speech``, within one frame."""
    assert video.exists(), f"no output at {video}"
    info = probe(video)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.fps == pytest.approx(fps)
    expected = audio_seconds(speech)
    assert info.frames == round(info.video_seconds * fps)
    assert abs(info.frames / fps - expected) <= 1 / fps + 1e-6, (info.frames, expected)
    assert abs(info.audio_seconds - expected) <= 1 / fps + 1e-6, (info.audio_seconds, expected)
    return info


def frames_of_phones(phones: list, names: set[str], fps: float, n_frames: int) -> list[np.ndarray]:
    """Per phone of ``names``: the video frames centred inside it (the frame holding its middle if none)."""
    out = []
    for start, end, phone in phones:
        if phone in names:
            inside = np.arange(np.ceil(start * fps - 0.5), np.ceil(end * fps - 0.5)).astype(int)
            out.append(np.clip(inside if len(inside) else [int((start + end) / 2 * fps)], 0, n_frames - 1))
    return out


def portrait_landmarks(image: Path, size: int = SIZE) -> np.ndarray:
    """FaceMesh landmarks re-measured on the portrait exactly as talkinghead frames it (the input of the render)."""
    from talkinghead.face.landmarks import FaceMesh
    from talkinghead.face.portrait import load_portrait

    portrait = load_portrait(image, size)
    with FaceMesh() as mesh:
        return mesh.detect(portrait.image)[0].landmarks


@dataclass
class Render:
    """One ``talkinghead animate`` run and its inputs."""

    image: Path
    audio: Path
    output: Path
    run: CliRun
    elapsed: float = 0.0  # seconds the command took, timed around it


# session-wide inputs and renders -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """A folder for inputs the tests make (portraits cut from videos, synthetic audio)."""
    return tmp_path_factory.mktemp("media")


def transcode_to_mpg(source: Path, output: Path) -> Path:
    """``source`` as GRID distributes its clips: MPEG-1 video and MP2 sound (44.1 kHz stereo) in an MPEG-PS file."""
    import av

    with av.open(str(source)) as inp, av.open(str(output), "w", format="mpeg") as out:
        vin = inp.streams.video[0]
        video = out.add_stream("mpeg1video", rate=int(round(float(vin.average_rate))))
        video.width, video.height, video.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        video.bit_rate = 1_500_000
        sound = out.add_stream("mp2", rate=44100, layout="stereo")  # every stream before the first packet
        sound.bit_rate = 128_000
        for frame in inp.decode(vin):
            rgb = frame.to_ndarray(format="rgb24")
            for packet in video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        inp.seek(0)
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=44100, frame_size=1152)
        for frame in [*inp.decode(inp.streams.audio[0]), None]:
            if frame is not None:
                frame.pts = None
            for chunk in resampler.resample(frame):
                for packet in sound.encode(chunk):
                    out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    return output


@pytest.fixture(scope="session")
def clip_mpg(media_dir) -> Path:
    """The shipped clip as an MPEG-1/MP2 .mpg, the container and codecs of the GRID corpus."""
    return transcode_to_mpg(CLIP.video, media_dir / "hopper_bin_blue.mpg")


def first_frame(video: Path, png: Path) -> Path:
    from talkinghead.io.video import read_frames

    return save_rgb(png, next(iter(read_frames(video))))


@pytest.fixture(scope="session")
def clip_portrait(media_dir) -> Path:
    """The shipped clip's first video frame, saved as a png portrait."""
    return first_frame(CLIP.video, media_dir / "clip_first_frame.png")


def render_with_own_speech(output: Path, portrait: Path, speech: Path) -> Render:
    start = time.perf_counter()
    run = run_cli("animate", "--image", portrait, "--audio", speech, "-o", output,
                  "--size", SIZE, "--seed", 3, "--json", "--quiet")
    elapsed = time.perf_counter() - start
    assert run.code == 0, run.stderr
    return Render(portrait, speech, output, run, elapsed)


@pytest.fixture(scope="session")
def clip_render(tmp_path_factory, clip_portrait, clip_mpg) -> Render:
    """The clip's first frame animated with the clip's own speech (its .mpg given as audio) by the CLI."""
    return render_with_own_speech(tmp_path_factory.mktemp("clip") / "clip.mp4", clip_portrait, clip_mpg)


@pytest.fixture(scope="session")
def clip_render_track(clip_render):
    """FaceMesh track of the rendered video."""
    from talkinghead.face.track import track_video

    return track_video(clip_render.output)


@pytest.fixture(scope="session")
def clip_track():
    """FaceMesh track of the shipped clip itself."""
    from talkinghead.face.track import track_video

    return track_video(CLIP.video)


@pytest.fixture(scope="session")
def grid_portrait(media_dir) -> Path:
    """The GRID speaker's first video frame, saved as a png portrait (real media)."""
    need(GRID_CLIP)
    return first_frame(GRID_CLIP, media_dir / "grid_first_frame.png")


@pytest.fixture(scope="session")
def grid_render(tmp_path_factory, grid_portrait) -> Render:
    """The GRID speaker's first frame animated with the clip's own speech (the .mpg given as audio) by the CLI."""
    return render_with_own_speech(tmp_path_factory.mktemp("grid") / "bbaf2n.mp4", grid_portrait, GRID_CLIP)


@pytest.fixture(scope="session")
def grid_track(grid_render):
    """FaceMesh track of the rendered GRID video."""
    from talkinghead.face.track import track_video

    return track_video(grid_render.output)


@pytest.fixture(scope="session")
def real_track():
    """FaceMesh track of the real GRID video."""
    need(GRID_CLIP)
    from talkinghead.face.track import track_video

    return track_video(GRID_CLIP)


@pytest.fixture(scope="session")
def silence_wav(media_dir) -> Path:
    """6 s of digital silence."""
    return write_wav(media_dir / "silence.wav", np.zeros(6 * 16000, np.float32))


@pytest.fixture(scope="session")
def silent_render(tmp_path_factory, silence_wav) -> Render:
    """A photo animated with 6 s of silence."""
    output = tmp_path_factory.mktemp("silent") / "silent.mp4"
    run = run_cli("animate", "--image", COLLINS, "--audio", silence_wav, "-o", output, "--size", SIZE, "--quiet")
    assert run.code == 0, run.stderr
    return Render(COLLINS, silence_wav, output, run)
