"""FaceTrack: one face's landmarks, box, head pose and irises over the frames of an image or video."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from talkinghead.face import regions
from talkinghead.face.landmarks import FaceMesh, silenced_stderr
from talkinghead.face.pose import head_pose


@dataclass
class FaceTrack:
    """Per frame: 478x3 landmarks (pixels), box, 6-DoF pose, iris centres and confidence.

    Frames where the face was lost hold NaN landmarks and confidence 0.
    """

    landmarks: np.ndarray  # (T, 478, 3)
    confidence: np.ndarray  # (T,)
    fps: float = 25.0

    @property
    def n_frames(self) -> int:
        return len(self.landmarks)

    @property
    def found(self) -> np.ndarray:
        """True where a face was found."""
        return self.confidence > 0

    @property
    def boxes(self) -> np.ndarray:
        """(T, 4) x0, y0, x1, y1."""
        xy = self.landmarks[..., :2]
        return np.concatenate([xy.min(1), xy.max(1)], axis=1)

    @property
    def pose(self) -> np.ndarray:
        """(T, 6): yaw, pitch, roll (degrees), centre x, centre y (pixels), scale (eye distance, pixels)."""
        return np.stack([head_pose(lms) if ok else np.full(6, np.nan) for lms, ok in zip(self.landmarks, self.found)])

    @property
    def irises(self) -> np.ndarray:
        """(T, 2, 2): right and left iris centres in pixels."""
        return self.landmarks[:, [regions.RIGHT_IRIS_CENTER, regions.LEFT_IRIS_CENTER], :2]

    @property
    def mouth_opening(self) -> np.ndarray:
        """Inner-lip gap over outer-eye-corner distance per frame (NaN where lost)."""
        return regions.mouth_opening(self.landmarks)


class Tracker:
    """Tracks the ``face_index``-th largest face frame by frame (FaceMesh in tracking mode), inside a ``with`` block.

    Standard error (file descriptor 2) is silenced inside the block; progress bars write to a copy of it.
    """

    def __init__(self, fps: float = 25.0, face_index: int = 0) -> None:
        self.fps, self.face_index = fps, face_index
        self.landmarks: list[np.ndarray] = []
        self.confidence: list[float] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Tracker":
        # MediaPipe's worker threads log to stderr at any time until the graph closes
        self._stack.enter_context(silenced_stderr())
        self._mesh = self._stack.enter_context(FaceMesh(video=True))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def add(self, rgb: np.ndarray) -> None:
        """Track one RGB frame."""
        faces = self._mesh.detect(rgb)
        found = len(faces) > self.face_index
        self.landmarks.append(faces[self.face_index].landmarks if found else np.full((478, 3), np.nan))
        self.confidence.append(float(found))

    def track(self) -> FaceTrack:
        """The frames tracked so far."""
        return FaceTrack(np.asarray(self.landmarks).reshape(-1, 478, 3), np.asarray(self.confidence), self.fps)


def track_frames(frames: Iterable[np.ndarray], fps: float = 25.0, face_index: int = 0) -> FaceTrack:
    """Track the ``face_index``-th largest face through RGB frames (tracking mode, one pass)."""
    with Tracker(fps, face_index) as tracker:
        for rgb in frames:
            tracker.add(rgb)
    return tracker.track()


def track_video(path: str | Path, face_index: int = 0) -> FaceTrack:
    """Track a face through a video file."""
    from talkinghead.io.video import read_frames, video_info

    fps = video_info(path)[0]
    return track_frames(read_frames(path), fps, face_index)
