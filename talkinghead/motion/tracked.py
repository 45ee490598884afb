"""Motion from a real video: every channel measured on a FaceTrack's landmarks, scaled to the speaker's own range.

Lips, smile and brows are measured in eye distances (the outer eye corners' distance; the jaw opening and mouth width
as :mod:`talkinghead.face.regions` reads them, the others in the head's own frame) and scaled per clip: a channel's
rest level (the 5th percentile for the jaw and lip press, the median elsewhere) reads 0 and its 95th percentile 1,
with at least :data:`MIN_SPAN` taken as the range so that a still channel keeps its tracking noise small. Blinks
read each lid gap against its running open level; gaze the irises on an eyeball of :data:`EYEBALL_RADIUS`, about
their median direction; the head its turn from the clip's median pose (in the renderer's convention) and the shift
of its neck pivot, in face widths."""

from __future__ import annotations

import numpy as np

from talkinghead.face import regions
from talkinghead.face.anatomy import CORNER_DROP, EYEBALL_RADIUS, NECK_PIVOT
from talkinghead.face.blinks import detect_blinks, open_level
from talkinghead.face.pose import euler_angles, rotation_matrix
from talkinghead.face.smooth import fill_gaps
from talkinghead.face.track import FaceTrack
from talkinghead.motion.channels import CHANNELS
from talkinghead.motion.motion import Motion

LOW, HIGH = 5, 95  # percentiles: the jaw's and lip press's rest, and every lip and brow channel's comfortable maximum
# the least travel taken as a channel's full range, in its measure's units (eye distances): 5-10x FaceMesh's
# frame-to-frame noise on that measure
MIN_SPAN = {"jaw_open": 0.05, "mouth_width": 0.03, "lip_round": 0.008, "lip_press": 0.03, "upper_lip": 0.02,
            "lower_lip": 0.03, "smile": 0.02, "brow_raise": 0.01}
# a typical speaker's span of each lip channel (eye distances): the median over the 15 real talking speakers of
# ../shared/data (GRID's five, HDTF-style clips, Obama, Macron, Reagan; per speaker the median over their clips)
TYPICAL_SPAN = {"jaw_open": 0.14, "mouth_width": 0.066, "lip_round": 0.0083, "lip_press": 0.054, "upper_lip": 0.0225,
                "lower_lip": 0.045}
SHUT = 0.2  # jaw_open up to which the lips can press, the pressing fading out towards it
# lid gaps as fractions of their running open level: FaceMesh reads a shut eye at about 0.15 (GRID, HDTF, MEAD), and
# an open one within 0.9 (its noise)
CLOSED_EYE, OPEN_EYE = 0.15, 0.9
UPPER_LIP_MIDDLE = [0, 13, 37, 267]  # upper lip around the middle, outer and inner contour
NOSE_BASE = 2


def rotations(landmarks: np.ndarray) -> np.ndarray:
    """(T, 3, 3) the head's axes in camera space per frame (:func:`rotation_matrix`), NaN where the face was lost."""
    return np.stack([rotation_matrix(lms) if np.isfinite(lms).all() else np.full((3, 3), np.nan) for lms in landmarks])


