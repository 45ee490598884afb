"""FaceTrack: one face's landmarks, box, head pose and irises over the frames of an image or video."""

from __future__ import annotations

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


def track_frames(frames: Iterable[np.ndarray], fps: float = 25.0, face_index: int = 0) -> FaceTrack:
    """Track the ``face_index``-th largest face through RGB frames (tracking mode, one pass)."""
    lms, conf = [], []
    with silenced_stderr(), FaceMesh(video=True) as mesh:
        for rgb in frames:
            faces = mesh.detect(rgb)
            if len(faces) > face_index:
                lms.append(faces[face_index].landmarks)
                conf.append(1.0)
            else:
                lms.append(np.full((478, 3), np.nan))
                conf.append(0.0)
    return FaceTrack(np.asarray(lms).reshape(-1, 478, 3), np.asarray(conf), fps)


def track_video(path: str | Path, face_index: int = 0) -> FaceTrack:
    """Track a face through a video file."""
    from talkinghead.io.video import read_frames, video_info

    fps = video_info(path)[0]
    return track_frames(read_frames(path), fps, face_index)
