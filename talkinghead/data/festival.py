"""Speech from Festival's voices, which are built from recordings of real speakers, with phone timings.

Festival and its voices are Debian packages, not PyPI ones, so they are optional: the synthetic corpus
(:mod:`talkinghead.data.synth`) uses the voices of :data:`VOICES` that are installed. They carry the timbre of human
speech, which espeak-ng's formant synthesis lacks: three American English voices (two men, a woman) and, in their
own languages, Italian, Catalan, Czech, Finnish and Russian women and men. Festival runs as a subprocess per
utterance; its segment relation gives every phone's end time, read into ARPAbet per voice's phone set.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from talkinghead.data import espeak_phones
from talkinghead.errors import InputError

ROOT = Path("/usr/share/festival")
PAUSE = espeak_phones.PAUSE
# CMU "radio" phones (the English voices): ARPAbet in lower case, plus these
RADIO = {"pau": PAUSE, "h#": PAUSE, "brth": PAUSE, "ax": "AH", "axr": "ER", "dx": "D", "nx": "N", "el": "L",
         "em": "M", "en": "N", "hv": "HH"}
# SAMPA-like phones (the Italian, Catalan, Czech and Finnish voices), read like espeak-ng's mnemonics, plus these
SAMPA = {"#": PAUSE, "##": PAUSE, "_": PAUSE, "pau": PAUSE, "ax": "AH"}
CZECH = {**SAMPA, "c": "S", "c~": "CH", "ch": "HH", "s~": "SH", "z~": "ZH"}  # c is /ts/, ~ marks a hacek
FINNISH = {**SAMPA, "7": "UH", "7:": "UH"}  # 7 is o-umlaut
# the Russian voice's phones: stressed vowels doubled, soft consonants doubled (read as the hard ones)
MSU = {**SAMPA, "ii": "IY", "yy": "IH", "uu": "UW", "ee": "EH", "oo": "AO", "aa": "AA", "a": "AH", "e": "EH",
       "i": "IH", "y": "IH", "u": "UH", "ae": "AH", "ay": "EH", "ur": "UH", "c": "S", "ch": "CH", "sh": "SH",
       "sch": "SH", "zh": "ZH"}


@dataclass(frozen=True)
class Voice:
    """One Festival voice: how to select it, where it is installed, what it speaks and how it spells phones."""

    command: str  # the Scheme function that selects it
    folder: str  # under /usr/share/festival/voices
    package: str  # the Debian package that installs it
    language: str  # the synthetic corpus's language code
    encoding: str = "latin-1"  # the text encoding it reads
    phones: dict[str, str] = field(default_factory=lambda: SAMPA)  # phone names read apart from espeak-ng's
    radio: bool = False  # the rest of its phones are ARPAbet in lower case (else espeak-ng-like mnemonics)


VOICES = {
    "kal": Voice("voice_kal_diphone", "english/kal_diphone", "festvox-kallpc16k", "en", phones=RADIO, radio=True),
    "ked": Voice("voice_ked_diphone", "english/ked_diphone", "festvox-kdlpc16k", "en", phones=RADIO, radio=True),
    "slt": Voice("voice_cmu_us_slt_arctic_hts", "us/cmu_us_slt_arctic_hts", "festvox-us-slt-hts", "en",
                 phones=RADIO, radio=True),
    "lp": Voice("voice_lp_diphone", "italian/lp_diphone", "festvox-italp16k", "it"),
    "pc": Voice("voice_pc_diphone", "italian/pc_diphone", "festvox-itapc16k", "it"),
    "ona": Voice("voice_upc_ca_ona_hts", "catalan/upc_ca_ona_hts", "festvox-ca-ona-hts", "ca"),
    "dita": Voice("voice_czech_dita", "czech/czech_dita", "festvox-czech-dita", "cs", "iso-8859-2", CZECH),
    "ph": Voice("voice_czech_ph", "czech/czech_ph", "festvox-czech-ph", "cs", "iso-8859-2", CZECH),
    "lj": Voice("voice_suo_fi_lj_diphone", "finnish/suo_fi_lj_diphone", "festvox-suopuhe-lj", "fi", phones=FINNISH),
    "mv": Voice("voice_hy_fi_mv_diphone", "finnish/hy_fi_mv_diphone", "festvox-suopuhe-mv", "fi", phones=FINNISH),
    "nsh": Voice("voice_msu_ru_nsh_clunits", "russian/msu_ru_nsh_clunits", "festvox-ru", "ru", "utf-8", MSU),
}


def installed_voices(language: str | None = None) -> list[str]:
    """The voices of :data:`VOICES` that are installed (none when festival itself is missing), of ``language``
    only when given (``en-us`` and ``en-gb`` count as ``en``)."""
    if shutil.which("festival") is None:
        return []
    base = language.split("-")[0] if language else None
    return [name for name, v in VOICES.items()
            if (ROOT / "voices" / v.folder).is_dir() and base in (None, v.language)]


@lru_cache(maxsize=1)
def lexicon_words() -> tuple[str, ...]:
    """Plain alphabetic words of Festival's CMU lexicon (for English text made of real words)."""
    path = ROOT / "dicts" / "cmu" / "cmudict-0.4.out"
    if not path.exists():
        return ()
    words = re.findall(r'^\("([a-z]{2,12})" ', path.read_text(errors="replace"), re.M)
    return tuple(sorted(set(words)))


