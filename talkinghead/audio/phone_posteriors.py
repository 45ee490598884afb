"""Frame-wise phone posteriors from the acoustic model that pocketsphinx bundles (en-us, phonetically tied mixtures).

The model's own front end (its ``feat.params``: 25 mel filters from 130 to 6800 Hz, 13 liftered cepstra with
utterance mean removed, deltas and double deltas; without its noise-suppression stage) feeds each context-independent
phone's three HMM states, scored with their mixture weights over that phone's 128-Gaussian codebook in each of the
three streams. The states' likelihoods are summed per phone and normalised over the 42 phones: a view of the sound
that the recogniser learned from many real speakers, so it varies less with the voice than the spectrum does.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from pocketsphinx import get_model_path

from talkinghead.audio.decode import SAMPLE_RATE, Audio, resample
from talkinghead.audio.signal import frame_signal

MODEL = Path(get_model_path()) / "en-us" / "en-us"
WINDOW, HOP, N_FFT, N_FILTERS, N_CEPSTRA, LIFTER = 410, 160, 512, 25, 13, 22  # feat.params at 16 kHz
LOW_HZ, HIGH_HZ = 130.0, 6800.0
STATES = 3  # emitting states per phone
LN_WEIGHT_STEP = -1024 * np.log(1.0001)  # sendump bytes are -log weights in 1.0001-base units shifted by 10 bits
CHUNK = 2000  # frames scored at a time (bounds memory on long audio)

PHONES = ("+NSN+", "+SPN+", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
          "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "SIL", "T", "TH", "UH", "UW",
          "V", "W", "Y", "Z", "ZH")  # the model's context-independent phones, in its mdef's order (its codebooks')


def _s3_arrays(path: Path) -> list[np.ndarray]:
    """A Sphinx-3 binary Gaussian parameter file (means or variances): per stream (codebooks, densities, dims)."""
    raw = path.read_bytes()
    at = raw.index(b"endhdr\n") + 7
    order = "<" if np.frombuffer(raw, "<u4", 1, at)[0] == 0x11223344 else ">"
    n_codebooks, n_streams, n_densities = np.frombuffer(raw, order + "i4", 3, at + 4)
    dims = np.frombuffer(raw, order + "i4", n_streams, at + 16)
    at += 16 + 4 * n_streams
    values = np.frombuffer(raw, order + "f4", int(np.frombuffer(raw, order + "i4", 1, at)[0]), at + 4)
    flat = values.reshape(n_codebooks, -1)
    bounds = np.cumsum([0] + [n_densities * d for d in dims])
    return [flat[:, a:b].reshape(n_codebooks, n_densities, -1) for a, b in zip(bounds[:-1], bounds[1:])]


def _mixture_weights(path: Path, n_senones: int) -> np.ndarray:
    """Mixture weights of the first ``n_senones`` senones (the context-independent states, three per phone), as
    (streams, phones, states, densities), from the recogniser's quantised ``sendump``."""
    raw = path.read_bytes()
    order = "<" if 0 < np.frombuffer(raw, "<i4", 1, 0)[0] < 4096 else ">"
    at = 0
    while (size := int(np.frombuffer(raw, order + "i4", 1, at)[0])) != 0:  # header strings, then a 0
        at += 4 + size
    n_densities, n_all = np.frombuffer(raw, order + "i4", 2, at + 4)
    quantised = np.frombuffer(raw, np.uint8, 3 * n_densities * n_all, at + 12).reshape(3, n_densities, n_all)
    weights = np.exp(quantised[..., :n_senones] * LN_WEIGHT_STEP).astype(np.float32)
    return weights.reshape(3, n_densities, n_senones // STATES, STATES).transpose(0, 2, 3, 1)


@cache
def _model() -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], np.ndarray]:
    """Per stream: (-1/2var (G, D), mean/var (G, D), per-Gaussian constant (G,)); and the mixture weights."""
    means, variances = _s3_arrays(MODEL / "means"), _s3_arrays(MODEL / "variances")
    streams = []
    for mean, var in zip(means, variances):
        var = np.maximum(var, 1e-4).reshape(-1, var.shape[-1]).astype(np.float64)  # unused Gaussians have 0 variance
        mean = mean.reshape(var.shape).astype(np.float64)
        const = -0.5 * ((mean ** 2 / var).sum(1) + np.log(2 * np.pi * var).sum(1))
        streams.append(((-0.5 / var).astype(np.float32), (mean / var).astype(np.float32), const.astype(np.float32)))
    return streams, _mixture_weights(MODEL / "sendump", len(PHONES) * STATES)


