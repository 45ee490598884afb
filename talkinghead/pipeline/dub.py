"""dub: video + new speech -> the video's own frames, the mouth region redrawn to follow the speech -> mp4.

Pass one tracks every frame and plans the dub (shots, reference frames, blend weights); pass two decodes the frames
again in output order while the renderer redraws each mouth.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.errors import InputError
from talkinghead.face.track import FaceTrack, Tracker
from talkinghead.io.playback import FrameReader, frame_order
from talkinghead.motion.motion import Motion
from talkinghead.pipeline.generate import generate_motion
from talkinghead.pipeline.options import DubConfig
from talkinghead.pipeline.output import check_output, check_video, write_mp4
from talkinghead.progress import Progress
from talkinghead.render import registry as renderers
from talkinghead.render.dub import DubPlan, DubRenderConfig, DubSource
from talkinghead.render.stats import RenderStats


def dub(video: str | Path, audio: str | Path, output: str | Path, config: DubConfig | None = None,
        progress: Callable[[str], Progress | None] | None = None, motion: Motion | None = None) -> dict:
    """Video of a person + new speech -> the same video with the mouth following the speech; returns a summary.

    ``progress(stage)`` may give a progress wrapper for each stage: "track" (pass one), then "dub". ``motion``
    replaces the lips computed from the speech (e.g. ``talkinghead track`` of another performance), at the video's fps.
    """
    config = config or DubConfig()
    check_output(output)
    renderer = renderers.create(config.renderer_name, DubSource, avatar=config.avatar)
    start = time.perf_counter()
    fps, width, height, duration = check_video(video)
    speech = load_audio(audio)
    reader = FrameReader(video)
    track = track_pass(reader, fps, duration, config.face_index, progress("track") if progress else None)
    tracked = time.perf_counter()
    if not track.found.any():
        raise InputError(video, "no face found in any frame")
    render_config = DubRenderConfig(work_size=config.work_size, mouth_scale=config.mouth_scale)
    plan = DubPlan.from_track(track.landmarks, fps, render_config)
    lips = motion.at_fps(fps) if motion is not None else generate_motion(AudioFeatures(speech, fps, config.transcript),
                                                                          config)
    n_out = lips.n_frames if config.trim or lips.n_frames > reader.n_frames else reader.n_frames
    order = frame_order(reader.n_frames, n_out, "loop" if config.loop else "pingpong")
    stats = RenderStats()
    frames = renderer.render(DubSource(reader, plan, order, render_config), lips.resized(n_out), stats)
    wrap = progress("dub") if progress else None
    if wrap:
        frames = wrap(frames, n_out)
    size = width // 2 * 2, height // 2 * 2
    write_mp4(output, frames, size, fps, config.crf, audio, n_out / fps, pad=True)
    wall = time.perf_counter() - start
    return {"output": str(output), "frames": n_out, "fps": fps, "seconds": round(n_out / fps, 3),
            "audio_seconds": round(speech.duration, 3), "source_frames": reader.n_frames, "width": size[0],
            "height": size[1], "shots": len(plan.references),
            "dubbed_share": round(float((plan.weight[order] > 0).mean()), 3), **stats.metrics(),
            "track_seconds": round(tracked - start, 3), "wall_seconds": round(wall, 3),
            "real_time_factor": round(wall * fps / n_out, 3)}


def track_pass(reader: FrameReader, fps: float, duration: float, face_index: int,
               progress: Progress | None) -> FaceTrack:
    """Pass one over the source video: every frame tracked, every timestamp recorded."""
    frames = reader.scan()
    if progress:
        frames = progress(frames, int(round(fps * duration)))
    with Tracker(fps, face_index, follow=True) as tracker:
        for rgb in frames:
            tracker.add(rgb)
    return tracker.track()
