"""Motion generators by kind and name: one file per generator, registered with :func:`register`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import Seed

KINDS = ("lips", "expression", "pose", "gaze")
_REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}


@dataclass
class GeneratorConfig(Seed):
    """Options every generator shares: the seed."""


class Generator:
    """Audio features -> the Motion channels of one kind (lips, expression, pose or gaze); built from its ``Config``.

    ``replaces`` names channels of another kind that it sets instead of that kind's generator (a pose model that also
    samples blinks); any other channel set by two chosen generators is an error.
    """

    kind: ClassVar[str]
    name: ClassVar[str]
    Config: ClassVar[type] = GeneratorConfig
    replaces: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None) -> None:
        self.config = config or self.Config()

    def generate(self, features: AudioFeatures) -> Motion:
        """The channels of this generator's kind for every video frame of ``features``."""
        raise NotImplementedError


def register(cls: type) -> type:
    """Class decorator: make a generator selectable by ``cls.kind`` and ``cls.name``."""
    _REGISTRY[cls.kind][cls.name] = cls
    return cls


def available(kind: str) -> list[str]:
    """Names registered for ``kind`` (the built-in ones without importing them)."""
    return sorted(set(_REGISTRY[kind]) | set(_BUILTIN[kind]))


def generator_class(kind: str, name: str) -> type:
    """The generator class registered as ``name`` of ``kind``; a built-in one is imported when first asked for (the
    learned ones import torch)."""
    if name not in _REGISTRY[kind] and name in _BUILTIN[kind]:
        import importlib

        importlib.import_module(_BUILTIN[kind][name])
    try:
        return _REGISTRY[kind][name]
    except KeyError:
        raise ValueError(f"unknown {kind} generator {name!r}; choose from {', '.join(available(kind))}") from None


def create(kind: str, name: str, config: Any = None) -> Generator:
    """Instantiate the generator ``name`` of ``kind``."""
    return generator_class(kind, name)(config)


# kind -> built-in generator name -> the module that registers it
_BUILTIN: dict[str, dict[str, str]] = {
    "lips": {"phonetic": "talkinghead.motion.phonetic_lips", "learned": "talkinghead.motion.learned_lips",
             "blend": "talkinghead.motion.blended_lips", "causal": "talkinghead.motion.streaming_lips"},
    "expression": {"natural": "talkinghead.motion.expression", "learned": "talkinghead.motion.learned_expression"},
    "pose": {"prosody": "talkinghead.motion.head", "diffusion": "talkinghead.motion.pose_diffusion",
             "vae": "talkinghead.motion.pose_vae"},
    "gaze": {"camera": "talkinghead.motion.gaze", "free": "talkinghead.motion.gaze"},
}
