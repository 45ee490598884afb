"""English speech from Festival's voices, which are built from recordings of real speakers, with phone timings.

Festival and its voices are Debian packages (``apt-get install festival festvox-kallpc16k festvox-kdlpc16k
festvox-us-slt-hts``: two diphone voices and an HTS voice), not PyPI ones, so they are optional: the synthetic
corpus (:mod:`talkinghead.data.synth`) uses them when they are installed. Their voices carry the timbre of human
speech, which espeak-ng's formant synthesis lacks. Festival runs as a subprocess per utterance; its segment
relation gives every phone's end time, in ARPAbet (lower case, ``pau`` for pauses).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

from talkinghead.errors import InputError

VOICES = {"kal": "voice_kal_diphone", "ked": "voice_ked_diphone", "slt": "voice_cmu_us_slt_arctic_hts"}
VOICE_DIRS = {"kal": "english/kal_diphone", "ked": "english/ked_diphone", "slt": "us/cmu_us_slt_arctic_hts"}
ROOT = Path("/usr/share/festival")
_PHONES = {"pau": "SIL", "h#": "SIL", "brth": "SIL", "ax": "AH", "axr": "ER", "dx": "D", "nx": "N", "el": "L",
           "em": "M", "en": "N", "hv": "HH"}


def installed_voices() -> list[str]:
    """The Festival voices of :data:`VOICES` that are installed (none when festival itself is missing)."""
    if shutil.which("festival") is None:
        return []
    return [name for name, folder in VOICE_DIRS.items() if (ROOT / "voices" / folder).is_dir()]


@lru_cache(maxsize=1)
def lexicon_words() -> tuple[str, ...]:
    """Plain alphabetic words of Festival's CMU lexicon (for English text made of real words)."""
    path = ROOT / "dicts" / "cmu" / "cmudict-0.4.out"
    if not path.exists():
        return ()
    words = re.findall(r'^\("([a-z]{2,12})" ', path.read_text(errors="replace"), re.M)
    return tuple(sorted(set(words)))


def to_arpabet(phone: str) -> str:
    """Festival's radio phone -> the ARPAbet phone of the viseme table."""
    return _PHONES.get(phone, phone.upper())


def festival_speech(text: str, voice: str, stretch: float = 1.0
                    ) -> tuple[np.ndarray, int, list[tuple[float, float, str]]]:
    """Samples (float32), rate and ARPAbet phones (start, end, phone) covering the audio, for ``text`` said by
    ``voice`` (a key of :data:`VOICES`), phone durations scaled by ``stretch``."""
    if voice not in installed_voices():
        raise InputError(None, f"festival voice {voice!r} is not installed (apt-get install festival "
                               "festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)")
    clean = re.sub(r'["\\]', "", text)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        script = Path(tmp) / "say.scm"
        script.write_text(f"""({VOICES[voice]})
(Parameter.set 'Duration_Stretch {stretch:.3f})
(set! utt (Utterance Text "{clean}"))
(utt.synth utt)
(utt.save.wave utt "{wav}" 'riff)
(mapcar (lambda (s) (format t "%s %f\\n" (item.name s) (item.feat s "end"))) (utt.relation.items utt 'Segment))
""")
        done = subprocess.run(["festival", "--batch", str(script)], capture_output=True, text=True, timeout=60)
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
                phones.append((start, end, to_arpabet(parts[0])))
                start = end
    if phones and phones[-1][1] < len(samples) / rate:
        phones.append((phones[-1][1], len(samples) / rate, "SIL"))
    return samples, rate, phones
