"""Head pose from FaceMesh landmarks: rotation from the face's own 3D axes (eyes, forehead-chin), and the Euler angles
of a turn in the face frame, as tracking measures them and the rig applies them."""

from __future__ import annotations

import numpy as np

from talkinghead.face import regions


def rotation_matrix(lms: np.ndarray) -> np.ndarray:
    """3x3 rotation whose columns are the face's right, down and forward axes in camera space."""
    x = lms[regions.LEFT_EYE_OUTER] - lms[regions.RIGHT_EYE_OUTER]  # towards the subject's left (image right)
    x = x / np.linalg.norm(x)
    y = lms[regions.CHIN] - lms[regions.FOREHEAD]
    y = y - x * (x @ y)
    y = y / np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)], axis=1)


def head_pose(lms: np.ndarray) -> np.ndarray:
    """yaw, pitch, roll (degrees; yaw + to the viewer's right, pitch + up, roll + clockwise), cx, cy, scale."""
    r = rotation_matrix(lms)
    # the face's right axis recedes (+z) when the head turns to the viewer's right; its down axis
    # comes forward (-z) when the head tilts up
    yaw = np.degrees(np.arcsin(np.clip(r[2, 0], -1, 1)))
    pitch = np.degrees(np.arctan2(-r[2, 1], r[1, 1]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    centre = lms[:, :2].mean(0)
    return np.array([yaw, pitch, roll, centre[0], centre[1], regions.eye_distance(lms)])


def euler_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation in the face frame (x right, y down, z away from the camera), angles in degrees."""
    a, b, g = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), np.sin(b)], [0, -np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
    return rz @ rx @ ry


def euler_angles(rot: np.ndarray) -> np.ndarray:
    """yaw, pitch, roll (degrees) of face-frame rotations (..., 3, 3): the inverse of :func:`euler_rotation` (Rz Rx Ry)."""
    yaw = np.arctan2(rot[..., 2, 0], rot[..., 2, 2])
    pitch = np.arcsin(np.clip(-rot[..., 2, 1], -1, 1))
    roll = np.arctan2(-rot[..., 0, 1], rot[..., 1, 1])
    return np.degrees(np.stack([yaw, pitch, roll], axis=-1))
