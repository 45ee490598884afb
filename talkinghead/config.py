"""Typed dataclass configs settable from the command line (--field-name value) and YAML/JSON files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from talkinghead.errors import InputError, existing_file

T = TypeVar("T")


def option(default: Any, help: str, range: tuple[float, float] | None = None, **extra: Any) -> Any:  # noqa: A002
    """A dataclass field with its ``--help`` text, its allowed ``range`` (inclusive; checked by :func:`check`) and
    argparse extras such as ``metavar`` or ``choices``."""
    return dataclasses.field(default=default, metadata={"help": help, "range": range, **extra})


def check(config: object) -> None:
    """Raise InputError naming the first option of dataclass ``config`` whose value is outside its range."""
    for f in dataclasses.fields(config):
        bounds = f.metadata.get("range")
        value = getattr(config, f.name)
        if bounds is not None and value is not None and not bounds[0] <= value <= bounds[1]:
            low, high = (int(b) if float(b).is_integer() else b for b in bounds)
            raise InputError(None, f"--{f.name.replace('_', '-')} {value} is outside {low}..{high}")


class Checked:
    """Mixin for option dataclasses: the ranges are checked when an instance is made."""

    def __post_init__(self) -> None:
        check(self)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--field-name`` option per field of dataclass ``cls``; help comes from ``metadata['help']``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        kind = hints[f.name]
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        base = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
        default = f.default if f.default is not dataclasses.MISSING else None
        bounds = f.metadata.get("range")
        shown = [f"default: {default}"] if default is not None else []
        shown += [f"{bounds[0]:.10g}..{bounds[1]:.10g}"] if bounds else []
        parser.add_argument(flag, dest=f.name, type=base, default=None, choices=f.metadata.get("choices"),
                            metavar=f.metadata.get("metavar"),
                            help=f"{help_text} ({'; '.join(shown)})" if shown else help_text)


def build(cls: type[T], path: str | Path | None, args: argparse.Namespace | dict[str, Any]) -> T:
    """An instance of ``cls`` from defaults, then the YAML/JSON file at ``path``, then explicit options."""
    values = coerced(cls, read_file(path), path) if path else {}
    names = {f.name for f in dataclasses.fields(cls)}
    given = vars(args) if isinstance(args, argparse.Namespace) else args
    values.update({k: v for k, v in given.items() if k in names and v is not None})
    return cls(**values)


def coerced(cls: type, values: dict[str, Any], path: str | Path | None = None) -> dict[str, Any]:
    """``values`` read from a file (or sent by a client) as the types of ``cls``'s fields; InputError naming ``path``
    for an unknown name or a value of the wrong type."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise InputError(path, f"unknown option(s) {', '.join(sorted(unknown))}")
    hints = typing.get_type_hints(cls)
    return {name: _coerce(value, hints[name], name, path) for name, value in values.items()}


def _coerce(value: Any, kind: Any, name: str, path: str | Path | None) -> Any:
    """``value`` from a file as the field's type (bool, int, float, str, optional of those)."""
    base = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
    if value is None or isinstance(value, base) and not (base is int and isinstance(value, bool)):
        return value
    try:
        if base is bool or isinstance(value, bool) or (base is int and float(value) != int(float(value))):
            raise ValueError
        return base(value)
    except (TypeError, ValueError):
        raise InputError(path, f"option {name}: expected {base.__name__}, got {value!r}") from None


def read_file(path: str | Path) -> dict[str, Any]:
    """Options from a YAML or JSON file (a mapping of field names to values)."""
    path = existing_file(path, "a config file")
    try:
        data = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(path, f"not a valid config file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(path, "config file must hold a mapping of option names to values")
    return {k.replace("-", "_"): v for k, v in data.items()}
