"""Helpers shared by the non-lip generators: smoothing, drift noise, pulses, speech runs, prosodic accents, timing."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d, minimum_filter1d
from scipy.signal import find_peaks, medfilt

from talkinghead.audio.features import AudioFeatures

SPEECH_ACTIVITY = 0.3  # activity above which a frame counts as speech


def frame_times(n: int, fps: float) -> np.ndarray:
    """Time in seconds at the centre of each frame."""
    return (np.arange(n) + 0.5) / fps


def smooth(x: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Gaussian low-pass of a per-frame signal; ``seconds`` is the kernel's standard deviation."""
    return gaussian_filter1d(np.asarray(x, np.float64), seconds * fps, mode="nearest")


def masked_smooth(x: np.ndarray, mask: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Local average of ``x`` over the frames where ``mask`` holds, interpolated across the others."""
    weight = smooth(mask.astype(np.float64), fps, seconds)
    return smooth(np.where(mask, x, 0.0), fps, seconds) / np.maximum(weight, 1e-9)


def drift(rng: np.random.Generator, n: int, fps: float, seconds: float) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed at time scale ``seconds``: smooth, aperiodic wandering."""
    sigma = seconds * fps
    pad = int(4 * sigma) + 1
    noise = gaussian_filter1d(rng.standard_normal(n + 2 * pad), sigma)[pad:pad + n]
    return noise * np.sqrt(2 * np.sqrt(np.pi) * sigma)  # a Gaussian kernel's sum of squares is 1/(2 sqrt(pi) sigma)


def pulses(n: int, fps: float, times: np.ndarray, heights: np.ndarray | float, rise: np.ndarray | float,
           fall: np.ndarray | float, hold: np.ndarray | float = 0.0) -> np.ndarray:
    """Sum of smooth bumps of ``heights``: a raised-cosine rise over ``rise`` s ending at ``times``, a plateau of
    ``hold`` s, then a raised-cosine fall over ``fall`` s."""
    times, heights, rise, fall, hold = (np.broadcast_to(np.asarray(v, np.float64), np.shape(times))[:, None]
                                        for v in (times, heights, rise, fall, hold))
    out = np.zeros(n)
    if len(times) == 0:
        return out
    span = int(np.ceil((rise + hold + fall).max() * fps)) + 2
    idx = np.floor((times - rise) * fps).astype(int) + np.arange(span)
    values = heights * bump((idx + 0.5) / fps - times, rise, fall, hold)
    inside = (idx >= 0) & (idx < n)
    np.add.at(out, idx[inside], values[inside])
    return out


def bump(dt: np.ndarray, rise: np.ndarray | float, fall: np.ndarray | float,
         hold: np.ndarray | float = 0.0) -> np.ndarray:
    """A smooth bump of height 1 at ``dt`` seconds from its peak: a raised-cosine rise over ``rise`` s, a plateau of
    ``hold`` s, a raised-cosine fall over ``fall`` s, 0 outside."""
    u = np.where(dt < 0, dt / np.maximum(rise, 1e-6), np.maximum(dt - hold, 0) / np.maximum(fall, 1e-6))
    return np.where(np.abs(u) < 1, 0.5 * (1 + np.cos(np.pi * u)), 0.0)


def runs(mask: np.ndarray) -> np.ndarray:
    """(start, end) frame pairs of the runs where ``mask`` is true, end exclusive; shape (k, 2)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def speech_mask(features: AudioFeatures, bridge_s: float = 0.2, min_s: float = 0.08) -> np.ndarray:
    """True on speech frames: gaps under ``bridge_s`` (stops, breaths) bridged, blips under ``min_s`` dropped."""
    mask = features.activity > SPEECH_ACTIVITY
    for start, end in runs(~mask):
        if 0 < start and end < len(mask) and end - start < bridge_s * features.fps:
            mask[start:end] = True
    for start, end in runs(mask):
        if end - start < min_s * features.fps:
            mask[start:end] = False
    return mask


def semitones(features: AudioFeatures, speech: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pitch in semitones relative to the speaker's median and its voicing mask; octave jumps and one-frame tracker
    errors are removed by folding and a running median over the voiced frames."""
    voiced = features.voiced & speech
    st = np.zeros(len(voiced))
    if voiced.sum() < 5:
        return st, np.zeros(len(voiced), bool)
    raw = 12 * np.log2(features.f0[voiced] / np.median(features.f0[voiced]))
    raw -= 12 * np.round(np.maximum(raw - 3, 0) / 12)  # more than ~9 semitones above the median: a tracker octave error
    raw -= 12 * np.round((raw - medfilt(raw, 7)) / 12)
    st[voiced] = medfilt(raw, 5)
    return st, voiced


def syllable_prominence(features: AudioFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Syllable nuclei (loudness peaks in speech) and their prominence 0..1.

    Prominence combines the pitch accent (semitones above the speaker's median and above the local contour), the
    stress (dB above neighbouring nuclei) and the energy onset (dB rise over the preceding ~100 ms).
    """
    fps, speech = features.fps, speech_mask(features)
    loud = features.loudness
    nuclei, _ = find_peaks(loud, distance=max(1, round(0.12 * fps)), prominence=1.5)
    nuclei = nuclei[speech[nuclei]]
    st, voiced = semitones(features, speech)
    near = max(1, round(0.08 * fps))
    peak_st = maximum_filter1d(np.where(voiced, st, -np.inf), 2 * near + 1)[nuclei]
    has_pitch = np.isfinite(peak_st)
    peak_st = np.where(has_pitch, peak_st, 0.0)
    accent = np.where(has_pitch, 0.5 * peak_st + (peak_st - masked_smooth(st, voiced, fps, 0.6)[nuclei]), 0.0)
    is_nucleus = np.zeros(len(loud), bool)
    is_nucleus[nuclei] = True
    stress = loud[nuclei] - masked_smooth(loud, is_nucleus, fps, 0.8)[nuclei]
    onset = np.clip(loud[nuclei] - minimum_filter1d(loud, 2 * near + 1, origin=near)[nuclei], 0, 24)
    score = accent / 2.5 + stress / 3 + onset / 12 - 1.5
    return nuclei, 1 / (1 + np.exp(-score))


def accents(features: AudioFeatures, threshold: float, min_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames of the syllables whose prominence exceeds ``threshold``, the strongest kept within ``min_gap_s``."""
    nuclei, prominence = syllable_prominence(features)
    signal = np.zeros(features.n_frames)
    signal[nuclei] = prominence
    frames, props = find_peaks(signal, height=threshold, distance=max(1, round(min_gap_s * features.fps)))
    return frames, props["peak_heights"]


def renewal_times(rng: np.random.Generator, hazard: np.ndarray, fps: float, rate_per_min: float,
                  min_gap_s: float, shape: float) -> np.ndarray:
    """Event times (s) of a gamma renewal process with a refractory gap, run in operational time.

    Events gather where the relative per-frame ``hazard`` is high while the mean rate stays ``rate_per_min``;
    consecutive intervals are ``min_gap_s`` plus a gamma-distributed excess, so no two are alike.
    """
    if rate_per_min <= 0:
        return np.zeros(0)
    h = np.maximum(hazard, 1e-3)
    real = np.arange(len(h) + 1) / fps
    operational = np.concatenate([[0.0], np.cumsum(h / h.mean())]) / fps
    excess = max(60.0 / rate_per_min - min_gap_s, 0.05)
    t = float(np.interp(rng.uniform(0, min_gap_s + excess), operational, real))
    times = []
    while t < real[-1]:
        times.append(t)
        t = float(np.interp(np.interp(t + min_gap_s, real, operational) + rng.gamma(shape, excess / shape),
                            operational, real))
    return np.asarray(times)
