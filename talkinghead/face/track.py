"""FaceTrack: one face's landmarks, box, head pose and irises over the frames of an image or video."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from talkinghead.face import regions
from talkinghead.face.landmarks import FaceMesh, silenced_stderr
from talkinghead.face.pose import head_pose

FOLLOW_SIZE = 256  # side in pixels of the window a followed face is tracked in
FOLLOW_ZOOM = 1.8  # the window's side over the face's size


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

    ``follow``: once found, the face is tracked in a window around it, resampled to :data:`FOLLOW_SIZE` pixels,
    instead of in the whole frame shrunk to analysis size: small faces in large frames keep their detail and
    large frames cost no more than small ones. Where the window loses the face, the whole frame is searched again.
    Standard error (file descriptor 2) is silenced inside the block; progress bars write to a copy of it.
    """

    def __init__(self, fps: float = 25.0, face_index: int = 0, follow: bool = False) -> None:
        self.fps, self.face_index, self.follow = fps, face_index, follow
        self.landmarks: list[np.ndarray] = []
        self.confidence: list[float] = []
        self._window: tuple[np.ndarray, float] | None = None  # centre and face size the window was placed for
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Tracker":
        # MediaPipe's worker threads log to stderr at any time until the graph closes
        self._stack.enter_context(silenced_stderr())
        self._mesh = self._stack.enter_context(FaceMesh(video=not self.follow))
        if self.follow:
            self._window_mesh = self._stack.enter_context(FaceMesh(max_faces=2, video=True))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def add(self, rgb: np.ndarray) -> None:
        """Track one RGB frame."""
        previous = self.landmarks[-1] if self.landmarks else None
        lms = None
        if self.follow and previous is not None and np.isfinite(previous).all():
            lms = self._in_window(rgb, previous)
        if lms is None:
            self._window = None
            faces = self._mesh.detect(rgb)
            lms = faces[self.face_index].landmarks if len(faces) > self.face_index else None
        self.landmarks.append(lms if lms is not None else np.full((478, 3), np.nan))
        self.confidence.append(float(lms is not None))

    def _in_window(self, rgb: np.ndarray, previous: np.ndarray) -> np.ndarray | None:
        """The face in a window around where it was, or None when it is not there (or is not the same face).

        The window stays put until the face drifts from its middle or changes size, so that FaceMesh tracks a
        steady picture, as in a whole frame.
        """
        (x0, y0), (x1, y1) = previous[:, :2].min(0), previous[:, :2].max(0)
        size = max(x1 - x0, y1 - y0)
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        if self._window is None or np.linalg.norm(centre - self._window[0]) > 0.15 * size or not (
                0.9 < size / self._window[1] < 1.1):
            self._window = centre, size
        centre, size = self._window
        k = FOLLOW_SIZE / (FOLLOW_ZOOM * size)
        matrix = np.array([[k, 0, FOLLOW_SIZE / 2 - k * centre[0]], [0, k, FOLLOW_SIZE / 2 - k * centre[1]]])
        crop = cv2.warpAffine(rgb, matrix, (FOLLOW_SIZE, FOLLOW_SIZE),
                              flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
        faces = self._window_mesh.detect(crop)
        if not faces:
            return None
        # the face nearest the window's centre is the one followed
        face = min(faces, key=lambda f: np.linalg.norm(f.landmarks[:, :2].mean(0) - FOLLOW_SIZE / 2))
        lms = face.landmarks.copy()
        lms[:, :2] = (lms[:, :2] - matrix[:, 2]) / k
        lms[:, 2] /= k
        moved = np.linalg.norm(lms[:, :2].mean(0) - previous[:, :2].mean(0)) / size
        grown = max(np.ptp(lms[:, 0]), np.ptp(lms[:, 1])) / size
        return lms if moved < 0.5 and 0.7 < grown < 1.4 else None

    def track(self) -> FaceTrack:
        """The frames tracked so far."""
        return FaceTrack(np.asarray(self.landmarks).reshape(-1, 478, 3), np.asarray(self.confidence), self.fps)


def track_frames(frames: Iterable[np.ndarray], fps: float = 25.0, face_index: int = 0,
                 follow: bool = False) -> FaceTrack:
    """Track the ``face_index``-th largest face through RGB frames (tracking mode, one pass; see :class:`Tracker`)."""
    with Tracker(fps, face_index, follow) as tracker:
        for rgb in frames:
            tracker.add(rgb)
    return tracker.track()


def track_video(path: str | Path, face_index: int = 0) -> FaceTrack:
    """Track a face through a video file."""
    from talkinghead.io.video import read_frames, video_info

    fps = video_info(path)[0]
    return track_frames(read_frames(path), fps, face_index)
