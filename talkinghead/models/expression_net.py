"""Learned blinks and brows, GoHD stage 2: a recurrent network conditioned on the sound and on the stage-1 lips.

Blinks and brows follow speech only loosely, so the network predicts distributions and is sampled frame by frame,
its own samples fed back: per frame, the probability that a blink starts (a hazard, which also sees the time since
the last blink) and a Gaussian over the brow height. A sampled blink start plays a blink of the measured human
shape (:data:`BLINK_SHAPE`). Inputs per frame: the mel pooled to 25 fps, the prosody
(:func:`~talkinghead.models.layers.prosody`) and the six lip channels of stage 1
(:mod:`~talkinghead.models.lips_net`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from talkinghead.config import option
from talkinghead.models.layers import at_frames


@dataclass
class ExpressionNetConfig:
    """Architecture of the stage-2 network."""

    hidden: int = option(96, "GRU width")
    layers: int = option(2, "GRU layers")
    audio_dim: int = option(32, "width of the per-frame audio projection")
    data_blink_rate: float = option(0.0, "blinks per minute in the training clips (0: measured on them)")
    sampled_blink_rate: float = option(0.0, "blinks per minute the network samples unscaled on its training clips "
                                            "(measured after training; 0: taken as data_blink_rate)")
    start_weight: float = option(20.0, "weight of blink starts against other frames in the hazard loss (sampling "
                                       "takes its log off the logit, so the hazard is the data's)")


class ExpressionNet(nn.Module):
    """Per frame: inputs (mel pooled (80), prosody (4), lips (6), previous brow (1), time since blink (1)) ->
    (blink-start logit, brow mean, brow log-deviation)."""

    Config: ClassVar[type] = ExpressionNetConfig

    def __init__(self, config: ExpressionNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ExpressionNetConfig()
        self.audio = nn.Sequential(nn.Linear(80, c.audio_dim), nn.GELU())
        self.gru = nn.GRU(c.audio_dim + 4 + 6 + 2, c.hidden, c.layers, batch_first=True)
        self.head = nn.Linear(c.hidden, 3)

    def condition(self, mel: torch.Tensor, pro: torch.Tensor, lips: torch.Tensor, fps: float = 25.0) -> torch.Tensor:
        """(B, T, audio_dim + 10) per-frame inputs from mel (B, 80, T_mel), prosody (B, 4, T) and lips (B, 6, T)."""
        pooled = at_frames(mel, lips.shape[-1], fps).transpose(1, 2)
        return torch.cat([self.audio(pooled), pro.transpose(1, 2), lips.transpose(1, 2)], -1)

    def forward(self, condition: torch.Tensor, feedback: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced (or one-step) outputs (B, T, 3) and the GRU state, for ``feedback`` (B, T, 2)."""
        out, state = self.gru(torch.cat([condition, feedback], -1), state)
        return self.head(out), state
