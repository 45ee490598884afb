"""Learned lips, GoHD stage 1: a frame-wise network from a mel window around each frame to the six lip channels.

The network is fully convolutional over the normalised mel's cepstra (:func:`~talkinghead.models.layers.mel_features`)
and the frame-wise phone posteriors of the acoustic model pocketsphinx bundles
(:mod:`~talkinghead.audio.phone_posteriors`, learned from many real voices, so it narrows the gap between the
synthetic voices the network learns from and real ones), its features at 50 Hz. Each output frame's convolutions
reach +-0.46 s of sound (the blocks' normalisation pools the whole utterance): no transcript, no phone decoding, no
language model. The shipped weights (``assets/lips.pt``) were trained on the synthetic corpus
(:mod:`talkinghead.data.synth`: espeak-ng and Festival's voices of real speakers), by ``scripts/train_models.sh``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.phone_posteriors import PHONES
from talkinghead.config import option
from talkinghead.models.layers import ConvBlock, at_frames, edge_padded, sound_input


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

    @property
    def reach_rows(self) -> int:
        """Mel rows (100 Hz) on either side of an output column that its convolutions reach: the stem's 2, then 2 per
        column a block reaches (its GroupNorm pools the whole input besides)."""
        return 2 + 2 * sum(int(d) * (self.kernel - 1) // 2 for d in self.dilations.split(","))


def dct_matrix(n: int) -> torch.Tensor:
    """(n, n) orthonormal DCT-II: row k is the k-th cosine over ``n`` bands."""
    k, i = torch.arange(n)[:, None], torch.arange(n)[None]
    basis = torch.cos(torch.pi * k * (2 * i + 1) / (2 * n)) * (2 / n) ** 0.5
    basis[0] /= 2 ** 0.5
    return basis


HOP_S = 0.02  # seconds between the network's output columns
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
        self.stem = nn.Conv1d((c.cepstra or MEL_BANDS) + len(PHONES) * c.phones, c.channels, 5, stride=2, padding=2)
        self.blocks = nn.Sequential(*(ConvBlock(c.channels, c.kernel, int(d), c.dropout)
                                      for d in c.dilations.split(",")))
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
            x = sound_input(features.mel, features.phone_posteriors if self.config.phones else None)
            return at_frames(self.whole(x[None]), features.n_frames, features.fps, HOP_S)[0]
