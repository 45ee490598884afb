"""Motion: named per-frame face channels at a fixed fps, serialisable to JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from talkinghead.errors import InputError, existing_file
from talkinghead.motion.channels import CHANNELS


@dataclass
class Motion:
    """Per-frame face channels (see :data:`CHANNELS`), each a float array of shape (frames,).

    Channels that are absent are at their neutral value. ``meta`` carries extras such as the phone
    segments the lips were built from (``meta["phones"] = [[start_s, end_s, phone], ...]``).
    """

    fps: float
    channels: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.channels.values()}
        if len(lengths) > 1:
            raise ValueError(f"channels differ in length: {sorted(lengths)}")
        unknown = set(self.channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels: {sorted(unknown)}")
        self.channels = {k: np.asarray(v, np.float32) for k, v in self.channels.items()}

    @classmethod
    def neutral(cls, n_frames: int, fps: float) -> "Motion":
        """A still face: every channel at rest."""
        return cls(fps, {name: np.full(n_frames, c.neutral, np.float32) for name, c in CHANNELS.items()})

    @property
    def n_frames(self) -> int:
        """Number of frames (0 for a Motion without channels)."""
        return len(next(iter(self.channels.values()))) if self.channels else 0

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_frames / self.fps

    def __getitem__(self, name: str) -> np.ndarray:
        """A channel's values, the neutral value where the channel is absent."""
        if name in self.channels:
            return self.channels[name]
        return np.full(self.n_frames, CHANNELS[name].neutral, np.float32)

    def frame(self, i: int) -> dict[str, float]:
        """All channels at frame ``i``."""
        return {name: float(self[name][i]) for name in CHANNELS}

    def update(self, **channels: np.ndarray) -> "Motion":
        """A copy with the given channels replaced, clipped to their ranges."""
        merged = dict(self.channels)
        for name, values in channels.items():
            c = CHANNELS[name]
            merged[name] = np.clip(np.asarray(values, np.float32), c.low, c.high)
        return Motion(self.fps, merged, dict(self.meta))

    def resized(self, n_frames: int) -> "Motion":
        """A copy cut to ``n_frames``, or extended to it with every channel at rest."""
        return Motion(self.fps, {name: np.pad(v[:n_frames], (0, max(0, n_frames - len(v))),
                                              constant_values=CHANNELS[name].neutral)
                                 for name, v in self.channels.items()}, dict(self.meta))

    def at_fps(self, fps: float) -> "Motion":
        """A copy at ``fps`` lasting as long: every channel linearly interpolated between the frames' times."""
        if abs(fps - self.fps) < 1e-6:
            return self
        n = max(1, int(round(self.duration * fps)))
        times, own = np.arange(n) / fps, np.arange(self.n_frames) / self.fps
        return Motion(fps, {name: np.interp(times, own, v).astype(np.float32) for name, v in self.channels.items()},
                      dict(self.meta))

    def scaled(self, names: tuple[str, ...], factor: float) -> "Motion":
        """A copy with ``names`` scaled about their neutral values."""
        return self.update(**{n: CHANNELS[n].neutral + factor * (self[n] - CHANNELS[n].neutral) for n in names})

    # serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: fps, frames, channel units and values, meta."""
        return {
            "format": "talkinghead.motion/1",
            "fps": self.fps,
            "frames": self.n_frames,
            "units": {n: CHANNELS[n].unit for n in self.channels},
            "channels": {n: np.round(v, 5).tolist() for n, v in self.channels.items()},
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Motion":
        """Inverse of :meth:`to_dict`."""
        return cls(float(data["fps"]), {k: np.asarray(v, np.float32) for k, v in data["channels"].items()},
                   dict(data.get("meta", {})))

    def to_csv(self) -> str:
        """One row per frame: time in seconds, then each channel."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        names = list(self.channels)
        writer.writerow(["frame", "time"] + names)
        for i in range(self.n_frames):
            writer.writerow([i, f"{i / self.fps:.4f}"] + [f"{self.channels[n][i]:.5f}" for n in names])
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str, fps: float | None = None) -> "Motion":
        """Inverse of :meth:`to_csv`; fps is read from the time column when not given."""
        rows = list(csv.reader(io.StringIO(text)))
        header, body = rows[0], np.asarray(rows[1:], np.float64)
        if fps is None:
            fps = 1.0 / float(body[1, 1] - body[0, 1]) if len(body) > 1 else 25.0
        return cls(round(fps, 4), {n: body[:, j + 2] for j, n in enumerate(header[2:])})

    def to_json(self) -> str:
        """The :meth:`to_dict` form as a JSON string."""
        return json.dumps(self.to_dict())

    def formats(self) -> dict[str, Callable[[], str]]:
        """File suffix -> serialiser, for :meth:`save` and the command line."""
        return {".json": self.to_json, ".csv": self.to_csv}

    def save(self, path: str | Path) -> None:
        """Write JSON (.json) or CSV (.csv), chosen by the extension."""
        path = Path(path)
        serialise = self.formats().get(path.suffix.lower())
        if serialise is None:
            raise InputError(path, "unsupported motion format (use .json or .csv)")
        path.write_text(serialise())

    @classmethod
    def load(cls, path: str | Path) -> "Motion":
        """Read a Motion written by :meth:`save`."""
        path = existing_file(path, "a motion file")
        try:
            if path.suffix == ".csv":
                return cls.from_csv(path.read_text())
            return cls.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, IndexError) as exc:
            raise InputError(path, f"not a talkinghead motion file ({exc})") from None
