"""animate(): portrait + speech -> Motion -> warp renderer -> mp4; dub(): video + speech -> lips -> dub renderer -> mp4;
track_motion(): a real video -> Motion.

The CLI and the Python API call these.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from talkinghead.audio.decode import Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.config import option
from talkinghead.errors import InputError
from talkinghead.face.portrait import Portrait, load_portrait
from talkinghead.face.track import FaceTrack, Tracker, track_frames
from talkinghead.io.playback import FrameReader, frame_order
from talkinghead.io.video import Mp4Writer, atomic_output, read_frames, source_audio, video_info
from talkinghead.motion import registry
from talkinghead.motion.motion import Motion
from talkinghead.motion.tracked import motion_from_track
from talkinghead.render.dub import DubPlan, DubRenderConfig, DubRenderer
from talkinghead.render.warp import WarpRenderer

Progress = Callable[[Iterable[np.ndarray], int], Iterable[np.ndarray]]


LIPS_HELP = "lip motion generator: phonetic (recognised English phones) or learned (from the sound, any language)"


@dataclass
class MotionConfig:
    """How speech becomes motion."""

    fps: float = option(25.0, "video frames per second")
    seed: int = option(0, "random seed of blinks, head motion and gaze (same seed, same video)")
    transcript: str | None = option(None, "what is said, for forced alignment of the phones (English)", metavar="TEXT")
    lips: str = option("phonetic", LIPS_HELP)
    expression_model: str = option("natural", "blink and brow generator: natural (rules) or learned (sampled "
                                   "recurrent network)")
    pose: str = option("prosody", "head motion generator: prosody (rules), diffusion or vae (learned)")
    lips_weights: str | None = option(None, "checkpoint for --lips learned (default: the shipped one)",
                                      metavar="FILE")
    expression_weights: str | None = option(None, "checkpoint for --expression-model learned (default: shipped)",
                                            metavar="FILE")
    pose_weights: str | None = option(None, "checkpoint for --pose diffusion or vae (default: the shipped one)",
                                      metavar="FILE")
    gaze: str = option("camera", "gaze: 'camera' holds eye contact, 'free' glances away now and then")
    head_motion: float = option(1.0, "head motion strength (0 = still head)")
    blink_rate: float = option(17.0, "blinks per minute")
    expression: float = option(1.0, "scale of brow and lip expressiveness")

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class AnimateConfig(MotionConfig):
    """How motion becomes video."""

    size: int = option(512, "side of the face-centred square output, in pixels")
    full_frame: bool = option(False, "keep the whole picture instead of a face-centred square crop")
    face_index: int = option(0, "which face to animate when there are several (0 = largest)")
    crf: int = option(20, "H.264 quality (lower is better, 18-28 typical)")


@dataclass
class DubConfig:
    """How a video's mouth is re-synced to new speech."""

    transcript: str | None = option(None, "what is said, for forced alignment of the phones (English)", metavar="TEXT")
    lips: str = option("phonetic", LIPS_HELP)
    lips_weights: str | None = option(None, "checkpoint for --lips learned (default: the shipped one)",
                                      metavar="FILE")
    mouth_scale: float = option(1.0, "how wide the mouth opens (1 = as animate opens it)")
    trim: bool = option(False, "end the video with the speech when the speech is shorter")
    loop: bool = option(False, "cover longer speech by looping the video instead of playing it back and forth")
    face_index: int = option(0, "which face to dub when there are several (0 = largest)")
    work_size: int = option(512, "the face region is processed at most this many pixels across")
    crf: int = option(20, "H.264 quality (lower is better, 18-28 typical)")

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class TrackConfig:
    """Which face of a video is tracked into a Motion."""

    face_index: int = option(0, "which face to track when there are several (0 = largest)")

    def __post_init__(self) -> None:
        check_ranges(self)


RANGES = {"fps": (1, 120), "head_motion": (0, 5), "blink_rate": (0, 120), "expression": (0, 5),
          "size": (64, 4096), "face_index": (0, 99), "crf": (0, 51), "mouth_scale": (0, 3), "work_size": (64, 2048)}
MAX_VIDEO_SIDE = 4096


