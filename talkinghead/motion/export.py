"""Motion exporters: Rhubarb-Lip-Sync mouth cues (A-H, X) as JSON or TSV, ARKit blendshapes as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from talkinghead.motion.channels import CHANNELS
from talkinghead.motion.motion import Motion

CUE_LETTERS = "ABCDEFGHX"
# Rhubarb's shapes: A closed (M B P), B slightly open (most consonants, EE), C open (EH AE), D wide open (AA),
# E slightly rounded (AO ER), F puckered (UW OW W), G teeth on lower lip (F V), H tongue up (L), X rest
PHONE_CUES: dict[str, str] = {
    **dict.fromkeys(["M", "B", "P"], "A"),
    **dict.fromkeys(["T", "D", "N", "S", "Z", "K", "G", "NG", "TH", "DH", "HH", "Y", "R", "SH", "ZH", "CH", "JH",
                     "IY", "IH"], "B"),
    **dict.fromkeys(["EH", "AE", "AH", "EY"], "C"),
    **dict.fromkeys(["AA", "AY", "AW"], "D"),
    **dict.fromkeys(["AO", "ER", "OY", "UH"], "E"),
    **dict.fromkeys(["UW", "OW", "W"], "F"),
    **dict.fromkeys(["F", "V"], "G"),
    "L": "H",
    "SIL": "X",
}
MIN_CUE_S = 0.04  # about one frame of animation
Cue = dict[str, float | str]


def frame_cue(frame: dict[str, float]) -> str:
    """The Rhubarb shape closest to one frame's lip channels (H, a tongue shape, has no lip channel)."""
    if frame["lip_press"] >= 0.5:
        return "A"
    if frame["lower_lip"] <= -0.4:
        return "G"
    if frame["lip_round"] >= 0.5:
        return "F"
    if frame["jaw_open"] < 0.08:
        return "X"
    if frame["lip_round"] >= 0.25:
        return "E"
    return "D" if frame["jaw_open"] >= 0.7 else "C" if frame["jaw_open"] >= 0.4 else "B"


def mouth_cues(motion: Motion) -> list[Cue]:
    """Mouth cues {start, end, value} covering the motion, from meta["phones"] when present, else from each frame.

    Equal neighbours merge, and a cue too short to be seen (except a closure, A) extends the one before it.
    """
    if motion.meta.get("phones"):
        timed = [(float(s), float(e), PHONE_CUES.get(p, "B")) for s, e, p in motion.meta["phones"]]
    else:
        timed = [(i / motion.fps, (i + 1) / motion.fps, frame_cue(motion.frame(i))) for i in range(motion.n_frames)]
    cues: list[Cue] = []
    for start, end, value in timed:
        if cues and (cues[-1]["value"] == value or (end - start < MIN_CUE_S and value != "A")):
            cues[-1]["end"] = round(end, 2)
        else:
            cues.append({"start": round(start, 2), "end": round(end, 2), "value": value})
    return cues


def rhubarb_json(motion: Motion, sound_file: str | Path = "") -> str:
    """Rhubarb's JSON: {"metadata": {"soundFile", "duration"}, "mouthCues": [{start, end, value}, ...]}."""
    cues = mouth_cues(motion)
    duration = cues[-1]["end"] if cues else 0.0
    return json.dumps({"metadata": {"soundFile": str(sound_file), "duration": duration}, "mouthCues": cues}, indent=2)


def rhubarb_tsv(motion: Motion) -> str:
    """Rhubarb's TSV: one "start<TAB>shape" line per cue, then the end time with the rest shape X."""
    cues = mouth_cues(motion)
    lines = [f"{c['start']:.2f}\t{c['value']}" for c in cues]
    return "\n".join(lines + [f"{cues[-1]['end'] if cues else 0.0:.2f}\tX"]) + "\n"


def arkit_frames(motion: Motion) -> list[dict[str, float]]:
    """Per frame, every ARKit blendshape a channel maps to (``Channel.arkit``): the channel clipped to 0..1."""
    named = [(name, shape) for name, channel in CHANNELS.items() for shape in channel.arkit]
    values = {name: motion[name].clip(0, 1) for name, _ in named}
    return [{shape: round(float(values[name][i]), 5) for name, shape in named} for i in range(motion.n_frames)]


def arkit_json(motion: Motion) -> str:
    """ARKit blendshapes as JSON: {"fps", "frames": [{blendshape: value}, ...]}."""
    return json.dumps({"format": "talkinghead.arkit/1", "fps": motion.fps, "frames": arkit_frames(motion)})


def arkit_csv(motion: Motion) -> str:
    """ARKit blendshapes as CSV: frame, time, then one column per blendshape."""
    frames = arkit_frames(motion)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(frames[0]) if frames else []
    writer.writerow(["frame", "time"] + names)
    for i, frame in enumerate(frames):
        writer.writerow([i, f"{i / motion.fps:.4f}"] + [frame[n] for n in names])
    return out.getvalue()
