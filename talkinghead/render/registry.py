"""Renderers by name: one file per renderer, registered with :func:`register`, chosen with ``--renderer NAME``.

A renderer draws a :class:`~talkinghead.motion.motion.Motion` on a source and yields frames, streaming: on a still
portrait it draws the whole face (``animate``); on a :class:`~talkinghead.render.dub.DubSource` it redraws the mouth
region of a video's frames (``dub``). A live stream draws a portrait frame by frame as the motion is decided
(``live_drawer``). What it measures on the way goes into the :class:`RenderStats` its caller
passes. A renderer fitted to one person (``talkinghead fit``) takes that person's avatar file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Protocol

import numpy as np

from talkinghead.errors import InputError
from talkinghead.face.portrait import Portrait
from talkinghead.motion.motion import Motion
from talkinghead.render.dub import DubSource
from talkinghead.render.stats import RenderStats

Source = Portrait | DubSource
SOURCE_JOBS = {Portrait: "animate a portrait", DubSource: "dub a video"}


class Renderer(Protocol):
    """Motion + source -> frames."""

    name: ClassVar[str]
    Config: ClassVar[type]
    sources: ClassVar[tuple[type, ...]]  # the kinds of source it draws on (Portrait: whole face; DubSource: mouth)
    needs_avatar: ClassVar[bool]  # it draws with a network fitted to one person, read from an avatar file

    def __init__(self, config: Any = None, avatar: Path | None = None) -> None: ...

    def render(self, source: Source, motion: Motion, stats: RenderStats | None = None) -> Iterator[np.ndarray]: ...

    def live_drawer(self, portrait: Portrait) -> Callable[[Mapping[str, float]], Callable[[], np.ndarray]]:
        """For frames whose motion arrives one by one (streaming): each frame's channel values, given in order ->
        the drawing of the portrait at them, a call that may run on another thread, several at once."""


_REGISTRY: dict[str, type] = {}
_BUILTIN = {"warp": "talkinghead.render.warp", "hrdecoder": "talkinghead.render.fitted"}  # name -> the module that registers it, imported when first asked for


def register(cls: type) -> type:
    """Class decorator: make a renderer selectable by ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of the renderers (the built-in ones without importing them)."""
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def renderer_class(name: str) -> type:
    """The renderer registered as ``name``; ValueError naming the choices when there is none."""
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown renderer {name!r}; choose from {', '.join(available())}") from None


def avatar_renderer(avatar: str | Path) -> str:
    """The name of the renderer an avatar file was fitted for (InputError when it is not a usable avatar)."""
    from talkinghead.render.avatar import Avatar

    return Avatar.load(avatar).renderer


def create(name: str, source: type, config: Any = None, avatar: str | Path | None = None) -> Renderer:
    """The renderer ``name``, checked before any work: it draws on ``source``'s kind and gets an avatar iff it needs
    one (InputError otherwise)."""
    cls = renderer_class(name)
    if source not in cls.sources:
        raise InputError(None, f"the {name} renderer cannot {SOURCE_JOBS[source]}")
    if cls.needs_avatar and avatar is None:
        raise InputError(None, f"the {name} renderer needs --avatar (made by `talkinghead fit`)")
    if avatar is not None and not cls.needs_avatar:
        raise InputError(avatar, f"the {name} renderer takes no avatar")
    return cls(config, Path(avatar)) if cls.needs_avatar else cls(config)
