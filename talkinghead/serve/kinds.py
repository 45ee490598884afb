"""The kinds of job the server runs, each one CLI command: its input files, its options and its result files.

A job is the command line the CLI would run (``talkinghead animate --image ... -o ...``), with the inputs and
options in the job's folder: the server has no second implementation of anything. Inputs are checked here, before
the job is queued, by the same functions the commands use, so that a bad upload is refused at once.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from talkinghead import config as cfg
from talkinghead.errors import InputError

IMAGE = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
AUDIO = (".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".webm", ".mp4")
VIDEO = (".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".avi")
SUFFIXES = {"image": IMAGE, "audio": AUDIO, "video": VIDEO}


@dataclass(frozen=True)
class Slot:
    """One input file (or several) of a job: the form field, the CLI flag (None: positional) and the media kind."""

    field: str
    flag: str | None
    media: str
    required: bool = True
    many: bool = False
    or_avatar: bool = False  # an avatar (a fit job's id) may stand in for it


def _animate_config() -> type:
    from talkinghead.pipeline import AnimateConfig

    return AnimateConfig


def _dub_config() -> type:
    from talkinghead.pipeline import DubConfig

    return DubConfig


def _motion_config() -> type:
    from talkinghead.pipeline import MotionConfig

    return MotionConfig


def _track_config() -> type:
    from talkinghead.pipeline import TrackConfig

    return TrackConfig


def _fit_config() -> type:
    from talkinghead.train.fit import FitConfig

    return FitConfig


@dataclass(frozen=True)
class Kind:
    """A job kind: the CLI ``command``, its inputs, its options class and the result files (the first is ``-o``;
    the others follow the flags in ``extra``)."""

    name: str
    slots: tuple[Slot, ...]
    config: Callable[[], type]
    results: tuple[str, ...]
    extra: tuple[str, ...] = ()
    avatar: bool = False  # takes an avatar made by a fit job
    refused: tuple[str, ...] = ("avatar", "config", "resume", "device")  # options a client may not set

    def argv(self, folder: Path, inputs: dict[str, list[Path]]) -> list[str]:
        """The command line of a job whose inputs and ``options.json`` are in ``folder``."""
        argv = [self.name]
        for slot in self.slots:
            for path in inputs.get(slot.field, []):
                argv += [slot.flag, str(path)] if slot.flag else [str(path)]
        argv += ["-o", str(folder / self.results[0])]
        for flag, name in zip(self.extra, self.results[1:]):
            argv += [flag, str(folder / name)]
        return argv + ["--config", str(folder / "options.json"), "--quiet"]

    def options(self, given: dict, avatar: Path | None) -> dict:
        """The client's options checked (names, types and ranges, as the CLI checks them), with the server's own
        path of the avatar; InputError for anything wrong."""
        options = client_options(self.config(), given, self.name, self.refused)
        if avatar is not None:
            options["avatar"] = str(avatar)
        return options

    def check(self, folder: Path, inputs: dict[str, list[Path]], names: dict[Path, str], limits: MediaLimits) -> None:
        """Refuse what the command would refuse (bad options, no face, unreadable or empty audio, too large...) and
        what the server's limits do not allow: InputError with the CLI's one-line message, naming the file as the
        client named it."""
        try:
            config = cfg.build(self.config(), folder / "options.json", {})
        except (InputError, ValueError) as exc:
            raise InputError(None, getattr(exc, "problem", str(exc))) from None
        for slot in self.slots:
            for path in inputs.get(slot.field, []):
                try:
                    CHECKS[slot.media](path, config, limits)
                except InputError as exc:
                    raise InputError(names.get(path, path.name), exc.problem) from None


def client_options(cls: type, given: dict, what: str, refused: tuple[str, ...] = ()) -> dict:
    """A client's options for ``what`` by field name of ``cls``; InputError for a name ``cls`` lacks, one in
    ``refused`` or a file (the server sets those itself)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    options = {str(k).replace("-", "_"): v for k, v in given.items()}
    for name in options:
        if name not in fields:
            raise InputError(None, f"unknown option {name!r} for {what}")
        if name in refused or fields[name].metadata.get("metavar") == "FILE":
            raise InputError(None, f"option {name!r} cannot be set through the server")
    return options


@dataclass(frozen=True)
class MediaLimits:
    """How large and long the server's inputs may be."""

    image_mp: float
    audio_s: float
    video_s: float


def limited_image(path: Path, limits: MediaLimits) -> np.ndarray:
    """The RGB image at ``path``; InputError when it is unreadable or larger than the server takes."""
    from talkinghead.io.image import load_image

    image = load_image(path)
    height, width = image.shape[:2]
    if width * height > limits.image_mp * 1e6:
        raise InputError(path, f"image too large ({width}x{height}); this server takes at most {limits.image_mp:g} "
                         "megapixels")
    return image


def _check_image(path: Path, config: object, limits: MediaLimits) -> None:
    from talkinghead.face.portrait import portrait_of

    image = limited_image(path, limits)
    portrait_of(image, getattr(config, "size", 512), getattr(config, "face_index", 0),
                getattr(config, "full_frame", False), path)


def _check_audio(path: Path, config: object, limits: MediaLimits) -> None:
    from talkinghead.audio.decode import load_audio

    seconds = load_audio(path).duration
    if seconds > limits.audio_s:
        raise InputError(path, f"audio too long ({seconds:.0f} s); this server takes at most {limits.audio_s:g} s")


def _check_video(path: Path, config: object, limits: MediaLimits) -> None:
    from talkinghead.pipeline.output import check_video

    seconds = check_video(path)[3]
    if seconds > limits.video_s:
        raise InputError(path, f"video too long ({seconds:.0f} s); this server takes at most {limits.video_s:g} s")


CHECKS = {"image": _check_image, "audio": _check_audio, "video": _check_video}

KINDS = {k.name: k for k in (
    Kind("animate", (Slot("image", "--image", "image", or_avatar=True), Slot("audio", "--audio", "audio")),
         _animate_config, ("result.mp4",), avatar=True),
    Kind("dub", (Slot("video", "--video", "video"), Slot("audio", "--audio", "audio")), _dub_config, ("result.mp4",),
         avatar=True),
    Kind("motion", (Slot("audio", "--audio", "audio"),), _motion_config,
         ("motion.json", "cues.json", "arkit.csv"), ("--cues", "--arkit")),
    Kind("track", (Slot("video", None, "video"),), _track_config, ("motion.json", "cues.json", "arkit.csv"),
         ("--cues", "--arkit")),
    Kind("fit", (Slot("videos", None, "video", many=True),), _fit_config, ("result.avatar",)),
)}


def write_options(folder: Path, options: dict) -> None:
    """The job's options as the ``--config`` file its command reads."""
    (folder / "options.json").write_text(json.dumps(options))
