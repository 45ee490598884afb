"""The options a user gives motion generators, each defined once with its default, range and help.

A generator's ``Config`` inherits the options it reads (and adds tunables of its own); the pipeline's configs
inherit :class:`GeneratorOptions`, so every option reaches the generators by its own name, and
:func:`talkinghead.pipeline.generate.generate_motion` refuses one that no chosen generator reads.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from talkinghead.config import Checked, option


@dataclass
class Seed(Checked):
    seed: int = option(0, "random seed of blinks, head motion and gaze (same seed, same video)", range=(0, 2 ** 31 - 1))


@dataclass
class BlinkRate(Checked):
    blink_rate: float = option(17.0, "blinks per minute", range=(0, 120))


@dataclass
class BrowScale(Checked):
    expression: float = option(1.0, "scale of the brow movements (0 = still brows)", range=(0, 5))


@dataclass
class HeadMotion(Checked):
    head_motion: float = option(1.0, "head motion strength (0 = still head)", range=(0, 5))


@dataclass
class LipsWeights(Checked):
    lips_weights: str | None = option(None, "checkpoint for --lips learned or causal (default: the shipped one)",
                                      metavar="FILE")


@dataclass
class ExpressionWeights(Checked):
    expression_weights: str | None = option(None, "checkpoint for --expression-model learned (default: shipped)",
                                            metavar="FILE")


@dataclass
class PoseWeights(Checked):
    pose_weights: str | None = option(None, "checkpoint for --pose diffusion or vae (default: the shipped one)",
                                      metavar="FILE")


@dataclass
class GeneratorOptions(PoseWeights, ExpressionWeights, LipsWeights, HeadMotion, BrowScale, BlinkRate, Seed):
    """Every option a generator may read."""


OPTION_NAMES = tuple(f.name for f in fields(GeneratorOptions))
