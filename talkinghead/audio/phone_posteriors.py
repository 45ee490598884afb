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
from scipy.signal import lfilter

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


def _cepstra(frames: np.ndarray) -> np.ndarray:
    """(k, WINDOW) pre-emphasised samples (16-bit scale) -> (k, 13) liftered mel cepstra."""
    hamming = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(WINDOW) / (WINDOW - 1))
    k, j = np.arange(N_CEPSTRA)[:, None], np.arange(N_FILTERS)[None]
    dct = np.cos(np.pi / N_FILTERS * k * (j + 0.5)) * np.sqrt(2 / N_FILTERS)
    dct[0] = np.sqrt(1 / N_FILTERS)
    lifter = 1 + LIFTER / 2 * np.sin(np.arange(N_CEPSTRA) * np.pi / LIFTER)
    power = np.abs(np.fft.rfft(frames * hamming, N_FFT)) ** 2
    return np.log(np.maximum(power @ _mel_filters().T, 1e-4)) @ dct.T * lifter


def _streams(c: np.ndarray) -> list[np.ndarray]:
    """(k + 6, 13) mean-removed cepstra -> the three streams of the middle k rows: cepstra, deltas, double deltas."""
    delta = c[5:-1] - c[1:-5]
    double = (c[6:] - c[2:-4]) - (c[4:-2] - c[:-6])
    return [c[3:-3].astype(np.float32), delta.astype(np.float32), double.astype(np.float32)]


def sphinx_features(samples: np.ndarray) -> list[np.ndarray]:
    """16 kHz samples (-1..1) -> the model's three streams, each (frames, 13): cepstra, deltas, double deltas.

    Frame j is centred at j * 10 ms, like :func:`~talkinghead.audio.features.log_mel`."""
    x = np.asarray(samples, np.float64) * 32768
    x = x + (np.random.default_rng(0).integers(0, 4, len(x)) == 0)  # Sphinx's dither: digital silence is faint noise
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    cepstra = np.concatenate([_cepstra(f) for f in frame_signal(x, WINDOW, HOP)])
    cepstra -= cepstra.mean(0)
    return _streams(np.pad(cepstra, ((3, 3), (0, 0)), mode="edge"))


def _log_posteriors(features: list[np.ndarray]) -> np.ndarray:
    """The three streams' (k, 13) rows -> (k, 42) natural-log phone posteriors."""
    streams, weights = _model()
    states = 0.0
    for (inv_var, scaled_mean, const), weight, f in zip(streams, weights, features):
        ll = ((f ** 2) @ inv_var.T + f @ scaled_mean.T + const).reshape(len(f), len(PHONES), -1)
        peak = ll.max(-1, keepdims=True)  # a state's codebook is its phone's
        mix = np.matmul(np.exp(ll - peak).transpose(1, 0, 2), weight.transpose(0, 2, 1)).transpose(1, 0, 2)
        states = states + np.log(np.maximum(mix, 1e-30)) + peak
    per_phone = np.logaddexp.reduce(states, -1)
    return (per_phone - np.logaddexp.reduce(per_phone, -1, keepdims=True)).astype(np.float32)


def phone_log_posteriors(audio: Audio) -> np.ndarray:
    """(frames at 100 Hz, 42) natural-log posteriors of the model's phones (:data:`PHONES`), uniform prior."""
    features = sphinx_features(resample(audio.samples, audio.rate, SAMPLE_RATE))
    n = len(features[0])
    out = np.empty((n, len(PHONES)), np.float32)
    for a in range(0, n, CHUNK):
        out[a:a + CHUNK] = _log_posteriors([f[a:a + CHUNK] for f in features])
    return out


# The live cepstral mean: a typical mean of real recordings (c0..c12) that weighs as much as CMN_PRIOR_ROWS rows at
# the start, then an exponential mean over about CMN_MEMORY_S (pocketsphinx's live CMN: a 5 s window). On real
# recordings (none of the benchmarked clips) the live rows pick the utterance mean's phone 78% of the time in their
# first 3 s, 86% overall; the shipped causal lips learned from these rows, so changing them needs retraining.
CMN_INIT = np.array([63.5, 2.7, 1.4, 7.5, 1.7, -2.0, -6.5, 2.5, -1.6, 1.2, -2.2, 1.5, 0.7])
CMN_PRIOR_ROWS = 50.0
CMN_MEMORY_S = 5.0
DELTA_ROWS = 3  # rows of cepstra ahead (and behind) that a row's deltas read