def check_ranges(config: object) -> None:
    """Raise InputError naming the option whose value is outside :data:`RANGES`."""
    for name, (low, high) in RANGES.items():
        value = getattr(config, name, None)
        if value is not None and not low <= value <= high:
            raise InputError(None, f"--{name.replace('_', '-')} {value} is outside {low}..{high}")


# generator kind -> config field naming it; generator setting -> config field holding it; kind -> its weights field
GENERATOR_FIELDS = {"lips": "lips", "expression": "expression_model", "pose": "pose", "gaze": "gaze"}
SETTING_FIELDS = {"seed": "seed", "strength": "head_motion", "blink_rate": "blink_rate", "expression": "expression"}
WEIGHTS_FIELDS = {"lips": "lips_weights", "expression": "expression_weights", "pose": "pose_weights"}


def generate_motion(features: AudioFeatures, config: object, kinds: tuple[str, ...] = registry.KINDS) -> Motion:
    """Run the generators of ``kinds`` named by ``config`` and merge their channels."""
    settings = {k: getattr(config, f) for k, f in SETTING_FIELDS.items() if hasattr(config, f)}
    names = {kind: getattr(config, GENERATOR_FIELDS[kind]) for kind in kinds}
    channels: dict[str, np.ndarray] = {}
    meta: dict = {}
    for kind, name in names.items():
        generator_cls = registry.generator_class(kind, name)
        known = {f.name for f in dataclasses.fields(generator_cls.Config)}
        chosen = {k: v for k, v in settings.items() if k in known}
        weights = getattr(config, WEIGHTS_FIELDS.get(kind, ""), None)
        if weights is not None:
            if "weights" not in known:
                raise InputError(weights, f"the {kind} generator {name!r} takes no weights")
            chosen["weights"] = weights
        generator = generator_cls(generator_cls.Config(**chosen))
        part = generator.generate(features)
        channels.update(part.channels)
        meta.update(part.meta)
    meta["generators"] = names
    return Motion(features.fps, channels, meta)


def motion_from_audio(audio: str | Path | Audio, config: MotionConfig | None = None) -> Motion:
    """Speech file (or decoded Audio) -> Motion."""
    config = config or MotionConfig()
    audio = audio if isinstance(audio, Audio) else load_audio(audio)
    return generate_motion(AudioFeatures(audio, config.fps, config.transcript), config)


def check_output(output: str | Path) -> None:
    """Refuse an output that is not an .mp4 or whose folder is missing, before any work is done."""
    output = Path(output)
    if output.suffix.lower() != ".mp4":
        raise InputError(output, "output must be an .mp4 file")
    if not output.parent.is_dir():
        raise InputError(output, "output folder does not exist")


def render_video(portrait: Portrait, motion: Motion, audio_path: str | Path, output: str | Path,
                 crf: int = 20, progress: Progress | None = None) -> int:
    """Render ``motion`` on ``portrait`` and write it with the speech to ``output`` atomically; returns frames."""
    check_output(output)
    chunks, rate, channels = source_audio(audio_path)
    frames = WarpRenderer().render(portrait, motion)
    if progress:
        frames = progress(frames, motion.n_frames)
    w, h = portrait.size
    with atomic_output(output) as tmp:
        with Mp4Writer(tmp, w, h, motion.fps, crf=crf, audio_rate=rate, audio_channels=channels) as writer:
            for frame in frames:
                writer.write(frame)
            writer.add_audio(chunks, max_seconds=motion.duration)
        return writer.frames


def animate(image: str | Path, audio: str | Path, output: str | Path, config: AnimateConfig | None = None,
            motion: Motion | None = None, progress: Progress | None = None) -> dict:
    """Portrait image + speech -> talking-head mp4 at ``output``; returns a summary dict.

    ``motion`` replaces the motion computed from the audio (e.g. an edited ``talkinghead motion`` file).
    """
    config = config or AnimateConfig()
    check_output(output)
    start = time.perf_counter()
    speech = load_audio(audio)
    portrait = load_portrait(image, config.size, config.face_index, config.full_frame)
    if motion is None:
        motion = motion_from_audio(speech, config)
    frames = render_video(portrait, motion, audio, output, config.crf, progress)
    wall = time.perf_counter() - start
    return {"output": str(output), "frames": frames, "fps": motion.fps, "seconds": round(frames / motion.fps, 3),
            "audio_seconds": round(speech.duration, 3), "width": portrait.size[0], "height": portrait.size[1],
            "wall_seconds": round(wall, 3), "real_time_factor": round(wall / max(speech.duration, 1e-9), 3)}


def check_video(video: str | Path) -> tuple[float, int, int, float]:
    """fps, width, height and duration of a video; InputError when it is not one, or is too large or too small."""
    fps, width, height, duration = video_info(video)
    if max(width, height) > MAX_VIDEO_SIDE:
        raise InputError(video, f"video too large ({width}x{height}); at most {MAX_VIDEO_SIDE} px on a side")
    if min(width, height) < 64:
        raise InputError(video, f"video too small ({width}x{height}); need at least 64x64")
    return fps, width, height, duration


def track_motion(video: str | Path, config: TrackConfig | None = None, progress: Progress | None = None) -> Motion:
    """A real video's face -> Motion at the video's fps, every channel measured (:mod:`talkinghead.motion.tracked`)."""
    config = config or TrackConfig()
    fps, _, _, duration = check_video(video)
    frames = read_frames(video)
    if progress:
        frames = progress(frames, int(round(fps * duration)))
    track = track_frames(frames, fps, config.face_index, follow=True)
    if not track.found.any():
        raise InputError(video, "no face found in any frame")
    return motion_from_track(track, str(video))


def _track(reader: FrameReader, fps: float, duration: float, face_index: int, progress: Progress | None) -> FaceTrack:
    """Pass one over the source video: every frame tracked, every timestamp recorded."""
    frames = reader.scan()
    if progress:
        frames = progress(frames, int(round(fps * duration)))
    with Tracker(fps, face_index, follow=True) as tracker:
        for rgb in frames:
            tracker.add(rgb)
    return tracker.track()


def dub(video: str | Path, audio: str | Path, output: str | Path, config: DubConfig | None = None,
        progress: Callable[[str], Progress | None] | None = None) -> dict:
    """Video of a person + new speech -> the same video with the mouth following the speech; returns a summary.

    ``progress(stage)`` may give a progress wrapper for each stage: "track" (pass one), then "dub".
    """
    config = config or DubConfig()
    check_output(output)
    start = time.perf_counter()
    fps, width, height, duration = check_video(video)
    speech = load_audio(audio)
    reader = FrameReader(video)
    track = _track(reader, fps, duration, config.face_index, progress("track") if progress else None)
    tracked = time.perf_counter()
    if not track.found.any():
        raise InputError(video, "no face found in any frame")
    render_config = DubRenderConfig(work_size=config.work_size, mouth_scale=config.mouth_scale)
    plan = DubPlan.from_track(track.landmarks, fps, render_config)
    lips = generate_motion(AudioFeatures(speech, fps, config.transcript), config, ("lips",))
    n_out = lips.n_frames if config.trim or lips.n_frames > reader.n_frames else reader.n_frames
    order = frame_order(reader.n_frames, n_out, "loop" if config.loop else "pingpong")
    renderer = DubRenderer(render_config)
    frames = renderer.render(plan, reader, lips.resized(n_out), order)
    wrap = progress("dub") if progress else None
    if wrap:
        frames = wrap(frames, n_out)
    w, h = width // 2 * 2, height // 2 * 2
    chunks, rate, channels = source_audio(audio)
    with atomic_output(output) as tmp:
        with Mp4Writer(tmp, w, h, fps, crf=config.crf, audio_rate=rate, audio_channels=channels) as writer:
            for frame in frames:
                writer.write(frame[:h, :w])
            writer.add_audio(chunks, max_seconds=n_out / fps, pad=True)
    wall = time.perf_counter() - start
    return {"output": str(output), "frames": n_out, "fps": fps, "seconds": round(n_out / fps, 3),
            "audio_seconds": round(speech.duration, 3), "source_frames": reader.n_frames, "width": w, "height": h,
            "shots": len(plan.references), "dubbed_share": round(float((plan.weight[order] > 0).mean()), 3),
            **renderer.flicker.metrics(),
            "track_seconds": round(tracked - start, 3), "wall_seconds": round(wall, 3),
            "real_time_factor": round(wall * fps / n_out, 3)}
