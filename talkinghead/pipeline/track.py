"""track: a real video's face -> Motion, every channel measured on its landmarks."""

from __future__ import annotations

from pathlib import Path

from talkinghead.errors import InputError
from talkinghead.face.track import track_frames
from talkinghead.io.video import read_frames
from talkinghead.motion.motion import Motion
from talkinghead.motion.tracked import motion_from_track
from talkinghead.pipeline.options import TrackConfig
from talkinghead.pipeline.output import check_video
from talkinghead.progress import Progress


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