def head_frame(landmarks: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """(T, 478, 3) landmarks on the head's own axes ``rot`` (x right, y down, z away) about the eye corners' midpoint,
    in eye distances."""
    centre = (landmarks[:, regions.RIGHT_EYE_OUTER] + landmarks[:, regions.LEFT_EYE_OUTER]) / 2
    return np.einsum("tnd,tde->tne", landmarks - centre[:, None], rot) / regions.eye_distance(landmarks)[:, None, None]


def scaled(name: str, x: np.ndarray, rest: float, levels: dict[str, dict[str, float]]) -> np.ndarray:
    """Measure ``x`` of channel ``name`` as a fraction of its span beyond ``rest``, clipped to the channel's range.

    The span is the 95th percentile's distance from rest (the 5th's too for two-sided channels), at least
    :data:`MIN_SPAN`; both levels are recorded in ``levels``.
    """
    channel = CHANNELS[name]
    reach = [np.nanpercentile(x, HIGH) - rest] + ([rest - np.nanpercentile(x, LOW)] if channel.low < 0 else [])
    span = max(*reach, MIN_SPAN[name])
    levels[name] = {"rest": round(float(rest), 5), "span": round(float(span), 5)}
    return np.clip((x - rest) / span, channel.low, channel.high)


def in_face_units(motion: Motion) -> dict[str, np.ndarray]:
    """The lip channels of a tracked motion rescaled from the clip's own span to a typical speaker's
    (:data:`TYPICAL_SPAN`): comparable across speakers and clips, a wide-mouthed speaker's full opening reading above
    1 and a timid one's below."""
    levels = motion.meta["levels"]
    return {name: motion[name] * levels[name]["span"] / span for name, span in TYPICAL_SPAN.items()
            if name in motion.channels}


def lip_channels(lms: np.ndarray, local: np.ndarray, levels: dict) -> dict[str, np.ndarray]:
    """The lip channels and smile from image-space (``lms``) and head-frame (``local``) landmarks."""
    y = local[..., 1]
    opening = regions.mouth_opening(lms)
    jaw = scaled("jaw_open", opening, np.nanpercentile(opening, LOW), levels)
    width = regions.mouth_width(lms)
    # rounding pushes the upper lip forward of the nose tip (z falls towards the camera)
    forward = local[:, regions.NOSE_TIP, 2] - local[:, UPPER_LIP_MIDDLE, 2].mean(1)
    # pressed lips bulge: the red of a shut mouth (outer lip height less the inner gap) thicker than when relaxed
    thickness = (y[:, 17] - y[:, 0]) - (y[:, 14] - y[:, 13])
    shut = np.where(jaw <= SHUT, thickness, np.nan)  # NaN where open or lost; the jaw's rest leaves frames shut
    press = scaled("lip_press", shut, np.nanpercentile(shut, LOW), levels) * (1 - jaw / SHUT)
    raise_upper = y[:, NOSE_BASE] - y[:, 13]  # the upper lip nearer the nose
    lower = y[:, 14] - y[:, regions.CHIN]  # the lower lip nearer the chin: lowered; further: tucked in
    # corners above the line they rest on when only the jaw moves (the corner drop of the way down the gap)
    seam = y[:, 13] + CORNER_DROP * (y[:, 14] - y[:, 13])
    lift = seam - y[:, [regions.MOUTH_RIGHT, regions.MOUTH_LEFT]].mean(1)
    return {
        "jaw_open": jaw,
        "mouth_width": scaled("mouth_width", width, np.nanmedian(width), levels),
        "lip_round": scaled("lip_round", forward, np.nanmedian(forward), levels),
        "lip_press": np.where(jaw > SHUT, 0, press),
        "upper_lip": scaled("upper_lip", raise_upper, np.nanmedian(raise_upper), levels),
        "lower_lip": scaled("lower_lip", lower, np.nanmedian(lower), levels),
        "smile": scaled("smile", lift, np.nanmedian(lift), levels),
    }


def eye_channels(track: FaceTrack, local: np.ndarray, levels: dict) -> dict[str, np.ndarray]:
    """Blinks (lid gap against its running open level: :data:`OPEN_EYE` reads 0, :data:`CLOSED_EYE` 1), brows, gaze."""
    eyes = regions.eye_opening(track.landmarks)
    blinks = [np.clip((OPEN_EYE - eyes[:, k] / open_level(eyes[:, k], track.fps)) / (OPEN_EYE - CLOSED_EYE), 0, 1)
              for k in (0, 1)]
    brows = -local[:, regions.RIGHT_BROW + regions.LEFT_BROW, 1].mean(1)
    offset = np.mean([local[:, iris, :2] - (local[:, outer, :2] + local[:, inner, :2]) / 2 for iris, outer, inner in
                      ((regions.RIGHT_IRIS_CENTER, 33, 133), (regions.LEFT_IRIS_CENTER, 263, 362))], axis=0)
    gaze = np.degrees(np.arcsin(np.clip(offset / EYEBALL_RADIUS, -1, 1))) * [1, -1]  # + to the image right, + up
    gaze[np.maximum(*blinks) > 0.5] = np.nan  # the irises are hidden: held from the frames around
    rest_gaze = np.nanmedian(gaze, 0) if np.isfinite(gaze).any() else np.zeros(2)
    gaze = fill_gaps(gaze - rest_gaze)
    levels["gaze"] = {"rest_degrees": np.round(rest_gaze, 3).tolist(), "eyeball_radius": EYEBALL_RADIUS}
    levels["blink"] = {"open": OPEN_EYE, "closed": CLOSED_EYE}
    return {"blink_right": blinks[0], "blink_left": blinks[1],
            "brow_raise": scaled("brow_raise", brows, np.nanmedian(brows), levels),
            "gaze_yaw": gaze[:, 0], "gaze_pitch": gaze[:, 1]}


def head_channels(landmarks: np.ndarray, rot: np.ndarray, local: np.ndarray, levels: dict) -> dict[str, np.ndarray]:
    """Head angles of each frame's rotation from the clip's median one (in the renderer's order: roll, pitch, yaw),
    and the shift of the neck pivot from its median position, in face widths."""
    u, _, vt = np.linalg.svd(np.nanmedian(rot, 0))
    rest = u @ vt  # the element-wise median rotation, made a rotation again
    angles = euler_angles(np.einsum("ed,tef->tdf", rest, rot))  # rest^T @ rot: the turn from the rest pose
    # the point the renderer turns the head about, below and behind the chin, followed through each frame's pose
    pivot_local = np.nanmedian(local[:, regions.CHIN], 0) + [0, *NECK_PIVOT]
    centre = (landmarks[:, regions.RIGHT_EYE_OUTER] + landmarks[:, regions.LEFT_EYE_OUTER]) / 2
    scale = regions.eye_distance(landmarks)
    pivot = (centre + scale[:, None] * np.einsum("tde,e->td", rot, pivot_local))[:, :2]
    face_width = float(np.nanmedian(np.ptp(local[:, regions.FACE_OVAL, 0], axis=1) * scale))
    rest_pivot = np.nanmedian(pivot, 0)
    shift = (pivot - rest_pivot) / face_width
    levels["head"] = {"rest_degrees": np.round(euler_angles(rest), 3).tolist(),
                      "rest_pivot": np.round(rest_pivot, 2).tolist(), "face_width": round(face_width, 2)}
    return {"head_yaw": angles[:, 0], "head_pitch": angles[:, 1], "head_roll": angles[:, 2],
            "head_x": shift[:, 0], "head_y": shift[:, 1]}


def motion_from_track(track: FaceTrack, source: str | None = None) -> Motion:
    """Every Motion channel of a tracked face, at the track's fps; frames where the face was lost are interpolated.

    ``meta`` holds the ``source``, the share of frames ``found``, the blinks detected (start and end seconds) and
    the per-channel ``levels`` the measures were scaled by. ValueError when no frame has a face.
    """
    if not track.found.any():
        raise ValueError("no face found in any frame")
    rot = rotations(track.landmarks)
    local = head_frame(track.landmarks, rot)
    levels: dict[str, dict] = {}
    channels = {**lip_channels(track.landmarks, local, levels), **eye_channels(track, local, levels),
                **head_channels(track.landmarks, rot, local, levels)}
    blinks = detect_blinks(regions.eye_opening(track.landmarks).mean(-1), track.fps) / track.fps
    meta = {"source": source, "found": round(float(track.found.mean()), 4),
            "blinks": np.round(blinks, 3).tolist(), "levels": levels}
    return Motion(track.fps, meta=meta).update(**{name: fill_gaps(v) for name, v in channels.items()})
