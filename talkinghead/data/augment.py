"""Speech augmentation for training: noise, reverberation, band-limiting, spectral tilt, lossy codecs.

Each transform keeps the length and timing of the samples (16 kHz float32 mono), so that labels made from the
clean speech stay aligned. :func:`augment` draws a random chain of them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

RATE = 16000


def add_noise(x: np.ndarray, snr_db: float, colour: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f^colour spectrum (0 white, 1 pink, 2 brown) at ``snr_db`` below the speech."""
    spectrum = np.fft.rfft(rng.standard_normal(len(x)))
    f = np.maximum(np.fft.rfftfreq(len(x)), 1.0 / len(x))
    noise = np.fft.irfft(spectrum / f ** (colour / 2), len(x))
    power = np.mean(x ** 2) / max(np.mean(noise ** 2), 1e-12)
    return x + noise * np.sqrt(power / 10 ** (snr_db / 10))


def reverberate(x: np.ndarray, rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """Room reverberation: convolution with exponentially decaying noise (``rt60_s``: time to fall 60 dB)."""
    t = np.arange(int(rt60_s * RATE)) / RATE
    response = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60_s)
    response[0] = 1.0
    wet = fftconvolve(x, response)[:len(x)]
    return wet * np.sqrt(np.mean(x ** 2) / max(np.mean(wet ** 2), 1e-12))


def band_limit(x: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Band-pass ``low_hz``-``high_hz`` (telephone, cheap microphones)."""
    return sosfilt(butter(4, [low_hz, min(high_hz, RATE / 2 - 100)], "bandpass", fs=RATE, output="sos"), x)


def tilt(x: np.ndarray, amount: float) -> np.ndarray:
    """Spectral tilt: a first-order pre-emphasis (``amount`` > 0 brighter) or de-emphasis (< 0 duller)."""
    return lfilter([1, -amount], [1], x) if amount > 0 else lfilter([1], [1, amount], x)


def mu_law(x: np.ndarray, bits: int = 8) -> np.ndarray:
    """G.711-style mu-law quantisation to ``bits`` bits."""
    mu = 2 ** bits - 1
    peak = max(np.abs(x).max(), 1e-9)
    y = np.sign(x / peak) * np.log1p(mu * np.abs(x / peak)) / np.log1p(mu)
    y = np.round((y + 1) / 2 * mu) / mu * 2 - 1
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu * peak


def lossy_codec(x: np.ndarray, codec: str, bitrate: int) -> np.ndarray:
    """Encode with ``codec`` (``mp3``, ``aac``, ``opus``) at ``bitrate`` bit/s and decode again (PyAV)."""
    import av

    fmt = {"mp3": "mp3", "aac": "adts", "opus": "ogg"}[codec]
    library = {"mp3": "libmp3lame", "aac": "aac", "opus": "libopus"}[codec]
    rate = 48000 if codec == "opus" else RATE
    pcm = np.interp(np.arange(int(len(x) * rate / RATE)) * RATE / rate, np.arange(len(x)), x) if rate != RATE else x
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as out:
        stream = out.add_stream(library, rate=rate, layout="mono")
        stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(np.clip(pcm, -1, 1).astype(np.float32)[None], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as src:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        chunks = [r.to_ndarray().reshape(-1) for f in src.decode(audio=0) for r in resampler.resample(f)]
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    delay = _delay(x, y)
    y = y[delay:delay + len(x)]
    return np.pad(y, (0, len(x) - len(y)))


def _delay(x: np.ndarray, y: np.ndarray, reach: int = 4096) -> int:
    """Samples by which ``y`` lags ``x`` (encoder priming), 0..``reach``."""
    n = min(len(x), len(y) - reach, 4 * RATE)
    if n <= 0:
        return 0
    scores = [float(np.dot(x[:n], y[d:d + n])) for d in range(0, reach, 16)]
    coarse = 16 * int(np.argmax(scores))
    fine = range(max(0, coarse - 16), coarse + 17)
    return max(fine, key=lambda d: float(np.dot(x[:n], y[d:d + n])))


@dataclass
class AugmentConfig:
    """Probabilities and ranges of each transform."""

    noise: float = 0.5
    snr_db: tuple[float, float] = (0.0, 35.0)
    floor_db: tuple[float, float] = (35.0, 70.0)  # a faint noise floor (below the speech) every recording has
    reverb: float = 0.35
    rt60_s: tuple[float, float] = (0.15, 0.8)
    band: float = 0.3
    tilt: float = 0.4
    codec: float = 0.3


def augment(x: np.ndarray, rng: np.random.Generator, config: AugmentConfig | None = None,
            babble: np.ndarray | None = None) -> tuple[np.ndarray, list]:
    """A random chain of the transforms, ``babble`` (other speech) mixed in below the speech when given; returns the
    samples and the list of what was applied."""
    c = config or AugmentConfig()
    applied: list = []
    y = x.astype(np.float64)
    if babble is not None and len(babble):
        snr = float(rng.uniform(8, 30))
        other = np.resize(babble, len(y)) * np.sqrt(np.mean(y ** 2) / max(np.mean(babble ** 2), 1e-12))
        y, applied = y + other * 10 ** (-snr / 20), applied + [["babble", round(snr, 1)]]
    if rng.random() < c.tilt:
        amount = float(rng.uniform(-0.9, 0.95))
        y, applied = tilt(y, amount), applied + [["tilt", round(amount, 3)]]
    if rng.random() < c.reverb:
        rt60 = float(rng.uniform(*c.rt60_s))
        y, applied = reverberate(y, rt60, rng), applied + [["reverb", round(rt60, 3)]]
    if rng.random() < c.band:
        low, high = float(rng.uniform(60, 400)), float(rng.uniform(2800, 7000))
        y, applied = band_limit(y, low, high), applied + [["band", round(low), round(high)]]
    if rng.random() < c.noise:
        snr, colour = float(rng.uniform(*c.snr_db)), float(rng.choice([0.0, 1.0, 2.0]))
        y, applied = add_noise(y, snr, colour, rng), applied + [["noise", round(snr, 1), colour]]
    else:
        snr, colour = float(rng.uniform(*c.floor_db)), float(rng.choice([0.0, 1.0, 2.0]))
        y, applied = add_noise(y, snr, colour, rng), applied + [["floor", round(snr, 1), colour]]
    if rng.random() < c.codec:
        codec = str(rng.choice(["mp3", "aac", "opus", "mulaw"]))
        if codec == "mulaw":
            y = mu_law(y)
            applied.append(["mulaw"])
        else:
            bitrate = int(rng.choice([16000, 24000, 32000, 48000]))
            y, applied = lossy_codec(y, codec, bitrate), applied + [[codec, bitrate]]
    peak = np.abs(y).max()
    gain = float(rng.uniform(0.05, 0.9)) / max(peak, 1e-9)
    return (y * gain).astype(np.float32), applied
