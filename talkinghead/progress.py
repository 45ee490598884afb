"""The progress hook every long job takes: it wraps an iterable of work items and the expected count (a bar, or not)."""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

Progress = Callable[[Iterable[T], int], Iterable[T]]
