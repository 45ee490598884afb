"""The warp renderer, measured the way a viewer would: FaceMesh re-run on rendered frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from talkinghead.face import regions
from talkinghead.face.landmarks import FaceMesh
from talkinghead.face.portrait import Portrait, load_portrait
from talkinghead.motion import Motion
from talkinghead.render.mouth import MouthColors, MouthPainter
from talkinghead.render.piecewise_affine import PiecewiseAffineWarp
from talkinghead.render.topology import face_triangles
from talkinghead.render.warp import WarpRenderer

PORTRAIT = Path(__file__).resolve().parents[1] / "examples" / "portrait.jpg"


@pytest.fixture(scope="module")
def portrait():
    return load_portrait(PORTRAIT, 384)


def render(portrait, **channels: list[float]) -> list[np.ndarray]:
    return list(WarpRenderer().render(portrait, Motion(25, {k: np.asarray(v) for k, v in channels.items()})))


def measure(frames: list[np.ndarray]) -> np.ndarray:
    with FaceMesh() as mesh:
        return np.stack([mesh.detect(f)[0].landmarks for f in frames])


def test_topology_is_a_manifold_covering_the_face():
    tris = face_triangles()
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [0, 2]], tris[:, [1, 2]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert counts.max() == 2  # no edge shared by more than two triangles
    assert (counts == 1).sum() == len(regions.FACE_OVAL)  # only the oval is open once the holes are filled


def test_warp_with_unmoved_mesh_is_identity(portrait):
    pts = np.concatenate([portrait.landmarks[:, :2], [[5, 5], [380, 5], [5, 380], [380, 380]]])
    from scipy.spatial import Delaunay

    warp = PiecewiseAffineWarp(Delaunay(pts).simplices.astype(np.int32), 384, 384)
    out = warp.warp(portrait.image, pts, pts)
    assert np.abs(out.astype(int) - portrait.image).max() <= 1


def test_jaw_open_opens_the_measured_mouth_monotonically(portrait):
    opening = regions.mouth_opening(measure(render(portrait, jaw_open=[0.0, 0.25, 0.5, 0.8])))
    assert np.all(np.diff(opening) > 0.02), opening
    assert opening[0] < 0.05 and opening[-1] > 0.2


def test_lips_close_on_press_after_open(portrait):
    opening = regions.mouth_opening(measure(render(portrait, jaw_open=[0.6, 0.0], lip_press=[0.0, 1.0])))
    assert opening[0] > 0.15 and opening[1] < 0.04


def test_blink_closes_both_eyes_and_brows_rise(portrait):
    lms = measure(render(portrait, blink_left=[0.0, 1.0, 0.0], blink_right=[0.0, 1.0, 0.0], brow_raise=[0, 0, 1]))
    eyes = regions.eye_opening(lms)
    # FaceMesh never reads a shut eye as 0: about 0.15 lid gap per eye width, more behind glasses as here
    assert np.all(eyes[1] < 0.65 * eyes[0]) and eyes[1].mean() < 0.6 * eyes[0].mean(), eyes
    brow_height = (lms[:, regions.RIGHT_EYE[4], 1] - lms[:, regions.RIGHT_BROW, 1].mean(1)) / regions.eye_distance(lms)
    assert brow_height[2] > brow_height[0] + 0.012  # glasses frames hide part of the lift from FaceMesh


def test_gaze_moves_irises_and_head_yaw_turns_the_face(portrait):
    lms = measure(render(portrait, gaze_yaw=[0.0, 20.0, 0.0], head_yaw=[0.0, 0.0, 10.0]))
    iris_shift = (lms[1, regions.RIGHT_IRIS_CENTER, 0] - lms[0, regions.RIGHT_IRIS_CENTER, 0]) / regions.eye_distance(lms[0])
    assert iris_shift > 0.015
    from talkinghead.face.pose import head_pose

    assert head_pose(lms[2])[0] - head_pose(lms[0])[0] > 4


def test_neutral_motion_keeps_the_face(portrait):
    frame = render(portrait, jaw_open=[0.0])[0]
    before, after = measure([portrait.image, frame])
    err = np.linalg.norm(before[:468, :2] - after[:468, :2], axis=1).mean() / regions.eye_distance(before)
    assert err < 0.02


def test_the_open_mouth_is_painted_as_soft_as_the_picture_and_the_same_every_time(portrait):
    wide_open = Motion(25, {"jaw_open": np.array([0.7])})
    scale = float(regions.eye_distance(portrait.landmarks))
    sharpness = []
    for image in (portrait.image, cv2.GaussianBlur(portrait.image, (0, 0), 2.0)):
        painter = MouthPainter(MouthColors.sample(image, portrait.landmarks), scale)
        faces = []

        def paint(frame: np.ndarray, face: np.ndarray) -> None:
            painter.paint(frame, face)
            faces.append(face)

        first, again = (next(WarpRenderer().animate(Portrait(image, portrait.landmarks), wide_open, paint))
                        for _ in range(2))
        assert np.array_equal(first, again)
        inside = np.zeros(first.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(faces[0][regions.LIPS_INNER]).astype(np.int32)], 1)
        inside = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0  # the painted interior, clear of the lips
        sharpness.append(cv2.Laplacian(cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), cv2.CV_64F)[inside].var())
    assert sharpness[1] < 0.5 * sharpness[0], sharpness
