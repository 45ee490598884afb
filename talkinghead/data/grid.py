"""The GRID corpus naming scheme: a clip id such as ``bbaf2n`` encodes its six-word sentence."""

from __future__ import annotations

_WORDS = [
    {"b": "bin", "l": "lay", "p": "place", "s": "set"},
    {"b": "blue", "g": "green", "r": "red", "w": "white"},
    {"a": "at", "b": "by", "i": "in", "w": "with"},
    None,  # letter: spoken as itself
    {"z": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
     "8": "eight", "9": "nine"},
    {"a": "again", "n": "now", "p": "please", "s": "soon"},
]


def grid_transcript(clip_id: str) -> str:
    """The sentence of a GRID clip id, e.g. ``bbaf2n`` -> ``bin blue at f two now``."""
    if len(clip_id) != 6:
        raise ValueError(f"not a GRID clip id: {clip_id!r}")
    return " ".join(ch if table is None else table[ch] for ch, table in zip(clip_id.lower(), _WORDS))
