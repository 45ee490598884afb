"""FaceRig: Motion channels -> landmark positions, as a linear blendshape basis built from one face.

Displacements are defined in the face's own frame (x to the viewer's right, y down, units of the
outer-eye-corner distance) from the face's geometry, so any portrait gets a rig without training.
Head rotation and shift are applied last, about a pivot in the neck.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkinghead.face import regions
from talkinghead.face.anatomy import CORNER_DROP, EYEBALL_RADIUS, NECK_PIVOT
from talkinghead.face.pose import euler_rotation, rotation_matrix
from talkinghead.motion.channels import CHANNELS, LIP_CHANNELS
from talkinghead.render.topology import MOUTH_CENTER, with_mouth_center


LIP_POINTS = sorted(set(regions.UPPER_LIP + regions.LOWER_LIP + regions.LIPS_OUTER + regions.LIPS_INNER))


@dataclass
class LipModel:
    """One person's lips: each lip vertex's offset from rest (face frame, eye distances, x and y) linear in the lip
    channels, fitted by ridge regression on their tracked footage (``talkinghead fit``)."""

    weights: np.ndarray  # (len(LIP_CHANNELS), len(LIP_POINTS), 2)

    @classmethod
    def fit(cls, channels: np.ndarray, lips: np.ndarray, ridge: float = 1e-3) -> "LipModel":
        """From (T, len(LIP_CHANNELS)) tracked channel values and (T, len(LIP_POINTS), 2) face-frame lips."""
        x = np.concatenate([channels, np.ones((len(channels), 1))], 1)
        penalty = ridge * len(x) * np.diag([1.0] * channels.shape[1] + [0.0])
        coef = np.linalg.solve(x.T @ x + penalty, x.T @ lips.reshape(len(lips), -1))
        return cls(coef[:-1].reshape(channels.shape[1], -1, 2))

    def offset(self, values: dict[str, float]) -> np.ndarray:
        """(len(LIP_POINTS), 2) lip offsets for one frame's channel values."""
        x = np.array([values.get(name, CHANNELS[name].neutral) for name in LIP_CHANNELS])
        return np.tensordot(x, self.weights, 1)


