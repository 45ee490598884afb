"""espeak-ng phoneme mnemonics (any language) -> the ARPAbet phones the viseme table knows.

espeak-ng spells phonemes in an ASCII alphabet shared by its languages (Kirshenbaum-like: ``aI``, ``@U``, ``tS``,
``S``, ``T``), with stress (``'`` ``,``), length (``:``) and variant marks (``;`` palatal, ``#`` ``2`` ``-`` ``^``
``~`` ``[``...). The marks are dropped and the longest known prefix decides the phone, so that phonemes of languages
English lacks (``y`` ``Y`` front rounded vowels, ``x`` ``C`` fricatives, ``R`` uvular r) get the lips of their
nearest English sound.
"""

from __future__ import annotations

import re

PAUSE = "SIL"
_MARKS = re.compile(r"['\",:;#\-^~\[\]<>!|=0-9]")
# longest prefixes first; espeak-ng's ``0`` (the vowel in "lot") is read before the digits are stripped
_TABLE: list[tuple[str, str]] = sorted({
    # diphthongs
    "aI": "AY", "aU": "AW", "eI": "EY", "oU": "OW", "@U": "OW", "OI": "OY", "OY": "OY", "ai": "AY", "au": "AW",
    "ei": "EY", "ou": "OW", "eU": "EH", "aI@": "AY", "i@": "IY", "e@": "EH", "U@": "UH", "o@": "AO",
    # vowels
    "a": "AA", "A": "AA", "&": "AE", "V": "AH", "@": "AH", "3": "ER", "E": "EH", "e": "EH", "i": "IY",
    "I": "IH", "o": "OW", "O": "AO", "u": "UW", "U": "UH", "y": "UW", "Y": "UH", "W": "UH", "@L": "L",
    # bilabials and labiodentals
    "p": "P", "b": "B", "m": "M", "f": "F", "v": "V", "B": "V", "w": "W", "F": "V",
    # dentals, sibilants, affricates
    "T": "TH", "D": "DH", "s": "S", "z": "Z", "S": "SH", "Z": "ZH", "tS": "CH", "dZ": "JH", "ts": "S", "dz": "Z",
    "tc": "CH", "c": "K", "J": "N",
    # alveolars, velars, glottal, approximants
    "t": "T", "d": "D", "n": "N", "l": "L", "L": "L", "k": "K", "g": "G", "q": "K", "G": "G", "N": "NG",
    "h": "HH", "H": "HH", "x": "HH", "X": "HH", "C": "HH", "r": "R", "R": "R", "*": "R", "j": "Y", "?": "HH",
}.items(), key=lambda kv: -len(kv[0]))


def to_arpabet(mnemonic: str) -> str:
    """The ARPAbet phone (or ``SIL``) nearest to an espeak-ng phoneme mnemonic."""
    if mnemonic.startswith("_") or not mnemonic.strip():
        return PAUSE
    core = mnemonic.lstrip("',")
    if core.startswith("0"):  # the open back rounded vowel, spelled with a digit
        return "AO"
    core = _MARKS.sub("", core)
    for prefix, phone in _TABLE:
        if core.startswith(prefix):
            return phone
    return PAUSE


def arpabet_phones(phonemes: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """espeak-ng phoneme segments -> ARPAbet segments, neighbouring pauses merged."""
    return merge_pauses([(start, end, to_arpabet(mnemonic)) for start, end, mnemonic in phonemes])


def merge_pauses(phones: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """ARPAbet segments with each run of neighbouring pauses made one pause."""
    out: list[tuple[float, float, str]] = []
    for start, end, phone in phones:
        if out and phone == PAUSE and out[-1][2] == PAUSE:
            out[-1] = (out[-1][0], end, PAUSE)
        else:
            out.append((start, end, phone))
    return out