def to_arpabet(phone: str, voice: str = "kal") -> str:
    """A phone of ``voice``'s phone set -> the ARPAbet phone of the viseme table (or ``SIL``)."""
    spec = VOICES[voice]
    if phone in spec.phones:
        return spec.phones[phone]
    if spec.radio:
        return phone.upper()
    return espeak_phones.to_arpabet(re.sub(r"^([a-z])\1$", r"\1", phone))  # a doubled (soft) consonant: its own


def festival_speech(text: str, voice: str, stretch: float = 1.0
                    ) -> tuple[np.ndarray, int, list[tuple[float, float, str]]]:
    """Samples (float32), rate and ARPAbet phones (start, end, phone) covering the audio, for ``text`` said by
    ``voice`` (a key of :data:`VOICES`), phone durations scaled by ``stretch``."""
    if voice not in installed_voices():
        package = VOICES[voice].package if voice in VOICES else "a voice"
        raise InputError(None, f"festival voice {voice!r} is not installed (apt-get install festival {package})")
    spec = VOICES[voice]
    clean = re.sub(r'["\\]', "", text).encode(spec.encoding, errors="ignore").decode(spec.encoding)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        script = Path(tmp) / "say.scm"
        script.write_text(f"""({spec.command})
(Parameter.set 'Duration_Stretch {stretch:.3f})
(set! utt (Utterance Text "{clean}"))
(utt.synth utt)
(utt.save.wave utt "{wav}" 'riff)
(mapcar (lambda (s) (format t "%s %f\\n" (item.name s) (item.feat s "end"))) (utt.relation.items utt 'Segment))
""", encoding=spec.encoding)
        done = subprocess.run(["festival", "--batch", str(script)], capture_output=True, text=True, errors="replace",
                              timeout=60)
        if done.returncode != 0 or not wav.exists():
            raise InputError(None, f"festival failed on {text[:40]!r}: {done.stderr.strip()[:200]}")
        with wave.open(str(wav)) as w:
            rate = w.getframerate()
            samples = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    phones, start = [], 0.0
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[\d.]+", parts[1]):
            end = float(parts[1])
            if end > start:
                phones.append((start, end, to_arpabet(parts[0], voice)))
                start = end
    if phones and phones[-1][1] < len(samples) / rate:
        phones.append((phones[-1][1], len(samples) / rate, "SIL"))
    return samples, rate, phones