@dataclass
class RigConfig:
    """Amplitudes of the rig, in eye-distance units (degrees for gaze travel)."""

    jaw: float = 0.40  # inner-lip gap at jaw_open = 1
    corner_drop: float = CORNER_DROP  # how far the mouth corners follow the jaw
    spread: float = 0.16  # half-width change of the mouth at mouth_width = +-1 (fraction of half width)
    round_narrow: float = 0.30  # mouth narrowing at lip_round = 1 (fraction of half width)
    protrude: float = 0.035  # lips pushed apart vertically when rounded
    press_thin: float = 0.025  # lips thinned when pressed
    upper_raise: float = 0.05
    lower_travel: float = 0.06
    smile_lift: float = 0.05
    brow_lift: float = 0.07
    eyeball_radius: float = EYEBALL_RADIUS
    lips: LipModel | None = None  # a person's own lips, replacing the generic lip shapes (the jaw stays the rig's)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """0 below ``e0``, 1 above ``e1``, smooth between (works for e0 > e1 too)."""
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def polygon_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Signed distance (positive inside) of 2D points to a polygon."""
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in points])


class FaceRig:
    """Landmarks (479x3 with the mouth centre) of one face for any frame of a Motion."""

    def __init__(self, landmarks: np.ndarray, config: RigConfig | None = None) -> None:
        self.config = c = config or RigConfig()
        lms = with_mouth_center(np.asarray(landmarks, np.float64))
        self.rotation = rotation_matrix(lms)
        self.scale = float(regions.eye_distance(lms))
        self.origin = lms[MOUTH_CENTER].copy()
        local = (lms - self.origin) @ self.rotation / self.scale  # face frame, eye-distance units
        self.local = local
        self.basis: dict[str, np.ndarray] = {}
        self._build_mouth(local, c)
        self._build_eyes(local, c)
        self.rest = local + self.offset
        if c.lips is not None:  # the lip vertices move as the person's own, not by the generic lip shapes
            for name in LIP_CHANNELS:
                self.basis[name] = self.basis[name].copy()
                self.basis[name][LIP_POINTS] = 0
        self.face_width = float(np.ptp(local[regions.FACE_OVAL, 0])) * self.scale
        chin = local[regions.CHIN]
        self.pivot_local = np.array([0.0, chin[1] + NECK_PIVOT[0], chin[2] + NECK_PIVOT[1]])

    # construction -------------------------------------------------------------------------

    def _build_mouth(self, p: np.ndarray, c: RigConfig) -> None:
        x, y = p[:, 0], p[:, 1]
        up = p[regions.UPPER_INNER]
        lo = p[regions.LOWER_INNER]
        corner_r, corner_l = p[regions.LIPS_INNER[0]], p[regions.LIPS_INNER[10]]
        hw = max(abs(corner_l[0] - corner_r[0]) / 2, 1e-3)
        cx = (corner_l[0] + corner_r[0]) / 2
        upper_y = np.interp(x, *_sorted_xy(up))
        lower_y = np.interp(x, *_sorted_xy(lo))
        seam = (upper_y + lower_y) / 2
        dy = y - seam
        u = np.abs(x - cx) / hw
        ell = np.sqrt(np.clip(1 - u ** 2, 0, 1))
        # below the seam the region widens towards the chin, so the whole mandible follows the jaw
        ell_jaw = np.sqrt(np.clip(1 - (np.abs(x - cx) / (hw + 1.2 * np.clip(dy, 0, None))) ** 2, 0, 1))
        lateral = np.exp(-np.clip(np.abs(x - cx) - hw, 0, None) ** 2 / 0.08)
        below = dy >= 0
        below[regions.UPPER_LIP], below[regions.LOWER_LIP] = False, True
        wc = c.corner_drop
        w_below = (wc + (1 - wc) * ell_jaw) * np.where(ell_jaw > 0, 1.0, lateral)
        w_above = wc * (1 - ell) * lateral * np.exp(-(dy / 0.07) ** 2)
        w_jaw = np.where(below, w_below, w_above)
        w_jaw[regions.UPPER_INNER[1:-1]] = wc * (1 - ell[regions.UPPER_INNER[1:-1]])
        lips_dist = polygon_distance(p[:, :2], p[regions.LIPS_OUTER, :2])
        in_lips = np.where(lips_dist >= 0, 1.0, np.exp(-(lips_dist / 0.05) ** 2))
        near_mouth = np.where(lips_dist >= 0, 1.0, np.exp(-(lips_dist / 0.18) ** 2))
        thickness = np.clip(np.abs(dy) / 0.12, 0, 1)  # 0 on the seam, 1 at the outer lip contour
        lower_lip = in_lips * below
        upper_lip = in_lips * ~below
        sign = np.where(below, 1.0, -1.0)
        zeros = np.zeros_like(x)

        gap0 = float(np.interp(cx, *_sorted_xy(lo)) - np.interp(cx, *_sorted_xy(up)))
        self.source_opening = max(gap0, 0.0)
        self.offset = np.stack([zeros, -self.source_opening * w_jaw, zeros], 1)
        self.basis["jaw_open"] = np.stack([zeros, c.jaw * w_jaw, -0.15 * c.jaw * w_jaw], 1)
        self.basis["mouth_width"] = np.stack([(x - cx) * c.spread * near_mouth, -0.01 * near_mouth * u, zeros], 1)
        self.basis["lip_round"] = np.stack([-(x - cx) * c.round_narrow * near_mouth,
                                            sign * c.protrude * in_lips * (0.5 + 0.5 * ell) * thickness,
                                            -0.05 * in_lips], 1)
        # pressing thins the lips: the outer contour moves towards the seam, the seam itself stays
        self.basis["lip_press"] = np.stack([zeros, -sign * c.press_thin * in_lips * ell * thickness, zeros], 1)
        self.basis["upper_lip"] = np.stack([zeros, -c.upper_raise * upper_lip * (0.4 + 0.6 * ell), zeros], 1)
        self.basis["lower_lip"] = np.stack([zeros, c.lower_travel * lower_lip * (0.3 + 0.7 * ell), zeros], 1)
        corners = np.exp(-((u - 1) ** 2) / 0.15) * near_mouth
        self.basis["smile"] = np.stack([np.sign(x - cx) * 0.04 * corners, -c.smile_lift * corners, zeros], 1)
        self._upper_inner = np.asarray(regions.UPPER_INNER[1:-1])
        self._lower_inner = np.asarray(regions.LOWER_INNER[1:-1])

    def _build_eyes(self, p: np.ndarray, c: RigConfig) -> None:
        x, y = p[:, 0], p[:, 1]
        zeros = np.zeros((len(p), 3))
        for side, contour, iris in (("right", regions.RIGHT_EYE, regions.RIGHT_IRIS_CENTER),
                                    ("left", regions.LEFT_EYE, regions.LEFT_IRIS_CENTER)):
            eye = p[contour]
            upper, lower = eye[:9], np.concatenate([eye[8:], eye[:1]])
            lid_up = np.interp(x, *_sorted_xy(upper))
            lid_lo = np.interp(x, *_sorted_xy(lower))
            closed_y = lid_lo - 0.25 * (lid_lo - lid_up)  # lids meet a quarter of the way up
            x0, x1 = eye[:, 0].min(), eye[:, 0].max()
            within = smoothstep(x0 - 0.12, x0, x) * smoothstep(x1 + 0.12, x1, x)
            above = y <= lid_up + 1e-6
            travel_up = (closed_y - lid_up) * np.exp(-np.clip(lid_up - y, 0, None) ** 2 / 0.02) * within * above
            travel_lo = (closed_y - lid_lo) * np.exp(-np.clip(y - lid_lo, 0, None) ** 2 / 0.005) * within * ~above
            blink = zeros.copy()
            blink[:, 1] = travel_up + travel_lo
            blink[iris, 1] = closed_y[iris] - y[iris]
            self.basis[f"blink_{side}"] = blink
            for channel, axis, sign in (("gaze_yaw", 0, 1.0), ("gaze_pitch", 1, -1.0)):
                b = self.basis.setdefault(channel, zeros.copy())
                b[iris, axis] = sign * c.eyeball_radius * np.pi / 180  # per degree
        brow = p[regions.RIGHT_BROW + regions.LEFT_BROW]
        brow_y = brow[:, 1].mean()
        eye_top = p[regions.RIGHT_EYE[4], 1] / 2 + p[regions.LEFT_EYE[4], 1] / 2
        in_face = smoothstep(-0.05, 0.1, polygon_distance(p[:, :2], p[regions.FACE_OVAL, :2]))
        rise = np.where(y >= brow_y, smoothstep(eye_top, brow_y, y), 1 - 0.6 * smoothstep(brow_y, brow_y - 0.6, y))
        brow_w = rise * in_face * (y < eye_top)
        lift = zeros.copy()
        lift[:, 1] = -c.brow_lift * brow_w
        # frowning pulls the inner brows together as well as down
        lift[:, 0] = 0.3 * c.brow_lift * brow_w * np.tanh(x / 0.3) * (np.abs(x) < 0.45)
        self.basis["brow_raise"] = lift

    # evaluation ----------------------------------------------------------------------------

    def local_shape(self, values: dict[str, float]) -> np.ndarray:
        """Face-frame landmarks for one frame's channel values (head pose excluded)."""
        p = self.rest.copy()
        for name, basis in self.basis.items():
            v = values.get(name, CHANNELS[name].neutral)
            if name == "brow_raise" and v > 0:
                p[:, 1] += v * basis[:, 1]
            elif v:
                p += v * basis
        if self.config.lips is not None:
            p[LIP_POINTS, :2] += self.config.lips.offset(values)
            p[MOUTH_CENTER] = p[regions.LIPS_INNER].mean(0)
        # lips never cross: the lower inner lip stays at or below the upper one
        lo, up = self._lower_inner, self._upper_inner[::-1]
        p[lo, 1] = np.maximum(p[lo, 1], p[up, 1])
        return p

    def landmarks(self, values: dict[str, float]) -> np.ndarray:
        """Image-space landmarks (479x3) for one frame's channel values, head pose included."""
        p = self.local_shape(values)
        rot = euler_rotation(values.get("head_yaw", 0.0), values.get("head_pitch", 0.0), values.get("head_roll", 0.0))
        p = (p - self.pivot_local) @ rot.T + self.pivot_local
        world = p * self.scale @ self.rotation.T + self.origin
        world[:, 0] += values.get("head_x", 0.0) * self.face_width
        world[:, 1] += values.get("head_y", 0.0) * self.face_width
        return world

    @property
    def rest_landmarks(self) -> np.ndarray:
        """Image-space landmarks of the neutral, closed-mouth face."""
        return self.landmarks({})


def _sorted_xy(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]
