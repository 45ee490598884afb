"""Learned lips, GoHD stage 1: a frame-wise network from a mel window around each frame to the six lip channels.

The network is fully convolutional over the normalised mel's cepstra (:func:`~talkinghead.models.layers.mel_features`)
and the frame-wise phone posteriors of the acoustic model pocketsphinx bundles
(:mod:`~talkinghead.audio.phone_posteriors`, learned from many real voices, so it narrows the gap between the
synthetic voices the network learns from and real ones), its features at 50 Hz. Each output frame's convolutions
reach +-0.46 s of sound (the blocks' normalisation pools the whole utterance): no transcript, no phone decoding, no
language model. The shipped weights (``assets/lips.pt``) were trained on the synthetic corpus
(:mod:`talkinghead.data.synth`: espeak-ng and Festival's voices of real speakers), by ``scripts/train_models.sh``.

With ``lookahead_ms`` set the same network streams (:mod:`talkinghead.motion.streaming_lips`): its convolutions
read at most that much sound ahead of an output and the rest behind, its blocks normalise each time step alone, and
its input is normalised from the past (:class:`~talkinghead.models.layers.CausalMelNorm`) and its phone posteriors
come from the live front end (:class:`~talkinghead.audio.phone_posteriors.LivePhonePosteriors`, a running cepstral
mean). Shipped: ``assets/lips_causal.pt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.phone_posteriors import PHONES
from talkinghead.config import option
from talkinghead.models.layers import ConvBlock, PaddedConv1d, at_frames, edge_padded, sound_input


@dataclass
class LipsNetConfig:
    """Architecture of the stage-1 lips network."""

    cepstra: int = option(24, "cepstral coefficients the network sees (the mel's DCT: the vocal tract's envelope "
                               "without the voice's harmonics); 0 for the mel itself")
    channels: int = option(96, "width of the convolution blocks")
    dilations: str = option("1,2,4,8,1,2,4", "dilation of each residual block (its count is the depth)")
    kernel: int = option(3, "kernel size of the blocks")
    dropout: float = option(0.1, "dropout inside the blocks")
    phones: bool = option(False, "also see the acoustic model's 42 phone posteriors per 10 ms (checkpoints without "
                                 "this setting predate them)")
    lookahead_ms: int | None = option(None, "streamable: read at most this much sound ahead of each output, the rest "
                                      "behind, normalised from the past (default: centred, whole utterance)",
                                      range=(0, 1000))

    @property
    def causal(self) -> bool:
        return self.lookahead_ms is not None

    @property
    def spans(self) -> list[int]:
        """Columns (50 Hz) each block's convolution spans."""
        return [int(d) * (self.kernel - 1) for d in self.dilations.split(",")]

    @property
    def aheads(self) -> tuple[int, list[int]]:
        """Mel rows the stem reads ahead of its output and columns each block does: half their span, or (causal)
        ``lookahead_ms`` given to the first convolutions until it is spent."""
        if not self.causal:
            return STEM // 2, [span // 2 for span in self.spans]
        rows = round(self.lookahead_ms / 1000 / ROW_S)
        stem = min(STEM - 1, rows)
        left, blocks = (rows - stem) // 2, []
        for span in self.spans:
            blocks.append(min(span, left))
            left -= blocks[-1]
        return stem, blocks

    @property
    def lookahead_rows(self) -> int:
        """Mel rows (100 Hz) ahead of an output column that its convolutions reach."""
        stem, blocks = self.aheads
        return stem + 2 * sum(blocks)

    @property
    def reach_rows(self) -> int:
        """Mel rows (100 Hz) on either side of an output column that its convolutions reach (behind, when causal);
        centred, the blocks' GroupNorm pools the whole input besides."""
        stem, blocks = self.aheads
        return max(STEM - 1 - stem + 2 * sum(span - b for span, b in zip(self.spans, blocks)), self.lookahead_rows)


def dct_matrix(n: int) -> torch.Tensor:
    """(n, n) orthonormal DCT-II: row k is the k-th cosine over ``n`` bands."""
    k, i = torch.arange(n)[:, None], torch.arange(n)[None]
    basis = torch.cos(torch.pi * k * (2 * i + 1) / (2 * n)) * (2 / n) ** 0.5
    basis[0] /= 2 ** 0.5
    return basis


HOP_S = 0.02  # seconds between the network's output columns
ROW_S = 0.01  # seconds between the input's rows
STEM = 5  # kernel of the stem, which halves the rate
MEL_BANDS = 80  # the mel rows of the input; the phone features, when used, follow them


class LipsNet(nn.Module):
    """(B, 80 (+ 42), T_mel) normalised mel (and phone features) at 100 Hz -> (B, 6, T_mel / 2) lip channels at 50 Hz
    (see :func:`~talkinghead.models.layers.sound_input`)."""

    Config: ClassVar[type] = LipsNetConfig
    # the Motion channels it predicts, in this order
    channels: ClassVar[tuple[str, ...]] = ("jaw_open", "mouth_width", "lip_round", "lip_press", "upper_lip", "lower_lip")

    def __init__(self, config: LipsNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or LipsNetConfig()
        if c.cepstra:
            self.register_buffer("dct", dct_matrix(MEL_BANDS)[:c.cepstra], persistent=False)
        stem, blocks = c.aheads
        self.stem = PaddedConv1d((c.cepstra or MEL_BANDS) + len(PHONES) * c.phones, c.channels, STEM, stride=2,
                                 pad=(STEM - 1 - stem, stem))
        self.blocks = nn.Sequential(*(ConvBlock(c.channels, c.kernel, int(d), c.dropout, b if c.causal else None)
                                      for d, b in zip(c.dilations.split(","), blocks)))
        self.head = nn.Conv1d(c.channels, len(self.channels), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mel, phones = x[:, :MEL_BANDS], x[:, MEL_BANDS:]
        spectrum = torch.einsum("kb,nbt->nkt", self.dct, mel) if self.config.cepstra else mel
        return self.head(self.blocks(self.stem(torch.cat([spectrum, phones], 1) if self.config.phones else spectrum)))

    def whole(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` over a whole sound (B, rows, T_mel): beyond its ends its first and last rows are repeated,
        as in the training windows (the convolutions' zero padding would read as sound)."""
        edge = self.config.reach_rows + self.config.reach_rows % 2  # even: the stem halves the rate
        return self(edge_padded(x, -edge, x.shape[-1] + edge))[..., edge // 2:]

    def lips(self, features: AudioFeatures) -> torch.Tensor:
        """(6, n_frames) lip channels for every video frame of ``features``."""
        with torch.no_grad():
            c = self.config
            phones = (features.live_phone_posteriors if c.causal else features.phone_posteriors) if c.phones else None
            x = sound_input(features.mel, phones, c.causal)
            return at_frames(self.whole(x[None]), features.n_frames, features.fps, HOP_S)[0]
