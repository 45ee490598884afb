"""Speech -> Motion: the generator chosen for each kind of channel, given the options it reads, merged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from talkinghead.audio.decode import Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.errors import InputError
from talkinghead.motion import registry
from talkinghead.motion.motion import Motion
from talkinghead.motion.options import OPTION_NAMES
from talkinghead.pipeline.options import DubConfig, MotionConfig


def generate_motion(features: AudioFeatures, config: MotionConfig | DubConfig) -> Motion:
    """Run the generators ``config.generators()`` names, each built from the options its Config reads, and merge their
    channels in kind order; a generator's ``replaces`` channels overwrite another kind's, any other overlap is a bug.

    InputError when an option was set (away from its default) that none of the chosen generators reads.
    """
    names = config.generators()
    chosen = {kind: registry.generator_class(kind, name) for kind, name in names.items()}
    reads = {kind: {f.name for f in dataclasses.fields(cls.Config)} for kind, cls in chosen.items()}
    settings = {name: getattr(config, name) for name in OPTION_NAMES if hasattr(config, name)}
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for option, value in settings.items():
        if value != defaults[option] and not any(option in fields for fields in reads.values()):
            chosen_text = ", ".join(f"{kind} {name}" for kind, name in names.items())
            raise InputError(None, f"--{option.replace('_', '-')} {value} is read by none of the chosen generators "
                                   f"({chosen_text})")
    channels: dict = {}
    meta: dict = {}
    for kind, cls in chosen.items():
        part = cls(cls.Config(**{k: v for k, v in settings.items() if k in reads[kind]})).generate(features)
        for channel, values in part.channels.items():
            if channel in channels and channel not in cls.replaces:
                raise ValueError(f"the {kind} generator {names[kind]!r} sets {channel}, which another kind sets")
            channels[channel] = values
        meta.update(part.meta)
    meta["generators"] = names
    return Motion(features.fps, channels, meta)


def motion_from_audio(audio: str | Path | Audio, config: MotionConfig | None = None) -> Motion:
    """Speech file (or decoded Audio) -> Motion."""
    config = config or MotionConfig()
    audio = audio if isinstance(audio, Audio) else load_audio(audio)
    return generate_motion(AudioFeatures(audio, config.fps, config.transcript), config)