@cache
def _mel_filters() -> np.ndarray:
    """(N_FILTERS, N_FFT / 2 + 1) unit-area triangles on the mel scale, their corners on FFT bins (as Sphinx)."""
    mel, hz = (lambda f: 2595 * np.log10(1 + f / 700)), (lambda m: 700 * (10 ** (m / 2595) - 1))
    step = SAMPLE_RATE / N_FFT
    width = (mel(HIGH_HZ) - mel(LOW_HZ)) / (N_FILTERS + 1)
    freqs = np.arange(N_FFT // 2 + 1) * step
    filters = np.zeros((N_FILTERS, len(freqs)))
    for i in range(N_FILTERS):
        left, centre, right = (np.round(hz(mel(LOW_HZ) + (i + j) * width) / step) * step for j in range(3))
        rise, fall = (freqs - left) / (centre - left), (right - freqs) / (right - centre)
        inside = (freqs >= left) & (freqs <= right)
        filters[i] = np.where(inside, np.minimum(rise, fall), 0.0) * 2 / (right - left)
    return filters


def sphinx_features(samples: np.ndarray) -> list[np.ndarray]:
    """16 kHz samples (-1..1) -> the model's three streams, each (frames, 13): cepstra, deltas, double deltas.

    Frame j is centred at j * 10 ms, like :func:`~talkinghead.audio.features.log_mel`."""
    x = np.asarray(samples, np.float64) * 32768
    x = x + (np.random.default_rng(0).integers(0, 4, len(x)) == 0)  # Sphinx's dither: digital silence is faint noise
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    hamming = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(WINDOW) / (WINDOW - 1))
    filters = _mel_filters().T
    k, j = np.arange(N_CEPSTRA)[:, None], np.arange(N_FILTERS)[None]
    dct = np.cos(np.pi / N_FILTERS * k * (j + 0.5)) * np.sqrt(2 / N_FILTERS)
    dct[0] = np.sqrt(1 / N_FILTERS)
    lifter = 1 + LIFTER / 2 * np.sin(np.arange(N_CEPSTRA) * np.pi / LIFTER)
    cepstra = np.concatenate([np.log(np.maximum(np.abs(np.fft.rfft(f * hamming, N_FFT)) ** 2 @ filters, 1e-4))
                              for f in frame_signal(x, WINDOW, HOP)]) @ dct.T * lifter
    cepstra -= cepstra.mean(0)
    c = np.pad(cepstra, ((3, 3), (0, 0)), mode="edge")
    delta = c[5:-1] - c[1:-5]
    double = (c[6:] - c[2:-4]) - (c[4:-2] - c[:-6])
    return [cepstra.astype(np.float32), delta.astype(np.float32), double.astype(np.float32)]


def phone_log_posteriors(audio: Audio) -> np.ndarray:
    """(frames at 100 Hz, 42) natural-log posteriors of the model's phones (:data:`PHONES`), uniform prior."""
    streams, weights = _model()
    features = sphinx_features(resample(audio.samples, audio.rate, SAMPLE_RATE))
    n = len(features[0])
    out = np.empty((n, len(PHONES)), np.float32)
    for a in range(0, n, CHUNK):
        states = 0.0
        for (inv_var, scaled_mean, const), weight, f in zip(streams, weights, features):
            f = f[a:a + CHUNK]
            ll = ((f ** 2) @ inv_var.T + f @ scaled_mean.T + const).reshape(len(f), len(PHONES), -1)
            peak = ll.max(-1, keepdims=True)  # a state's codebook is its phone's
            mix = np.matmul(np.exp(ll - peak).transpose(1, 0, 2), weight.transpose(0, 2, 1)).transpose(1, 0, 2)
            states = states + np.log(np.maximum(mix, 1e-30)) + peak
        per_phone = np.logaddexp.reduce(states, -1)
        out[a:a + CHUNK] = per_phone - np.logaddexp.reduce(per_phone, -1, keepdims=True)
    return out