def _dither(start: int, n: int) -> np.ndarray:
    """Sphinx's dither (+1 on about a quarter of the samples) as a hash of each sample's absolute index: the same
    for any chunking of a stream."""
    index = np.arange(start, start + n, dtype=np.uint64)
    return (((index * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(62)) == 0).astype(np.float64)


class LivePhonePosteriors:
    """:func:`phone_log_posteriors` while the sound arrives: 16 kHz samples in chunks of any size -> the rows whose
    deltas' :data:`DELTA_ROWS` rows ahead have arrived, the cepstral mean removed by a running mean (from
    :data:`CMN_INIT`, forgetting over :data:`CMN_MEMORY_S`) instead of the utterance's. Any chunking gives the same
    rows; the state is a window's samples and seven rows."""

    ahead_samples: int = DELTA_ROWS * HOP + WINDOW // 2  # sound past a row's centre that the row needs

    def __init__(self) -> None:
        self.decay = np.exp(-HOP / SAMPLE_RATE / CMN_MEMORY_S)
        self._pending = np.zeros(WINDOW // 2)  # pre-emphasised sound from the next cepstral row's first sample on
        self._received, self._previous, self._rows, self._emitted = 0, 0.0, 0, 0
        self._sums, self._weight = CMN_INIT * CMN_PRIOR_ROWS, CMN_PRIOR_ROWS
        self._recent = np.zeros((0, N_CEPSTRA))  # mean-removed cepstra of the rows up to the last made, <= 6

    def push(self, samples: np.ndarray) -> np.ndarray:
        """(k, 42) log posteriors of the next k rows that the sound so far decides."""
        x = np.asarray(samples, np.float64).reshape(-1) * 32768 + _dither(self._received, len(samples))
        self._received += len(x)
        if len(x):
            self._pending = np.concatenate([self._pending, x - 0.97 * np.append(self._previous, x[:-1])])
            self._previous = x[-1]
        self._add_rows((len(self._pending) - WINDOW) // HOP + 1)
        return self._emit(self._rows - DELTA_ROWS - self._emitted)

    def flush(self) -> np.ndarray:
        """The remaining rows (as many in all as :func:`phone_log_posteriors` gives), the last row's cepstra repeated
        past the end."""
        rows = max(1, -(-self._received // HOP))
        self._pending = np.concatenate([self._pending, np.zeros(max(0, (rows - self._rows - 1) * HOP + WINDOW))])
        self._add_rows(rows - self._rows)
        self._recent = np.concatenate([self._recent, np.repeat(self._recent[-1:], DELTA_ROWS, 0)])
        return self._emit(rows - self._emitted)

    def _add_rows(self, count: int) -> None:
        """Cepstra of the next ``count`` rows, less the running mean; drop the sound they used up."""
        if count <= 0:
            return
        frames = np.lib.stride_tricks.sliding_window_view(self._pending[:(count - 1) * HOP + WINDOW], WINDOW)[::HOP]
        self._pending = self._pending[count * HOP:]
        cepstra = _cepstra(frames)
        decays = self.decay ** np.arange(1, count + 1)[:, None]
        sums = lfilter([1.0], [1.0, -self.decay], cepstra, axis=0, zi=self.decay * self._sums[None])[0]
        weights = self._weight * decays + (1 - decays) / (1 - self.decay)
        self._sums, self._weight = sums[-1], float(weights[-1, 0])
        fresh = cepstra - sums / weights
        if self._rows == 0:
            fresh = np.concatenate([np.repeat(fresh[:1], DELTA_ROWS, 0), fresh])  # the first row repeated before it
        self._rows += count
        self._recent = np.concatenate([self._recent, fresh])

    def _emit(self, count: int) -> np.ndarray:
        """Posteriors of the next ``count`` rows, whose rows of cepstra around them are in ``_recent``."""
        if count <= 0:
            return np.zeros((0, len(PHONES)), np.float32)
        out = _log_posteriors(_streams(self._recent[:count + 2 * DELTA_ROWS]))
        self._recent = self._recent[count:]
        self._emitted += count
        return out


def live_phone_log_posteriors(audio: Audio) -> np.ndarray:
    """:class:`LivePhonePosteriors` over a whole sound (pushed :data:`CHUNK` rows at a time): what a stream of it
    gives."""
    live, samples = LivePhonePosteriors(), resample(audio.samples, audio.rate, SAMPLE_RATE)
    return np.concatenate([live.push(samples[a:a + CHUNK * HOP]) for a in range(0, len(samples), CHUNK * HOP)]
                          + [live.flush()])
