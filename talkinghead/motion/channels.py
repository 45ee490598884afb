"""The named per-frame face channels a Motion holds: units, ranges, neutral values, ARKit names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    """One Motion channel: its unit, valid range, value at rest and the ARKit blendshape it matches."""

    name: str
    unit: str
    low: float
    high: float
    neutral: float
    doc: str
    arkit: tuple[str, ...] = ()


CHANNELS: dict[str, Channel] = {c.name: c for c in (
    # lips (fractions of the speaker's comfortable maximum)
    Channel("jaw_open", "fraction", 0, 1, 0, "jaw drop / vertical mouth opening", ("jawOpen",)),
    Channel("mouth_width", "fraction", -1, 1, 0, "corners spread (+, ee/s) or drawn in (-)", ("mouthStretchLeft", "mouthStretchRight")),
    Channel("lip_round", "fraction", 0, 1, 0, "lips rounded and pushed forward (oo/w/o)", ("mouthPucker", "mouthFunnel")),
    Channel("lip_press", "fraction", 0, 1, 0, "lips closed and pressed together (m/b/p)", ("mouthClose", "mouthPressLeft", "mouthPressRight")),
    Channel("upper_lip", "fraction", 0, 1, 0, "upper lip raised, showing upper teeth", ("mouthUpperUpLeft", "mouthUpperUpRight")),
    Channel("lower_lip", "fraction", -1, 1, 0, "lower lip lowered (+) or tucked under the upper teeth (-, f/v)", ("mouthLowerDownLeft", "mouthLowerDownRight")),
    Channel("smile", "fraction", 0, 1, 0, "mouth corners raised", ("mouthSmileLeft", "mouthSmileRight")),
    # eyes and brows
    Channel("blink_left", "fraction", 0, 1, 0, "left eyelid closure (subject's left)", ("eyeBlinkLeft",)),
    Channel("blink_right", "fraction", 0, 1, 0, "right eyelid closure (subject's right)", ("eyeBlinkRight",)),
    Channel("brow_raise", "fraction", -1, 1, 0, "brows raised (+) or lowered/frowning (-)", ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")),
    Channel("gaze_yaw", "degrees", -30, 30, 0, "eye rotation, + towards the subject's left (viewer's right)"),
    Channel("gaze_pitch", "degrees", -25, 25, 0, "eye rotation, + up"),
    # head
    Channel("head_yaw", "degrees", -45, 45, 0, "head turn, + towards the subject's left (viewer's right)"),
    Channel("head_pitch", "degrees", -30, 30, 0, "head nod, + up"),
    Channel("head_roll", "degrees", -30, 30, 0, "head tilt, + clockwise as seen by the viewer"),
    Channel("head_x", "face widths", -0.5, 0.5, 0, "head shift, + to the viewer's right"),
    Channel("head_y", "face widths", -0.5, 0.5, 0, "head shift, + down"),
)}

LIP_CHANNELS = ("jaw_open", "mouth_width", "lip_round", "lip_press", "upper_lip", "lower_lip")
