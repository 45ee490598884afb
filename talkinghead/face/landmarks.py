"""MediaPipe FaceMesh (478 points with irises), with a full-range detector fallback for small faces."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Iterator

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ANALYSIS_MAX_SIDE = 1280  # images are analysed at most this large; landmarks are scaled back
N_LANDMARKS = 478


def _quiet_mediapipe():
    """Import mediapipe with its absl logging silenced."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    import mediapipe as mp

    return mp


@contextmanager
def silenced_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: MediaPipe's C++ code logs there before any setting applies."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class Face:
    """One detected face: 478x3 landmarks in pixels (z in the same scale as x) and its box."""

    landmarks: np.ndarray
    confidence: float = 1.0

    @property
    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 of the landmarks."""
        (x0, y0), (x1, y1) = self.landmarks[:, :2].min(0), self.landmarks[:, :2].max(0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def size(self) -> float:
        """Face size in pixels: the larger side of the box."""
        x0, y0, x1, y1 = self.box
        return max(x1 - x0, y1 - y0)


class FaceMesh:
    """Landmarks for every face in an RGB image, largest first.

    ``video=True`` tracks across consecutive frames (faster, steadier); otherwise each image is
    detected on its own. Faces too small for FaceMesh's short-range detector are found with the
    full-range detector and re-meshed on an enlarged crop.
    """

    def __init__(self, max_faces: int = 4, video: bool = False, min_confidence: float = 0.5) -> None:
        mp = _quiet_mediapipe()
        self._quiet = True  # MediaPipe logs once on its first frame; silence the first call only
        with silenced_stderr():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not video, max_num_faces=max_faces, refine_landmarks=True,
                min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence)
        self._crop_mesh = None
        self._detector = None
        self._mp = mp
        self.video = video

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        for graph in (self._mesh, self._crop_mesh, self._detector):
            if graph is not None:
                graph.close()

    def __enter__(self) -> "FaceMesh":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in ``rgb`` (H, W, 3 uint8), largest first; an empty list when there is none."""
        small, scale = _downscale(rgb, ANALYSIS_MAX_SIDE)
        with silenced_stderr() if self._quiet else nullcontext():
            faces = self._mesh_faces(self._mesh, small)
            if not faces and not self.video:
                faces = self._small_faces(small)
        self._quiet = self._detector is None and not faces
        faces = [Face(f.landmarks / scale, f.confidence) for f in faces]
        return sorted(faces, key=lambda f: -f.size)

    def _mesh_faces(self, mesh, rgb: np.ndarray, offset=(0.0, 0.0), scale: float = 1.0) -> list[Face]:
        h, w = rgb.shape[:2]
        result = mesh.process(np.ascontiguousarray(rgb))
        faces = []
        for lm in result.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], np.float64)
            pts = pts / scale
            pts[:, 0] += offset[0]
            pts[:, 1] += offset[1]
            faces.append(Face(pts))
        return faces

    def _small_faces(self, rgb: np.ndarray) -> list[Face]:
        """Full-range detection, then FaceMesh on an upscaled crop around each detection."""
        if self._detector is None:
            with silenced_stderr():
                self._detector = self._mp.solutions.face_detection.FaceDetection(
                    model_selection=1, min_detection_confidence=0.5)
                self._crop_mesh = self._mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3)
        h, w = rgb.shape[:2]
        faces = []
        for det in self._detector.process(rgb).detections or []:
            box = det.location_data.relative_bounding_box
            cx, cy = (box.xmin + box.width / 2) * w, (box.ymin + box.height / 2) * h
            side = max(box.width * w, box.height * h) * 2.2
            x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
            x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            scale = 384.0 / max(x1 - x0, y1 - y0)
            crop = cv2.resize(rgb[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            faces += [Face(f.landmarks, det.score[0]) for f in self._mesh_faces(self._crop_mesh, crop, (x0, y0), scale)]
        return faces


def _downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` shrunk so that its longer side is at most ``max_side``, and the scale applied."""
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, 1.0
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale
