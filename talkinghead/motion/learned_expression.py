"""The ``learned`` expression generator, GoHD stage 2: blinks and brows sampled frame by frame from the recurrent
network of :mod:`talkinghead.models.expression_net`, conditioned on the sound and the stage-1 lips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from talkinghead.audio.features import AudioFeatures
from talkinghead.models.expression_net import ExpressionNet
from talkinghead.models.layers import mel_features, prosody
from talkinghead.models.lips_net import LipsNet
from talkinghead.models.weights import shared_model
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import BlinkRate, BrowScale, ExpressionWeights
from talkinghead.motion.registry import Generator, GeneratorConfig, register

BLINK_SHAPE = np.array([0.35, 0.8, 1.0, 0.9, 0.6, 0.35, 0.15, 0.05])  # eyelid closure per frame at 25 fps
GAP_SCALE = 4.0  # seconds: the time since the last blink is fed as 1 - exp(-t / GAP_SCALE)


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
class LearnedExpressionConfig(GeneratorConfig, BlinkRate, BrowScale, ExpressionWeights):
    """Weights and scales of the learned blinks and brows (None: the shipped ``assets/expression.pt``); the hazard is
    scaled by ``blink_rate`` over the rate the network samples unscaled."""

    stage1_weights: str = "lips"  # the stage-1 lips network the model was trained with


@register
class LearnedExpression(Generator):
    """Blinks and brows sampled from the stage-2 recurrent network (GoHD)."""

    kind: ClassVar[str] = "expression"
    name: ClassVar[str] = "learned"
    Config: ClassVar[type] = LearnedExpressionConfig

    def generate(self, features: AudioFeatures) -> Motion:
        """Blink and brow channels for every video frame of ``features``."""
        cfg = self.config
        net = shared_model(ExpressionNet, cfg.expression_weights or "expression")
        lips = shared_model(LipsNet, cfg.stage1_weights).lips(features)[None]
        pro = torch.from_numpy(prosody(features).T)[None]
        mel = mel_features(features.mel)[None]
        with torch.no_grad():
            condition = net.condition(mel, pro, lips, features.fps)
        rate_scale = cfg.blink_rate / max(net.config.sampled_blink_rate or net.config.data_blink_rate, 1e-3)
        blink, brow = sample(net, condition, np.random.default_rng(cfg.seed + 4001), rate_scale, features.fps)
        return Motion(features.fps).update(blink_left=blink, blink_right=blink, brow_raise=cfg.expression * brow)
