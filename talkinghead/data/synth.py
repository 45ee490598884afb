"""A synthetic speech corpus with exact lip labels: espeak-ng in many languages and voices, augmented.

Every utterance is random text in a language's own script (pseudo-words built from its letters, and numbers, which
espeak-ng reads out in that language), spoken at a random rate and pitch by one of espeak-ng's voice variants; when
Festival is installed, part of the English utterances are real words said by its voices, which are built from
recordings of real speakers (:mod:`talkinghead.data.festival`). Every utterance is then sped up or slowed down by
resampling (formants and pitch move with it). The lip targets come from the clean speech: the phone timings of the
synthesiser (espeak-ng's phoneme events through :mod:`talkinghead.data.espeak_phones`, or Festival's segments)
drive the phonetic lips, so the timing is exact. The audio that is stored has been through
:func:`talkinghead.data.augment.augment`.

``OUTPUT/<clip id>/`` is laid out like a prepared clip (:mod:`talkinghead.data.prepare`), so the trainers read
both: ``audio.wav`` (16 kHz, augmented), ``mel.npy``, ``phones.npy``, ``motion.json`` (lip channels at 25 fps, the
phones in ``meta``) and ``meta.json`` (written last; ``source`` ``espeak-ng``, ``language``, ``text``, ``augment`` ...).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from talkinghead.config import option
from talkinghead.data.workers import worker_pool
from talkinghead.errors import InputError
from talkinghead.progress import Progress

FPS = 25
LATIN = "bcdfghjklmnprstvwz"
# per language: (consonants, vowels) its pseudo-words are built from
SCRIPTS: dict[str, tuple[str, str]] = {
    "en": (LATIN + "y", "aeiou"), "en-us": (LATIN + "y", "aeiou"), "en-gb": (LATIN + "y", "aeiou"),
    "de": (LATIN + "ß", "aeiouäöü"), "fr": (LATIN + "ç", "aeiouéèàû"), "es": (LATIN + "ñ", "aeiouáé"),
    "it": (LATIN, "aeiou"), "ca": (LATIN + "ç", "aeiouàèéíòóú"), "pt": (LATIN + "ç", "aeiouãõ"),
    "nl": (LATIN, "aeiou"), "sv": (LATIN, "aeiouåäö"),
    "pl": (LATIN + "łżśćń", "aeiouyęą"), "cs": (LATIN + "čřšž", "aeiouyáí"), "tr": (LATIN + "çşğ", "aeiouıöü"),
    "fi": (LATIN, "aeiouyäö"), "id": (LATIN, "aeiou"), "sw": (LATIN, "aeiou"), "vi": (LATIN + "đ", "aeiouơư"),
    "ru": ("бвгджзклмнпрстфхцчшщ", "аеиоуыэюя"), "uk": ("бвгджзклмнпрстфхцчш", "аеиоуєїя"),
    "el": ("βγδζθκλμνξπρστφχψ", "αεηιουω"),
}
HAN = (0x4E00, 0x9FA5)
HANGUL = (0xAC00, 0xD7A3)
KANA = (0x3042, 0x3093)
LANGUAGES = tuple(SCRIPTS) + ("cmn", "ja", "ko")
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3",
            "klatt4", "croak", "grandma", "grandpa", "linda", "david", "john", "belinda", "adam", "anika", "max")


def random_text(language: str, rng: np.random.Generator) -> str:
    """A random utterance in ``language``'s script: 3-12 pseudo-words or numbers, with commas and a full stop."""
    words = []
    for _ in range(int(rng.integers(3, 13))):
        if rng.random() < 0.1:
            words.append(str(int(rng.integers(0, 2000))))
        elif language in SCRIPTS:
            consonants, vowels = SCRIPTS[language]
            syllables = int(rng.integers(1, 4))
            words.append("".join(rng.choice(list(consonants)) * int(rng.random() < 0.85) + rng.choice(list(vowels))
                                 + rng.choice(list(consonants)) * int(rng.random() < 0.3) for _ in range(syllables)))
        else:
            low, high = {"cmn": HAN, "ko": HANGUL, "ja": KANA}[language]
            words.append("".join(chr(int(rng.integers(low, high + 1))) for _ in range(int(rng.integers(1, 4)))))
        if rng.random() < 0.12:
            words[-1] += ","
    return " ".join(words) + "."


@dataclass
class SynthConfig:
    """What the synthetic corpus holds."""

    utterances: int = option(2000, "utterances to synthesise")
    languages: str = option(",".join(LANGUAGES), "comma-separated espeak-ng languages")
    rate_wpm: str = option("110,260", "range of speaking rates, words per minute")
    pitch: str = option("15,85", "range of espeak-ng pitch (0-100)")
    pad_s: float = option(0.8, "longest silence added before and after each utterance, seconds")
    clean: float = option(0.1, "share of utterances left unaugmented")
    speed: str = option("0.85,1.3", "range of the speed perturbation (resampling: formants and pitch move too)")
    festival: float = option(0.7, "share of utterances spoken by Festival's voices (recorded from real speakers) "
                                  "in the languages that have one installed")
    stretch: str = option("0.8,1.3", "range of Festival's phone-duration stretch")
    babble: float = option(0.15, "share of augmented utterances with other speech mixed in below them")
    workers: int = option(2, "processes")
    seed: int = option(0, "seed of the whole corpus (utterance i always gets the same draw)")


