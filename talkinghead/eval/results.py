"""Evaluation results on disk: what ``talkinghead eval --save DIR`` writes and ``talkinghead report DIR`` reads.

``DIR/results.json`` holds ``{"clips": [...], "summary": {...}}``: per clip its name, the files compared and a flat
``metrics`` dict (floats; NaN is written as null); ``summary`` has the mean of each metric over the clips, plus the
metrics computed over the whole set (FID, FVD).
``DIR/<name>.npz`` holds the per-clip series that the report plots, all optional:

- ``mouth``, ``mouth_ref`` (T,): inner-lip gap in eye-widths, generated and reference (NaN where no face);
- ``speech`` (T,): the speech level of the audio, 0..1;
- ``eyes``, ``eyes_ref`` (T,): mean eye opening (lid gap over eye width);
- ``blinks``, ``blinks_ref`` (N, 2): blink start and end frames;
- ``pose``, ``pose_ref`` (T, 3): yaw, pitch, roll in degrees;
- ``strip``, ``strip_ref`` (K, h, w, 3) uint8 RGB frames, taken at frame indices ``strip_frames`` (K,).

All series are indexed by video frame at ``metrics["fps"]``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SERIES = ("mouth", "mouth_ref", "speech", "eyes", "eyes_ref", "blinks", "blinks_ref", "pose", "pose_ref",
          "strip", "strip_ref", "strip_frames")


@dataclass
class ClipResult:
    """One evaluated clip: the files compared, its metrics and the series behind them."""

    name: str
    generated: str
    reference: str | None = None
    audio: str | None = None
    source: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    series: dict[str, np.ndarray] = field(default_factory=dict)

    def record(self) -> dict:
        """The JSON-ready record (series excluded, NaN as None)."""
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.metrics.items()}
        return {"name": self.name, "generated": self.generated, "reference": self.reference, "audio": self.audio,
                "source": self.source, "metrics": clean}


def summarize(clips: list[ClipResult]) -> dict[str, float]:
    """Mean of each metric over the clips that have it (NaN ignored)."""
    keys = sorted({k for c in clips for k in c.metrics})
    out = {}
    for key in keys:
        values = [c.metrics[key] for c in clips if key in c.metrics and c.metrics[key] is not None]
        values = [v for v in values if not math.isnan(v)]
        if values:
            out[key] = float(np.mean(values))
    return out


# the columns of the printed table, when any clip has them
TABLE_COLUMNS = ("lipsync_r", "lag_ms", "lmd", "audio_r", "ms_sync", "lse_c", "lse_d", "blink_rate", "pose_std",
                 "jitter", "eyebrow_ssim", "pose_ssim", "psnr", "ssim", "mouth_ssim", "mouth_sharpness", "mouth_change",
                 "geometry", "face_found")


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; floats with 3 decimals, NaN as a dash."""
    def fmt(v: object) -> str:
        return ("-" if math.isnan(v) else f"{v:.3f}") if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table(clips: list[ClipResult], totals: dict[str, float] | None = None) -> str:
    """The per-clip Markdown table of the main metrics, a mean row when there are several clips, then set metrics."""
    columns = [c for c in TABLE_COLUMNS if any(c in clip.metrics for clip in clips)]
    rows = [[clip.name] + [float(clip.metrics.get(c, math.nan)) for c in columns] for clip in clips]
    if len(clips) > 1:
        mean = summarize(clips)
        rows.append(["mean"] + [mean.get(c, math.nan) for c in columns])
    text = markdown_table(["clip"] + columns, rows)
    return text + "".join(f"\n\n{k.upper()} = {v:.3f}" for k, v in (totals or {}).items())


def save_results(folder: str | Path, clips: list[ClipResult], totals: dict[str, float] | None = None) -> Path:
    """Write ``results.json`` and one ``<name>.npz`` per clip into ``folder`` (created); returns the JSON path.

    ``totals`` are set-level metrics (FID, FVD) added to the summary.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        np.savez_compressed(folder / f"{clip.name}.npz", **clip.series)
    summary = {k: round(v, 6) for k, v in {**summarize(clips), **(totals or {})}.items()}
    path = folder / "results.json"
    path.write_text(json.dumps({"clips": [c.record() for c in clips], "summary": summary}, indent=1))
    return path


def load_summary(folder: str | Path) -> dict[str, float]:
    """The ``summary`` of a results folder: per-metric means and set-level metrics."""
    return json.loads((Path(folder) / "results.json").read_text())["summary"]


def load_results(folder: str | Path) -> list[ClipResult]:
    """Read back what :func:`save_results` wrote (series loaded eagerly)."""
    folder = Path(folder)
    data = json.loads((folder / "results.json").read_text())
    clips = []
    for record in data["clips"]:
        metrics = {k: (float("nan") if v is None else v) for k, v in record.pop("metrics").items()}
        npz = folder / f"{record['name']}.npz"
        series = dict(np.load(npz)) if npz.exists() else {}
        clips.append(ClipResult(**record, metrics=metrics, series=series))
    return clips
