"""Text to speech with exact phoneme timings, from espeak-ng (the library bundled by ``espeakng-loader``).

espeak-ng is loaded once per process with :mod:`ctypes` and run in synchronous mode: every call to
:func:`synthesize` collects, from the synthesis callback, the 16-bit samples and the events espeak-ng
emits while it speaks -- one per phoneme (its mnemonic, e.g. ``m``, ``aI``, ``@U``, ``_:`` for pauses)
and one per word -- with their positions in the audio. This gives training data for lip models with
phoneme timings that are exact by construction, and speech for examples and tests without any media.

espeak-ng keeps global state, so calls are serialised by a lock (safe from threads); a forked child
process gets its own copy of the library and lock. The native sample rate is espeak-ng's (22050 Hz);
:meth:`Speech.to_audio` gives the pipeline's 16 kHz :class:`~talkinghead.audio.Audio`. espeak-ng's
noise generator is seeded on every call (``seed``), so a fresh process making the same calls gets the
same samples; but some of espeak-ng's synthesis state (pitch flutter) carries over from one call to
the next and cannot be reset, so the same text said twice in one process can differ by a few
milliseconds. The timings returned always match the samples returned.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass, field

import numpy as np

from talkinghead.errors import InputError

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_SENTENCE = 2
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_WORDGAP = 7
_EE_OK = 0

RATE_RANGE = (80, 450)  # words per minute that espeak-ng speaks without a speed-up filter
PITCH_RANGE = (0, 100)


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),  # phoneme mnemonic, NUL-terminated unless it fills all 8 bytes
    ]


class _Event(ctypes.Structure):
    # espeak_EVENT; on 64-bit: type 0, unique_identifier 4, text_position 8, length 12,
    # audio_position 16, sample 20, user_data 24, id 32, size 40 (ctypes aligns the same way as C).
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds from the start of this synthesis
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated name)*, then a 0 byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))

assert ctypes.sizeof(_Event) == (40 if ctypes.sizeof(ctypes.c_void_p) == 8 else 32)


@dataclass(frozen=True)
class Speech:
    """Synthesised speech: float32 mono ``samples`` at ``rate`` Hz and what is said when.

    ``phonemes`` are ``(start_s, end_s, mnemonic)`` in espeak-ng's phoneme mnemonics, stress marks
    included (``'aI``, ``,E``; pauses are ``_``, ``_:``, ``_!`` ...); each ends where the next starts, the
    first starts at 0 (leading silence is a ``_`` pause) and the last ends at the audio end, so together
    they cover the audio without gaps. Times are exact to the sample (espeak-ng places each event
    at a sample index); zero-length entries and
    language-switch markers such as ``(en)`` are left out. ``words`` are ``(start_s, end_s, text)`` with the
    word as written in the input; a word ends where its last phoneme ends (pauses excluded).
    """

    samples: np.ndarray
    rate: int
    phonemes: list[tuple[float, float, str]] = field(default_factory=list)
    words: list[tuple[float, float, str]] = field(default_factory=list)
    text: str = ""
    voice: str = ""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate

    def resampled(self, rate: int = 16000) -> np.ndarray:
        """The samples at ``rate`` Hz (float32; timings are unchanged)."""
        from talkinghead.audio.decode import resample

        return self.samples if rate == self.rate else resample(self.samples, self.rate, rate)

    def to_audio(self, rate: int = 16000):  # noqa: ANN201 - talkinghead.audio.Audio, imported lazily
        """The speech as the pipeline's :class:`talkinghead.audio.Audio` (16 kHz mono by default)."""
        from talkinghead.audio.decode import Audio

        return Audio(samples=self.resampled(rate), rate=rate)


class _Engine:
    """One initialised espeak-ng per process."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        self._seed_fn = getattr(lib, "espeak_ng_SetRandSeed", None)  # espeak-ng >= 1.52
        if self._seed_fn is not None:
            self._seed_fn.restype = None
            self._seed_fn.argtypes = [ctypes.c_long]
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data at {data.decode()} (code {rate})")
        self.lib = lib
        self.rate = rate
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.voice: str | None = None
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, float, int, int, str]] = []  # type, seconds, text pos, length, label
        self._error: BaseException | None = None
        self._callback = _CALLBACK(self._on_synth)  # kept referenced: espeak-ng holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._languages: dict[str, str] | None = None
        self._voice_names: dict[str, str] = {}

    def _on_synth(self, wav, n, events) -> int:  # noqa: ANN001 - ctypes callback
        try:
            if n > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            i = 0
            while True:
                ev = events[i]
                if ev.type == _EVENT_LIST_TERMINATED:
                    break
                if ev.type == _EVENT_PHONEME:
                    label = ev.id.string.decode("utf-8", "replace")  # c_char array stops at NUL or 8
                elif ev.type in (_EVENT_WORD, _EVENT_SENTENCE):
                    label = str(ev.id.number)
                else:
                    label = ""
                self._events.append((ev.type, _event_time(ev, self.rate), ev.text_position, ev.length, label))
                i += 1
        except BaseException as exc:  # never let a Python error unwind through C: stop, raise later
            self._error = exc
            return 1
        return 0

    def _scan(self) -> None:
        """Read espeak-ng's voice list: language names and voice names, each to a voice identifier."""
        best: dict[str, tuple[int, str]] = {}
        names: dict[str, str] = {}
        voices = self.lib.espeak_ListVoices(None)
        i = 0
        while voices[i]:
            v = voices[i].contents
            ident = v.identifier.decode("utf-8", "replace")
            names[ident.lower()] = ident
            if v.name:
                names[v.name.decode("utf-8", "replace").lower()] = ident
            p = v.languages
            while p:
                priority = ctypes.c_ubyte.from_address(p).value
                name = ctypes.string_at(p + 1)
                if priority == 0 or not name:  # a 0 priority byte ends the list
                    break
                lang = name.decode("utf-8", "replace").lower()
                if lang not in best or priority < best[lang][0]:
                    best[lang] = (priority, ident)
                p += 1 + len(name) + 1
            i += 1
        self._languages = {lang: ident for lang, (_, ident) in sorted(best.items())}
        self._voice_names = names

    def languages(self) -> dict[str, str]:
        """Each language name -> the identifier of the voice that speaks it with the highest priority."""
        if self._languages is None:
            self._scan()
        return self._languages

    def resolve(self, voice: str) -> str:
        """The espeak-ng voice name for a language name (or voice name/identifier), optionally with a
        ``+variant``; an :class:`InputError` for anything espeak-ng does not have."""
        unknown = f"unknown espeak-ng voice {voice!r}; choose a language from talkinghead.data.tts.list_voices()"
        if not isinstance(voice, str):
            raise InputError(None, unknown)
        base, plus, variant = voice.strip().partition("+")
        languages = self.languages()
        ident = languages.get(base.lower()) or self._voice_names.get(base.lower())
        if ident is None:
            raise InputError(None, unknown)
        if plus:
            import espeakng_loader

            folder = os.path.join(espeakng_loader.get_data_path(), "voices", "!v")
            variants = {f.lower(): f for f in os.listdir(folder)} if os.path.isdir(folder) else {}
            if variant.lower() not in variants:
                raise InputError(None, f"unknown espeak-ng voice variant {variant!r} in {voice!r}")
            variant = variants[variant.lower()]
        return ident + plus + variant

    def set_voice(self, voice: str) -> None:
        if voice == self.voice:
            return
        name = self.resolve(voice)
        self.voice = None
        if self.lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            raise InputError(None, f"espeak-ng could not load voice {voice!r} ({name})")
        self.voice = voice

    def synth(self, text: str, voice: str, rate_wpm: int, pitch: int, seed: int | None) -> Speech:
        self.set_voice(voice)
        lib = self.lib
        if seed is not None and self._seed_fn is not None:
            self._seed_fn(int(seed))
        lib.espeak_SetParameter(_PARAM_RATE, int(rate_wpm), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        lib.espeak_SetParameter(_PARAM_VOLUME, 100, 0)
        lib.espeak_SetParameter(_PARAM_WORDGAP, 0, 0)
        self._chunks, self._events, self._error = [], [], None
        data = text.encode("utf-8")
        buf = ctypes.create_string_buffer(data)
        err = lib.espeak_Synth(buf, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        chunks, events, error = self._chunks, self._events, self._error
        self._chunks, self._events, self._error = [], [], None
        if error is not None:
            raise RuntimeError(f"espeak-ng synthesis callback failed: {error!r}") from error
        if err != _EE_OK:
            raise RuntimeError(f"espeak-ng failed to synthesise (code {err})")
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        samples = (pcm.astype(np.float32) / 32768.0).astype(np.float32)
        return _assemble(samples, self.rate, events, text, voice)


def _event_time(ev: _Event, rate: int) -> float:
    """Seconds from the start of the audio: the event's sample index (exact) where it agrees with its
    millisecond ``audio_position``, else the milliseconds."""
    ms = ev.audio_position
    if ev.sample > 0 and abs(ev.sample * 1000.0 / rate - ms) <= 2.0:
        return ev.sample / rate
    return ms / 1000.0


def _assemble(samples: np.ndarray, rate: int, events: list, text: str, voice: str) -> Speech:
    duration = len(samples) / rate
    starts: list[tuple[float, str]] = []
    for typ, t, _, _, label in events:
        if typ == _EVENT_PHONEME and label and not (label.startswith("(") and label.endswith(")")):
            # "(en)"-style entries mark a switch of language, not a sound
            starts.append((min(max(t, 0.0), duration), label))
    if starts and starts[0][0] > 0:
        starts.insert(0, (0.0, "_"))  # the leading silence before the first phoneme is a pause
    phonemes: list[tuple[float, float, str]] = []
    for k, (start, label) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else duration
        if end <= start:
            continue  # zero-length entries (boundary pauses, some "ja" consonants) are neither heard nor seen
        if phonemes and phonemes[-1][1] < start:  # keep the cover gap-free after a dropped entry
            phonemes[-1] = (phonemes[-1][0], start, phonemes[-1][2])
        phonemes.append((start, max(start, end), label))
    if phonemes and phonemes[-1][1] < duration:
        phonemes[-1] = (phonemes[-1][0], duration, phonemes[-1][2])
    word_events = [(min(t, duration), tpos, length) for typ, t, tpos, length, _ in events if typ == _EVENT_WORD]
    words: list[tuple[float, float, str]] = []
    for k, (start, tpos, length) in enumerate(word_events):
        limit = word_events[k + 1][0] if k + 1 < len(word_events) else duration
        end = start  # a word ends where its last spoken (non-pause) phoneme ends
        for p_start, p_end, label in phonemes:
            if p_start >= limit:
                break
            if p_start >= start and not label.startswith("_"):
                end = p_end
        end = min(max(end, start), limit)
        i0 = max(tpos - 1, 0)  # text positions count characters (not bytes) from 1
        words.append((start, end, text[i0 : i0 + max(length, 0)]))
    return Speech(samples=samples, rate=rate, phonemes=phonemes, words=words, text=text, voice=voice)


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE, _ENGINE_LOCK
    if _ENGINE is not None and _ENGINE.pid != os.getpid():
        # Forked child: the copied library state is usable, but a lock held by another thread at
        # fork time would never be released here.
        _ENGINE.lock = threading.Lock()
        _ENGINE.pid = os.getpid()
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                _ENGINE = _Engine()
    return _ENGINE


def list_voices() -> list[str]:
    """Language names espeak-ng can speak, lower case and sorted (``en``, ``en-us``, ``de``, ``zh`` ...)."""
    engine = _engine()
    with engine.lock:
        return list(engine.languages())


def synthesize(
    text: str, voice: str = "en", rate_wpm: int = 160, pitch: int = 50, seed: int | None = 0
) -> Speech:
    """Speak ``text`` with espeak-ng; return the samples and the phoneme and word timings.

    ``voice`` is a language name from :func:`list_voices` (case-insensitive; an espeak-ng voice name
    or identifier such as ``gmw/en-US`` works too), optionally with a variant (``en+f3``); ``rate_wpm``
    is espeak-ng's nominal speaking rate in words per minute (80-450), ``pitch`` 0-100 (50 normal).
    ``seed`` seeds espeak-ng's noise generator (aspiration, fricatives) before the call; ``None``
    keeps its clock-seeded state.
    Unknown voices, empty or unspeakable text and out-of-range settings raise :class:`InputError`.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(None, "nothing to say: the text is empty")
    if not RATE_RANGE[0] <= rate_wpm <= RATE_RANGE[1]:
        raise InputError(None, f"speaking rate {rate_wpm} wpm is outside {RATE_RANGE[0]}-{RATE_RANGE[1]}")
    if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        raise InputError(None, f"pitch {pitch} is outside {PITCH_RANGE[0]}-{PITCH_RANGE[1]}")
    engine = _engine()
    with engine.lock:
        speech = engine.synth(text, voice, rate_wpm, pitch, seed)
    if not any(not label.startswith("_") for _, _, label in speech.phonemes):
        raise InputError(None, f"nothing to say: espeak-ng ({voice}) speaks no sounds for {text[:40]!r}")
    return speech