def _range(text: str) -> tuple[float, float]:
    low, high = (float(v) for v in text.split(","))
    return low, high


def synth_clip(index: int, clip_dir: Path, config: SynthConfig) -> dict:
    """Synthesise utterance ``index`` into ``clip_dir`` (meta.json last); returns its metadata."""
    from talkinghead.audio.decode import Audio, resample
    from talkinghead.audio.features import AudioFeatures
    from talkinghead.data.augment import augment
    from talkinghead.data.espeak_phones import arpabet_phones, merge_pauses
    from talkinghead.data.festival import festival_speech, installed_voices, lexicon_words
    from talkinghead.data.prepare import write_sound
    from talkinghead.data.tts import synthesize
    from talkinghead.motion.phonetic_lips import PhoneticLips

    rng = np.random.default_rng([config.seed, index])
    languages = [v.strip() for v in config.languages.split(",") if v.strip()]
    language = languages[index % len(languages)]
    speed = float(rng.uniform(*_range(config.speed)))
    voices, said = installed_voices(language), None
    if voices and rng.random() < config.festival:
        voice = str(rng.choice(voices))
        words = lexicon_words() if language.startswith("en") else ()
        text = " ".join(rng.choice(words, int(rng.integers(3, 13)))) if words else random_text(language, rng)
        stretch = float(rng.uniform(*_range(config.stretch)))
        try:
            samples, rate, phones = festival_speech(text, voice, stretch)
            said = {"source": "festival", "voice": voice, "stretch": round(stretch, 3)}
        except InputError:  # a voice's text front end fails on a few pseudo-words: espeak-ng says those
            pass
    if said is None:
        text = random_text(language, rng)
        rate_wpm, pitch = int(rng.uniform(*_range(config.rate_wpm))), int(rng.uniform(*_range(config.pitch)))
        variant = str(rng.choice(VARIANTS))
        speech = synthesize(text, f"{language}+{variant}" if variant else language, rate_wpm, pitch, seed=index)
        samples, rate, phones = speech.samples, speech.rate, arpabet_phones(speech.phonemes)
        said = {"source": "espeak-ng", "variant": variant, "rate_wpm": rate_wpm, "pitch": pitch}
    clean = resample(samples, rate, int(round(16000 / speed)))  # played at 16 kHz: ``speed`` times faster
    lead, tail = (int(rng.uniform(0.05, config.pad_s) * 16000) for _ in range(2))
    samples = np.pad(clean, (lead, tail))
    offset = lead / 16000
    phones = [(0.0, offset, "SIL")] + [(s / speed + offset, e / speed + offset, p) for s, e, p in phones]
    phones.append((phones[-1][1], len(samples) / 16000, "SIL"))
    features = AudioFeatures(Audio(samples, 16000), FPS)
    features.phones = merge_pauses(phones)  # exact, instead of recognised
    motion = PhoneticLips().generate(features)
    babble = None
    if rng.random() < config.babble:
        babble = synthesize(random_text(language, rng), language, seed=index + 1).resampled()
    heard, applied = (samples, []) if rng.random() < config.clean else augment(samples, rng, babble=babble)
    audio = Audio(heard, 16000)
    clip_dir.mkdir(parents=True, exist_ok=True)
    write_sound(clip_dir, AudioFeatures(audio, FPS))
    motion.save(clip_dir / "motion.json")
    meta = {"format": 1, **said, "language": language, "text": text, "speed": round(speed, 4), "augment": applied,
            "fps": FPS, "frames": motion.n_frames, "duration": round(motion.n_frames / FPS, 4), "av_offset": 0}
    tmp = clip_dir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    os.replace(tmp, clip_dir / "meta.json")
    return meta


def _synth_task(task: tuple[int, str, dict]) -> tuple[int, float]:
    index, clip_dir, config = task
    return index, synth_clip(index, Path(clip_dir), SynthConfig(**config))["duration"]


def synth_corpus(output_dir: str | Path, config: SynthConfig | None = None, progress: Progress | None = None) -> dict:
    """Write ``config.utterances`` clips to ``output_dir`` (``synth_00000`` ...); existing clips are kept
    (resumable)."""
    config = config or SynthConfig()
    start = time.perf_counter()
    output_dir = Path(output_dir)
    unknown = {v.strip() for v in config.languages.split(",")} - set(LANGUAGES)
    if unknown:
        raise InputError(None, f"no text generator for {', '.join(sorted(unknown))}; "
                               f"choose from {', '.join(LANGUAGES)}")
    output_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(i, str(output_dir / f"synth_{i:05d}"), asdict(config)) for i in range(config.utterances)
             if not (output_dir / f"synth_{i:05d}" / "meta.json").exists()]
    seconds = 0.0
    with worker_pool(config.workers) as pool:
        results = pool.map(_synth_task, tasks, chunksize=8)
        for _, duration in progress(results, len(tasks)) if progress else results:
            seconds += duration
    return {"output": str(output_dir), "utterances": config.utterances, "written": len(tasks),
            "hours": round(seconds / 3600, 3), "seconds": round(time.perf_counter() - start, 3)}
