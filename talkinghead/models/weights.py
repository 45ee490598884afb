"""Model checkpoints: a config dataclass and weights in one file, from a path or shipped in ``talkinghead/assets``."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from talkinghead.errors import InputError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
M = TypeVar("M", bound=nn.Module)


def resolve(source: str | Path) -> Path:
    """A checkpoint path, or the shipped ``assets/<name>.pt`` when ``source`` is a bare name such as ``lips``."""
    path = Path(source)
    if path.suffix != ".pt" and path.parent == Path(".") and (ASSETS / f"{source}.pt").exists():
        return ASSETS / f"{source}.pt"
    if not path.is_file():
        raise InputError(path, "model checkpoint not found")
    return path


def load_model(cls: type[M], source: str | Path) -> M:
    """``cls(cls.Config(**saved config))`` with the saved weights, in evaluation mode on the CPU."""
    path = resolve(source)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        names = {f.name for f in dataclasses.fields(cls.Config)}
        config = cls.Config(**{k: v for k, v in state["config"].items() if k in names})
        model = cls(config)
        model.load_state_dict(state["model"])
    except Exception as exc:  # foreign, damaged or mismatched files raise many kinds
        raise InputError(path, f"not a {cls.__name__} checkpoint ({type(exc).__name__})") from None
    return model.eval()


@lru_cache(maxsize=16)
def shared_model(cls: type[M], source: str) -> M:
    """:func:`load_model`, loaded once per process (generators share it; it must not be trained further)."""
    return load_model(cls, source)


def export_weights(checkpoint: str | Path, output: str | Path) -> Path:
    """Copy a training checkpoint's config and weights (no optimizer state) to ``output``, for shipping."""
    state = torch.load(resolve(checkpoint), map_location="cpu", weights_only=True)
    torch.save({"config": state["config"], "model": state["model"], "step": state.get("step")}, output)
    return Path(output)
