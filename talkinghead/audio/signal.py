"""Signal analysis at 100 Hz below any model: framing, loudness, pitch (YIN), log-mel, resampling to video frames."""

from __future__ import annotations

from functools import cache
from typing import Iterator

import numpy as np
from scipy.signal import get_window

HOP_S = 0.01  # analysis hop of the 100 Hz features (mel, f0), before resampling to video frames
SILENCE_DB = -50.0  # log RMS (dBFS) below which a frame counts as silence


def frame_signal(x: np.ndarray, win: int, hop: int, chunk: int = 4096) -> Iterator[np.ndarray]:
    """Centred frames of ``x`` (zero padded), ``chunk`` frames at a time, shape (<=chunk, win)."""
    n = max(1, int(np.ceil(len(x) / hop)))
    padded = np.pad(x, (win // 2, win // 2 + n * hop - len(x) + win))
    windows = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]
    for start in range(0, n, chunk):
        yield np.asarray(windows[start:start + chunk])


def rms_db(x: np.ndarray, rate: int, hop_s: float, win_s: float) -> np.ndarray:
    """Log RMS in dBFS per hop, floored at -100."""
    power = [np.mean(f.astype(np.float64) ** 2, axis=1) for f in frame_signal(x, int(win_s * rate), int(hop_s * rate))]
    return 10 * np.log10(np.concatenate(power) + 1e-10)


def yin_f0(x: np.ndarray, rate: int, hop_s: float = HOP_S, fmin: float = 60.0, fmax: float = 450.0,
           threshold: float = 0.2, chunk: int = 2048) -> np.ndarray:
    """Fundamental frequency per hop (Hz, 0 where unvoiced) by YIN's cumulative mean normalised difference."""
    win = int(rate / fmin) * 2
    max_lag, min_lag = int(rate / fmin), int(rate / fmax)
    f0 = []
    nfft = 1 << int(np.ceil(np.log2(2 * win)))
    for fr in frame_signal(x, win, int(hop_s * rate), chunk):
        fr = fr.astype(np.float64)
        pitch = np.zeros(len(fr))
        spec = np.fft.rfft(fr, nfft)
        acf = np.fft.irfft(spec * np.conj(spec), nfft)[:, :max_lag + 1]
        energy = np.cumsum(fr ** 2, axis=1)
        w = win - max_lag
        e0 = energy[:, w - 1:w]
        lags = np.arange(max_lag + 1)
        e_shift = energy[:, np.minimum(lags + w - 1, win - 1)] - np.where(lags > 0, energy[:, np.maximum(lags - 1, 0)], 0)
        diff = e0 + e_shift - 2 * acf
        diff[:, 0] = 0
        cmnd = diff[:, 1:] * np.arange(1, max_lag + 1) / np.maximum(np.cumsum(diff[:, 1:], axis=1), 1e-12)
        cmnd[:, :min_lag - 1] = 2.0
        below = cmnd < threshold
        first = np.where(below.any(axis=1), below.argmax(axis=1), -1)
        for row, lag0 in enumerate(first):
            if lag0 < 0:
                continue
            lag = lag0
            while lag + 1 < cmnd.shape[1] and cmnd[row, lag + 1] < cmnd[row, lag]:
                lag += 1
            pitch[row] = rate / (lag + 1)
        f0.append(pitch)
    return np.concatenate(f0)


def mel_filterbank(rate: int, n_fft: int, n_mels: int, fmin: float = 55.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-style triangular mel filters, shape (n_mels, n_fft//2+1)."""
    fmax = fmax or rate / 2
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))
    return fb * (2.0 / (hi - lo))


MEL_WIN_S = 0.025  # the mel's analysis window (Hann), zero-padded to a power of two


def mel_sizes(rate: int, win_s: float = MEL_WIN_S) -> tuple[int, int]:
    """(window, FFT size) in samples of the log-mel at ``rate``: a frame's samples past the window weigh nothing."""
    win = int(win_s * rate)
    return win, 1 << int(np.ceil(np.log2(win)))


@cache
def _mel_basis(rate: int, n_mels: int, win_s: float) -> tuple[np.ndarray, np.ndarray]:
    win, n_fft = mel_sizes(rate, win_s)
    window = np.pad(get_window("hann", win), (0, n_fft - win)).astype(np.float32)
    return window, mel_filterbank(rate, n_fft, n_mels).T.astype(np.float32)


def mel_of_frames(frames: np.ndarray, rate: int, n_mels: int = 80, win_s: float = MEL_WIN_S) -> np.ndarray:
    """(k, FFT size) frames (:func:`mel_sizes`) -> (k, n_mels) log-mel rows, natural log, floored at 1e-5."""
    window, fb = _mel_basis(rate, n_mels, win_s)
    mel = np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32) ** 2 @ fb
    return np.log(np.maximum(mel, 1e-5)).astype(np.float32)


def log_mel(x: np.ndarray, rate: int, hop_s: float = HOP_S, n_mels: int = 80, win_s: float = MEL_WIN_S) -> np.ndarray:
    """Log-mel spectrogram of centred frames (:func:`frame_signal`), shape (hops, n_mels)."""
    frames = frame_signal(x, mel_sizes(rate, win_s)[1], int(hop_s * rate))
    return np.concatenate([mel_of_frames(f, rate, n_mels, win_s) for f in frames])


def to_video_frames(values: np.ndarray, hop_s: float, fps: float, n_frames: int, reduce: str = "mean") -> np.ndarray:
    """Pool 100 Hz values into video frames: frame i covers [i/fps, (i+1)/fps)."""
    edges = np.round(np.arange(n_frames + 1) / fps / hop_s).astype(int)
    edges = np.clip(edges, 0, len(values))
    out = np.empty((n_frames,) + values.shape[1:], np.float64)
    for i in range(n_frames):
        seg = values[edges[i]:max(edges[i + 1], edges[i] + 1)]
        if len(seg) == 0:
            seg = values[-1:]
        out[i] = seg.max(axis=0) if reduce == "max" else seg.mean(axis=0)
    return out


def speech_level(loudness_100hz: np.ndarray) -> float:
    """Loudness (dBFS) of the speech itself: the 90th percentile of the 100 Hz log RMS above silence."""
    active = loudness_100hz[loudness_100hz > SILENCE_DB]
    return float(np.percentile(active, 90)) if len(active) else SILENCE_DB
