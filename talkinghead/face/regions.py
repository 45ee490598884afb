"""Landmark index sets of MediaPipe's 478-point face mesh, and the measures built on them."""

from __future__ import annotations

import numpy as np

# contours, each in order around the shape
LIPS_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
LIPS_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
UPPER_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_INNER = [308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78]
RIGHT_EYE = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]  # subject's right
LEFT_EYE = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
RIGHT_IRIS = [468, 469, 470, 471, 472]
LEFT_IRIS = [473, 474, 475, 476, 477]
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
RIGHT_BROW = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46]
LEFT_BROW = [300, 293, 334, 296, 336, 285, 295, 282, 283, 276]
NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
# every vertex of the upper and of the lower lip (corners excluded), read off wide-open mouths: on
# closed thin lips FaceMesh's lip rings can cross, so geometry alone cannot tell them apart
UPPER_LIP = [0, 11, 12, 13, 37, 38, 39, 40, 41, 42, 72, 73, 74, 80, 81, 82, 183, 184, 185, 191, 267, 268, 269,
             270, 271, 272, 302, 303, 304, 310, 311, 312, 407, 408, 409, 415]
LOWER_LIP = [14, 15, 16, 17, 77, 84, 85, 86, 87, 88, 89, 90, 91, 95, 96, 146, 178, 179, 180, 181, 307, 314, 315,
             316, 317, 318, 319, 320, 321, 324, 325, 375, 402, 403, 404, 405]
# inner-lip pairs (upper, lower) across the middle of the mouth
LIP_GAP_PAIRS = [(82, 87), (13, 14), (312, 317)]
# eyelid pairs (upper, lower) across the middle of each eye
RIGHT_LID_PAIRS = [(160, 144), (159, 145), (158, 153)]
LEFT_LID_PAIRS = [(385, 380), (386, 374), (387, 373)]


def eye_distance(lms: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners; works on (478, D) or (T, 478, D)."""
    return np.linalg.norm(lms[..., RIGHT_EYE_OUTER, :2] - lms[..., LEFT_EYE_OUTER, :2], axis=-1)


def _gap(lms: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    upper, lower = zip(*pairs)
    return np.linalg.norm(lms[..., list(upper), :2] - lms[..., list(lower), :2], axis=-1).mean(-1)


def mouth_opening(lms: np.ndarray) -> np.ndarray:
    """Inner-lip gap over outer-eye-corner distance (0 = closed, about 0.3-0.5 wide open)."""
    return _gap(lms, LIP_GAP_PAIRS) / eye_distance(lms)


def mouth_width(lms: np.ndarray) -> np.ndarray:
    """Mouth-corner distance over outer-eye-corner distance."""
    return np.linalg.norm(lms[..., MOUTH_RIGHT, :2] - lms[..., MOUTH_LEFT, :2], axis=-1) / eye_distance(lms)


def eye_opening(lms: np.ndarray) -> np.ndarray:
    """Per eye (right, left): eyelid gap over eye width, shape (..., 2)."""
    right = _gap(lms, RIGHT_LID_PAIRS) / np.linalg.norm(lms[..., 33, :2] - lms[..., 133, :2], axis=-1)
    left = _gap(lms, LEFT_LID_PAIRS) / np.linalg.norm(lms[..., 263, :2] - lms[..., 362, :2], axis=-1)
    return np.stack([right, left], axis=-1)
