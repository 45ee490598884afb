"""Viseme targets per ARPAbet phone: lip-channel values and how strongly each phone imposes them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from talkinghead.motion.channels import LIP_CHANNELS


@dataclass(frozen=True)
class Viseme:
    """Targets of the lip channels for one phone, with its dominance over the jaw, the lip shape and the lip contact.

    A low dominance lets the neighbours win (coarticulation): alveolars and velars barely constrain the lips,
    so they take the shape of the surrounding vowels; bilabials impose contact (closure) but not shape, so
    they round in "boo" and spread in "bee"; rounded vowels impose their shape.
    """

    jaw: float
    width: float = 0.0
    round: float = 0.0
    press: float = 0.0
    upper: float = 0.0
    lower: float = 0.0
    jaw_dominance: float = 1.0
    shape_dominance: float = 1.0  # over mouth_width and lip_round
    contact_dominance: float = 1.0  # over lip_press, upper_lip and lower_lip

    @property
    def targets(self) -> np.ndarray:
        """Values in :data:`LIP_CHANNELS` order."""
        return np.array([getattr(self, FIELDS[c][0]) for c in LIP_CHANNELS])

    @property
    def dominance(self) -> np.ndarray:
        """Dominance per channel, in :data:`LIP_CHANNELS` order."""
        return np.array([getattr(self, FIELDS[c][1]) for c in LIP_CHANNELS])


# lip channel -> (Viseme target field, Viseme dominance field)
FIELDS = {
    "jaw_open": ("jaw", "jaw_dominance"), "mouth_width": ("width", "shape_dominance"),
    "lip_round": ("round", "shape_dominance"), "lip_press": ("press", "contact_dominance"),
    "upper_lip": ("upper", "contact_dominance"), "lower_lip": ("lower", "contact_dominance"),
}


V = Viseme
VISEMES: dict[str, Viseme] = {
    # vowels: jaw by openness, width by spreading, rounding for back rounded vowels
    "AA": V(0.95, width=0.1, jaw_dominance=1.2),
    "AE": V(0.80, width=0.35, upper=0.2, jaw_dominance=1.2),
    "AH": V(0.55),
    "AO": V(0.55, width=-0.3, round=0.45, jaw_dominance=1.2),
    "EH": V(0.60, width=0.3, upper=0.1),
    "ER": V(0.35, width=-0.3, round=0.45),
    "IH": V(0.40, width=0.35),
    "IY": V(0.30, width=0.6, upper=0.1),
    "UH": V(0.35, width=-0.4, round=0.6, shape_dominance=1.2),
    "UW": V(0.25, width=-0.7, round=0.95, shape_dominance=1.5),
    # bilabials: lips shut and pressed, shaped by the neighbouring vowels
    "M": V(0.0, press=1.0, jaw_dominance=3.0, shape_dominance=0.3, contact_dominance=3.0),
    "B": V(0.0, press=1.0, jaw_dominance=3.0, shape_dominance=0.3, contact_dominance=3.0),
    "P": V(0.0, press=1.0, jaw_dominance=3.0, shape_dominance=0.3, contact_dominance=3.0),
    # labiodentals: lower lip tucked under the upper teeth
    "F": V(0.08, lower=-0.8, upper=0.2, jaw_dominance=2.0, shape_dominance=0.3, contact_dominance=2.5),
    "V": V(0.08, lower=-0.8, upper=0.2, jaw_dominance=2.0, shape_dominance=0.3, contact_dominance=2.5),
    # dentals: tongue between the teeth
    "TH": V(0.18, lower=0.1, jaw_dominance=1.2, shape_dominance=0.3, contact_dominance=0.6),
    "DH": V(0.18, lower=0.1, jaw_dominance=1.2, shape_dominance=0.3, contact_dominance=0.6),
    # sibilants: teeth close but lips apart, spread; post-alveolars rounded and protruded
    "S": V(0.20, width=0.4, upper=0.2, shape_dominance=0.8, contact_dominance=0.5),
    "Z": V(0.20, width=0.4, upper=0.2, shape_dominance=0.8, contact_dominance=0.5),
    "SH": V(0.20, width=-0.4, round=0.7, upper=0.3, shape_dominance=1.5, contact_dominance=0.5),
    "ZH": V(0.20, width=-0.4, round=0.7, upper=0.3, shape_dominance=1.5, contact_dominance=0.5),
    "CH": V(0.20, width=-0.4, round=0.7, upper=0.3, shape_dominance=1.5, contact_dominance=0.5),
    "JH": V(0.20, width=-0.4, round=0.7, upper=0.3, shape_dominance=1.5, contact_dominance=0.5),
    # alveolars, velars, glottal: teeth near closed but lips apart; they follow the neighbouring vowels
    "T": V(0.35, jaw_dominance=0.5, shape_dominance=0.2, contact_dominance=0.2),
    "D": V(0.35, jaw_dominance=0.5, shape_dominance=0.2, contact_dominance=0.2),
    "N": V(0.30, jaw_dominance=0.5, shape_dominance=0.2, contact_dominance=0.2),
    "L": V(0.40, jaw_dominance=0.5, shape_dominance=0.2, contact_dominance=0.2),
    "K": V(0.40, jaw_dominance=0.5, shape_dominance=0.2, contact_dominance=0.2),
    "G": V(0.40, jaw_dominance=0.5, shape_dominance=0.2, contact_dominance=0.2),
    "NG": V(0.35, jaw_dominance=0.5, shape_dominance=0.2, contact_dominance=0.2),
    "HH": V(0.45, jaw_dominance=0.2, shape_dominance=0.1, contact_dominance=0.1),
    # approximants
    "R": V(0.20, width=-0.3, round=0.4, jaw_dominance=0.8, contact_dominance=0.3),
    "W": V(0.10, width=-0.7, round=0.9, jaw_dominance=1.5, shape_dominance=2.0, contact_dominance=0.5),
    "Y": V(0.15, width=0.4, jaw_dominance=0.8, shape_dominance=0.8, contact_dominance=0.3),
    # rest: mouth closed and relaxed
    "SIL": V(0.0, jaw_dominance=0.5, shape_dominance=0.5, contact_dominance=0.5),
}
# diphthongs: the visemes of their two parts and the share of the first part
GLIDES: dict[str, tuple[str, str, float]] = {
    "AY": ("AA", "IH", 0.6), "AW": ("AA", "UH", 0.6), "EY": ("EH", "IH", 0.5),
    "OW": ("AO", "UH", 0.5), "OY": ("AO", "IH", 0.6),
}
BILABIALS = frozenset({"M", "B", "P"})
MIN_PAUSE_S = 0.3  # shorter silences are too short to breathe in (stops, hesitations)


def viseme_segments(phones: list[tuple[float, float, str]], jaw_gain: np.ndarray, breath_open: float,
                    breath_s: float) -> list[tuple[float, float, Viseme]]:
    """(start, end, viseme) per phone (diphthongs in two parts), jaw targets scaled by ``jaw_gain``, plus breaths.

    A breath (relaxed lips, jaw at ``breath_open``) takes the last ``breath_s``, at most half, of every silence
    of at least MIN_PAUSE_S that speech follows.
    """
    rest = VISEMES["SIL"]
    breath = replace(rest, jaw=breath_open)
    out = []
    for i, (start, end, phone) in enumerate(phones):
        if phone == "SIL" and i + 1 < len(phones) and end - start >= MIN_PAUSE_S:
            mid = end - min(breath_s, (end - start) / 2)
            out += [(start, mid, rest), (mid, end, breath)]
            continue
        first, second, share = GLIDES.get(phone, (phone, phone, 1.0))
        mid = start + share * (end - start)
        for a, b, part in ((start, mid, first), (mid, end, second)):
            if b > a:
                viseme = VISEMES.get(part, rest)
                out.append((a, b, replace(viseme, jaw=viseme.jaw * jaw_gain[i])))
    return out
