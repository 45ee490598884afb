"""Motion generators by kind and name: one file per generator, registered with :func:`register`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from talkinghead.audio.features import AudioFeatures
from talkinghead.motion.motion import Motion

KINDS = ("lips", "expression", "pose", "gaze")
_REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}


class MotionGenerator(Protocol):
    """Audio features -> the Motion channels of one kind (lips, expression, pose or gaze)."""

    kind: ClassVar[str]
    name: ClassVar[str]
    Config: ClassVar[type]

    def __init__(self, config: Any = None) -> None: ...

    def generate(self, features: AudioFeatures) -> Motion: ...


@dataclass
class GeneratorConfig:
    """Options every generator shares."""

    seed: int = 0


def register(cls: type) -> type:
    """Class decorator: make a generator selectable by ``cls.kind`` and ``cls.name``."""
    _REGISTRY[cls.kind][cls.name] = cls
    return cls


def available(kind: str) -> list[str]:
    """Names registered for ``kind``."""
    _load_builtin()
    return sorted(_REGISTRY[kind])


def generator_class(kind: str, name: str) -> type:
    """The generator class registered as ``name`` of ``kind``."""
    _load_builtin()
    try:
        return _REGISTRY[kind][name]
    except KeyError:
        raise ValueError(f"unknown {kind} generator {name!r}; choose from {', '.join(available(kind))}") from None


def create(kind: str, name: str, config: Any = None) -> MotionGenerator:
    """Instantiate the generator ``name`` of ``kind``."""
    return generator_class(kind, name)(config)


def _load_builtin() -> None:
    """Import the built-in generator modules so that they register themselves."""
    import importlib

    for module in _BUILTIN:
        importlib.import_module(module)


_BUILTIN: list[str] = [
    "talkinghead.motion.phonetic_lips",
    "talkinghead.motion.expression",
    "talkinghead.motion.head",
    "talkinghead.motion.gaze",
    "talkinghead.motion.learned_lips",
    "talkinghead.motion.learned_expression",
    "talkinghead.motion.pose_diffusion",
    "talkinghead.motion.pose_vae",
]
