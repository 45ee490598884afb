"""Portrait: the source picture the renderer animates, framed as the output will show it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from talkinghead.errors import InputError
from talkinghead.face.landmarks import Face, FaceMesh, silenced_stderr

MIN_FACE_PX = 48
MAX_FULL_FRAME_SIDE = 1920


@dataclass
class Portrait:
    """An RGB image with the landmarks (478x3, pixels) of the face to animate."""

    image: np.ndarray
    landmarks: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """width, height."""
        return self.image.shape[1], self.image.shape[0]


def pick_face(faces: list[Face], face_index: int, path: str | Path | None) -> Face:
    """The ``face_index``-th largest face, with a clear error when there is none or it is too small."""
    if not faces:
        raise InputError(path, "no face found")
    if face_index >= len(faces) or face_index < 0:
        raise InputError(path, f"face index {face_index} requested but {len(faces)} face(s) found")
    face = faces[face_index]
    if face.size < MIN_FACE_PX:
        raise InputError(path, f"face too small ({face.size:.0f} px); need at least {MIN_FACE_PX} px")
    return face


def frame_face(image: np.ndarray, face: Face, size: int, zoom: float = 2.0) -> Portrait:
    """A ``size`` x ``size`` face-centred square crop, the face box spanning 1/``zoom`` of the side.

    Sampled from the full-resolution image (area filter when shrinking), borders replicated.
    """
    x0, y0, x1, y1 = face.box
    side = face.size * zoom
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.04 * face.size
    h, w = image.shape[:2]
    side = min(side, max(w, h))
    # keep the window inside the picture where it fits, so that no border has to be invented
    cx = float(np.clip(cx, side / 2, w - side / 2)) if side <= w else w / 2
    cy = float(np.clip(cy, side / 2, h - side / 2)) if side <= h else h / 2
    scale = size / side
    m = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]])
    if scale < 1:
        # prefilter before sampling so that large photos stay sharp without aliasing
        blur = 0.5 / scale
        image = cv2.GaussianBlur(image, (0, 0), blur * 0.6)
    crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    lms = face.landmarks.copy()
    lms[:, :2] = lms[:, :2] * scale + m[:, 2]
    lms[:, 2] *= scale
    return Portrait(crop, lms)


def full_frame(image: np.ndarray, face: Face, max_side: int = MAX_FULL_FRAME_SIDE) -> Portrait:
    """The whole picture, shrunk to at most ``max_side`` and cut to even dimensions for H.264."""
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    return Portrait(np.ascontiguousarray(image[:h, :w]), face.landmarks * scale)


def load_portrait(path: str | Path, size: int = 512, face_index: int = 0, full: bool = False) -> Portrait:
    """Read an image, find its faces and frame the chosen one."""
    from talkinghead.io.image import load_image

    return portrait_of(load_image(path), size, face_index, full, path)


def portrait_of(image: np.ndarray, size: int = 512, face_index: int = 0, full: bool = False,
                path: str | Path | None = None) -> Portrait:
    """Find the faces of an RGB image and frame the chosen one (``path`` names it in errors)."""
    # MediaPipe's worker threads log to stderr while its graphs start, at any time until they are closed
    with silenced_stderr(), FaceMesh() as mesh:
        faces = mesh.detect(image)
    face = pick_face(faces, face_index, path)
    return full_frame(image, face) if full else frame_face(image, face, size)
