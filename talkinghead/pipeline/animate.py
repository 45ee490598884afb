"""animate: portrait + speech -> Motion -> renderer -> mp4."""

from __future__ import annotations

import time
from pathlib import Path

from talkinghead.audio.decode import load_audio
from talkinghead.errors import InputError
from talkinghead.face.portrait import Portrait, load_portrait, portrait_of
from talkinghead.motion.motion import Motion
from talkinghead.pipeline.generate import motion_from_audio
from talkinghead.pipeline.options import AnimateConfig, StreamConfig
from talkinghead.pipeline.output import check_output, write_mp4
from talkinghead.progress import Progress
from talkinghead.render import registry as renderers


def animate(image: str | Path | None, audio: str | Path, output: str | Path, config: AnimateConfig | None = None,
            motion: Motion | None = None, progress: Progress | None = None) -> dict:
    """Portrait image + speech -> talking-head mp4 at ``output``; returns a summary dict.

    ``motion`` replaces the motion computed from the audio (e.g. an edited ``talkinghead motion`` file). Without an
    ``image`` the portrait is the still of the person kept in ``config.avatar``.
    """
    config = config or AnimateConfig()
    check_output(output)
    need_portrait(image, config.avatar)
    renderer = renderers.create(config.renderer_name, Portrait, avatar=config.avatar)
    start = time.perf_counter()
    speech = load_audio(audio)
    portrait = portrait_for(image, config)
    if motion is None:
        motion = motion_from_audio(speech, config)
    frames = renderer.render(portrait, motion)
    if progress:
        frames = progress(frames, motion.n_frames)
    written = write_mp4(output, frames, portrait.size, motion.fps, config.crf, audio, motion.duration)
    wall = time.perf_counter() - start
    return {"output": str(output), "frames": written, "fps": motion.fps, "seconds": round(written / motion.fps, 3),
            "audio_seconds": round(speech.duration, 3), "width": portrait.size[0], "height": portrait.size[1],
            "wall_seconds": round(wall, 3), "real_time_factor": round(wall / max(speech.duration, 1e-9), 3)}


def need_portrait(image: str | Path | None, avatar: str | Path | None) -> None:
    """InputError when there is neither a portrait nor an avatar whose still could be animated."""
    if image is None and avatar is None:
        raise InputError(None, "give a portrait (--image), or an avatar (--avatar) whose still is animated")


def portrait_for(image: str | Path | None, config: AnimateConfig | StreamConfig) -> Portrait:
    """The portrait to animate, framed as ``config`` asks: ``image``, or the still of the person in
    ``config.avatar``."""
    need_portrait(image, config.avatar)
    if image is not None:
        return load_portrait(image, config.size, config.face_index, config.full_frame)
    from talkinghead.render.avatar import Avatar  # imports torch: only with an avatar

    still = Avatar.load(config.avatar).reference
    return portrait_of(still, config.size, config.face_index, config.full_frame, config.avatar)
