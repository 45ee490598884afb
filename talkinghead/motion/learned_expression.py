"""Learned blinks and brows, GoHD stage 2: a recurrent network conditioned on the sound and on the stage-1 lips.

Blinks and brows follow speech only loosely, so the network predicts distributions and is sampled frame by frame,
its own samples fed back: per frame, the probability that a blink starts (a hazard, which also sees the time since
the last blink) and a Gaussian over the brow height. A sampled blink start plays a blink of the measured human
shape (:data:`BLINK_SHAPE`). Inputs per frame: the mel pooled to 25 fps, the prosody
(:func:`~talkinghead.motion.layers.prosody`) and the six lip channels of stage 1
(:mod:`~talkinghead.motion.learned_lips`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from talkinghead.audio.features import AudioFeatures
from talkinghead.config import option
from talkinghead.motion.layers import at_frames, mel_features, prosody
from talkinghead.motion.learned_lips import LipsNet
from talkinghead.motion.motion import Motion
from talkinghead.motion.registry import GeneratorConfig, register
from talkinghead.motion.weights import shared_model

BLINK_SHAPE = np.array([0.35, 0.8, 1.0, 0.9, 0.6, 0.35, 0.15, 0.05])  # eyelid closure per frame at 25 fps
GAP_SCALE = 4.0  # seconds: the time since the last blink is fed as 1 - exp(-t / GAP_SCALE)


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


def blink_starts(blink: np.ndarray) -> np.ndarray:
    """Frames where the eyelid closure rises through 0.5 (a blink begins)."""
    closed = blink > 0.5
    return np.flatnonzero(closed[1:] & ~closed[:-1]) + 1


def time_since(starts: np.ndarray, n: int, fps: float) -> np.ndarray:
    """Per frame, the :data:`GAP_SCALE`-squashed time since the last blink start before it (4 s before the clip)."""
    last = np.full(n, -GAP_SCALE * fps)
    for s in starts:
        last[s + 1:] = s
    return 1 - np.exp(-(np.arange(n) - last) / fps / GAP_SCALE)


def sample(net: ExpressionNet, condition: torch.Tensor, rng: np.random.Generator, rate_scale: float = 1.0,
           fps: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """(blink closure, brow) sampled frame by frame for one sequence of per-frame inputs (1, T, D) at ``fps``."""
    n = condition.shape[1]
    shape = np.interp(np.arange(int(len(BLINK_SHAPE) * fps / 25)) * 25 / fps, np.arange(len(BLINK_SHAPE)), BLINK_SHAPE)
    blink, brow = np.zeros(n + len(shape)), np.zeros(n)
    state, previous_brow, last = None, 0.0, -GAP_SCALE * fps
    bias = np.log(net.config.start_weight)  # the weighted loss raised the logits by log(weight)
    with torch.no_grad():
        for t in range(n):
            gap = 1 - np.exp(-(t - last) / fps / GAP_SCALE)
            feedback = torch.tensor([[[previous_brow, gap]]], dtype=condition.dtype)
            out, state = net(condition[:, t:t + 1], feedback, state)
            logit, mean, log_std = out[0, 0].tolist()
            if t - last > len(shape) and rng.random() < rate_scale * 25 / fps / (1 + np.exp(bias - logit)):
                blink[t:t + len(shape)] = np.maximum(blink[t:t + len(shape)], shape)
                last = t
            previous_brow = brow[t] = mean + np.exp(log_std) * rng.standard_normal()
    return blink[:n], brow


@dataclass
class LearnedExpressionConfig(GeneratorConfig):
    """Weights and scales of the learned blinks and brows."""

    blink_rate: float = 17.0  # blinks per minute: the hazard is scaled by this over the rate it samples unscaled
    expression: float = 1.0  # scale of the brows
    weights: str = "expression"  # a checkpoint path, or the name of one shipped in talkinghead/assets
    lips_weights: str = "lips"  # the stage-1 network the model was trained with


@register
class LearnedExpression:
    """Blinks and brows sampled from the stage-2 recurrent network (GoHD)."""

    kind: ClassVar[str] = "expression"
    name: ClassVar[str] = "learned"
    Config: ClassVar[type] = LearnedExpressionConfig

    def __init__(self, config: LearnedExpressionConfig | None = None) -> None:
        self.config = config or LearnedExpressionConfig()

    def generate(self, features: AudioFeatures) -> Motion:
        """Blink and brow channels for every video frame of ``features``."""
        cfg = self.config
        net = shared_model(ExpressionNet, cfg.weights)
        lips = shared_model(LipsNet, cfg.lips_weights).lips(features)[None]
        pro = torch.from_numpy(prosody(features).T)[None]
        mel = mel_features(features.mel)[None]
        with torch.no_grad():
            condition = net.condition(mel, pro, lips, features.fps)
        rate_scale = cfg.blink_rate / max(net.config.sampled_blink_rate or net.config.data_blink_rate, 1e-3)
        blink, brow = sample(net, condition, np.random.default_rng(cfg.seed + 4001), rate_scale, features.fps)
        return Motion(features.fps).update(blink_left=blink, blink_right=blink, brow_raise=cfg.expression * brow)
