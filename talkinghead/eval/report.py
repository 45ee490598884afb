"""The evaluation report: a results folder (``talkinghead eval --save``) as one HTML page or Markdown with PNG figures.

The report has a summary table (mean of each metric over the clips), one row of main metrics per clip, then per clip
its mouth-opening timeline over the speech level, a strip of frames, and its blink and head-pose timelines.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from talkinghead.errors import InputError
from talkinghead.eval.lipsync import best_lag
from talkinghead.eval.results import ClipResult, load_results, load_summary, summarize
from talkinghead.io.video import atomic_output

GENERATED, REAL, SPEECH = "#1f77b4", "#333333", "#f5b942"
POSE_COLOURS = {"yaw": "#1f77b4", "pitch": "#d62728", "roll": "#2ca02c"}
WIDTH, HEIGHT, DPI = 9.0, 2.5, 100  # timelines are 900 x 250 px
AXES = (0.075, 0.18, 0.765, 0.7)  # fixed plot area (left, bottom, width, height): a clip's timelines line up in time
DEFAULT_FPS = 25.0
SOURCES = ("generated", "real")


@dataclass(frozen=True)
class Metric:
    """How a metric is shown: a label, its unit and what it means (arrows: which way is better)."""

    label: str
    unit: str = ""
    meaning: str = ""


METRICS = {
    "lipsync_r": Metric("lip-sync r", "", "correlation of the generated and real mouth opening at the best lag (↑)"),
    "lag_frames": Metric("lag", "frames", "best lag of the generated mouth; > 0: it moves late"),
    "lag_ms": Metric("lag", "ms", "best lag of the generated mouth; > 0: it moves late"),
    "lmd": Metric("LMD", "eye widths", "mean distance of generated to real lip landmarks at the best lag (↓)"),
    "audio_r": Metric("audio r", "", "correlation of the generated mouth opening with the speech level (↑)"),
    "ms_sync": Metric("MS-Sync", "", "multi-scale syncer confidence, tracked lips vs speech (↑)"),
    "lse_c": Metric("LSE-C", "", "SyncNet lip-sync confidence (↑)"),
    "lse_d": Metric("LSE-D", "", "SyncNet audio-visual feature distance (↓)"),
    "blink_rate": Metric("blink rate", "/min", "blinks per minute (people: 10-25)"),
    "blink_ms": Metric("blink length", "ms", "mean blink duration (people: 100-400 ms)"),
    "yaw_range": Metric("yaw range", "°", "spread of head yaw, 5th to 95th percentile"),
    "pitch_range": Metric("pitch range", "°", "spread of head pitch, 5th to 95th percentile"),
    "roll_range": Metric("roll range", "°", "spread of head roll, 5th to 95th percentile"),
    "pose_std": Metric("pose std", "°", "standard deviation of yaw, pitch and roll, averaged"),
    "pose_speed": Metric("pose speed", "°/s", "mean speed of head rotation"),
    "pose_var": Metric("pose variance", "°²", "variance of yaw, pitch and roll, averaged (motion diversity)"),
    "pose_ssim": Metric("pose SSIM", "", "similarity of the head-pose sequence to the real one (↑)"),
    "eyebrow_var": Metric("eye/brow variance", "", "variance of eye opening and brow height (motion diversity)"),
    "eyebrow_ssim": Metric("eye/brow SSIM", "", "similarity of the eye and brow sequence to the real one (↑)"),
    "gaze_std": Metric("gaze std", "eye widths", "spread of the iris position while the eyes are open"),
    "gaze_speed": Metric("gaze speed", "eye widths/s", "mean speed of the iris"),
    "jitter": Metric("jitter", "%/frame²", "landmark acceleration on the stillest second, % of eye distance (↓)"),
    "psnr": Metric("PSNR", "dB", "pixel fidelity to the real frames (↑)"),
    "ssim": Metric("SSIM", "", "structural similarity to the real frames, 0..1 (↑)"),
    "mouth_ssim": Metric("mouth SSIM", "", "structural similarity of the mouth crops to the real ones (↑)"),
    "mouth_psnr": Metric("mouth PSNR", "dB", "pixel fidelity of the mouth crops to the real ones (↑)"),
    "mouth_sharpness": Metric("mouth sharpness", "x real", "high-frequency energy of the mouth crops over the real "
                              "ones' (1: as sharp; above: grainier or harder-edged)"),
    "mouth_change": Metric("mouth change", "x real", "frame-to-frame change of the mouth crops over the real ones' "
                           "(1: as steady; above: shimmer or jumps)"),
    "fid": Metric("FID", "", "Fréchet Inception distance of the frames to real ones (↓)"),
    "fvd": Metric("FVD", "", "Fréchet video distance to real videos (↓)"),
    "fps": Metric("fps", "frames/s", "frame rate of the series"),
}
MAIN = ("lipsync_r", "lag_ms", "lmd", "audio_r", "ms_sync", "lse_c", "lse_d", "blink_rate", "blink_ms", "pose_std",
        "jitter", "psnr", "ssim", "mouth_ssim", "mouth_sharpness", "mouth_change")


@dataclass(frozen=True)
class Table:
    """A table of formatted cells; ``align`` has one 'l' or 'r' per column."""

    header: list[str]
    rows: list[list[str]]
    align: str


@dataclass(frozen=True)
class Picture:
    """A PNG figure; ``name`` is its file name next to a Markdown report."""

    name: str
    alt: str
    png: bytes


Block = tuple[str, str] | Table | Picture  # (kind, text) with kind h1, h2, p or note


@dataclass(frozen=True)
class Curve:
    """One quantity over time: generated (solid) and real (dashed) series, either may be None."""

    label: str
    generated: np.ndarray | None
    real: np.ndarray | None
    colour: str = GENERATED
    real_colour: str | None = None


def metric_info(key: str) -> Metric:
    """How ``key`` is shown; ``<key>_ref`` is the same measure on the real video, unknown keys are shown as is."""
    if key in METRICS:
        return METRICS[key]
    base = key.removesuffix("_ref")
    if base != key and base in METRICS:
        m = METRICS[base]
        return Metric(f"{m.label} (real)", m.unit, f"{m.meaning.split(' (')[0]}, on the real video")
    return Metric(key)


def number(key: str, value: float | None) -> str:
    """A metric value with as many digits as its size needs ('–' for missing); lags are signed."""
    if value is None or not math.isfinite(value):
        return "–"
    sign = "+" if key.startswith("lag") and value != 0 else ""
    if value == round(value) and (abs(value) >= 1 or value == 0):
        return f"{value:{sign}.0f}"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2 if abs(value) >= 0.1 else 3
    return f"{value:{sign}.{digits}f}"


def _heading(key: str) -> str:
    """Column heading: label and unit."""
    m = metric_info(key)
    return f"{m.label} ({m.unit})" if m.unit else m.label


def _ordered(keys: set[str]) -> list[str]:
    """Known metrics in their usual order (``<key>_ref`` right after ``<key>``), then the others alphabetically."""
    order = list(METRICS)
    return sorted(keys, key=lambda k: (order.index(k.removesuffix("_ref")) if k.removesuffix("_ref") in METRICS
                                       else len(order), k))


def summary_table(clips: list[ClipResult], totals: dict[str, float]) -> Table:
    """Mean, range and meaning of every metric over the clips, then the metrics of the whole set (FID, FVD)."""
    means, rows = summarize(clips), []
    for key in _ordered(set(totals) - set(means)):
        m = metric_info(key)
        rows.append([m.label, number(key, totals[key]), m.unit, "whole set", str(len(clips)), m.meaning])
    for key in _ordered(set(means)):
        values = [v for c in clips if math.isfinite(v := c.metrics.get(key, math.nan))]
        span = f"{number(key, min(values))} … {number(key, max(values))}" if min(values) < max(values) else ""
        m = metric_info(key)
        rows.append([m.label, number(key, means[key]), m.unit, span, str(len(values)), m.meaning])
    return Table(["metric", "mean", "unit", "range", "clips", "meaning"], rows, "lrlrrl")


def clips_table(clips: list[ClipResult]) -> Table:
    """One row per clip with the main metrics that any clip has (all metrics if none of them)."""
    keys = {k for c in clips for k in c.metrics}
    columns = [k for k in MAIN if k in keys] or _ordered(keys)
    rows = [[c.name, *(number(k, c.metrics.get(k)) for k in columns)] for c in clips]
    return Table(["clip", *map(_heading, columns)], rows, "l" + "r" * len(columns))


def _png(fig: Figure) -> bytes:
    """The figure as PNG bytes (no timestamp or version metadata)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def timeline(curves: list[Curve], fps: float, duration: float, title: str, ylabel: str, shade: np.ndarray | None = None,
             blinks: tuple[np.ndarray | None, np.ndarray | None] = (None, None)) -> bytes:
    """PNG of curves over time (s): generated solid, real dashed, ``shade`` (0..1: speech level) filled behind and
    ``blinks`` (generated, real: (N, 2) start and end frames) as spans."""
    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    ax = fig.add_axes(AXES)
    handles = []
    if shade is not None:
        t = np.arange(len(shade)) / fps
        handles.append(ax.fill_between(t, 0, np.clip(np.nan_to_num(shade), 0, 1), step="mid", color=SPEECH,
                                       alpha=0.35, lw=0, transform=ax.get_xaxis_transform(), label="speech level"))
    for intervals, colour, label in zip(blinks, (GENERATED, REAL), ("generated blinks", "real blinks")):
        for i, (start, end) in enumerate(np.zeros((0, 2)) if intervals is None else intervals):
            patch = ax.axvspan(start / fps, max(end, start + 1) / fps, color=colour, alpha=0.15, lw=0, label=label)
            if i == 0:
                handles.append(patch)
    lines = []
    for curve in curves:
        for y, style, colour, who in ((curve.generated, "-", curve.colour, "generated"),
                                      (curve.real, "--", curve.real_colour or curve.colour, "real")):
            if y is not None:
                lines += ax.plot(np.arange(len(y)) / fps, y, style, color=colour, lw=1.6, label=who)
    if len(curves) > 1:  # colours name the curves, line styles the source
        handles += [Line2D([], [], color=c.colour, lw=2, label=c.label) for c in curves]
        handles += [Line2D([], [], color="0.4", ls=line.get_linestyle(), label=line.get_label())
                    for line in {line.get_label(): line for line in lines}.values()]
    else:
        handles += lines
    ax.set(xlim=(0, duration), xlabel="time (s)", ylabel=ylabel)
    ax.set_title(title, loc="left", fontsize=10)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8, borderaxespad=0)
    ax.grid(alpha=0.3, lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def frame_strip(rows: list[tuple[str, str, np.ndarray]], times: list[str]) -> bytes:
    """PNG of rows of frames (label, colour, (K, h, w, 3) RGB), each resized to the first row's frame size."""
    k = min(len(frames) for _, _, frames in rows)
    h, w = rows[0][2].shape[1:3]
    fit = lambda f: f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    mosaic = np.concatenate([np.concatenate([fit(f) for f in frames[:k]], axis=1) for _, _, frames in rows])
    fig = Figure(figsize=(WIDTH, (WIDTH - 0.9) * mosaic.shape[0] / mosaic.shape[1] + 0.35), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(mosaic, interpolation="antialiased")
    ax.set_xticks((np.arange(k) + 0.5) * w, times[:k], fontsize=8)
    ax.set_yticks((np.arange(len(rows)) + 0.5) * h, [label for label, _, _ in rows], fontsize=9)
    for tick, (_, colour, _) in zip(ax.get_yticklabels(), rows):
        tick.set_color(colour)
    for x in range(1, k):
        ax.axvline(x * w - 0.5, color="white", lw=2)
    for y in range(1, len(rows)):
        ax.axhline(y * h - 0.5, color="white", lw=2)
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    return _png(fig)


def _mouth_title(clip: ClipResult, fps: float) -> str:
    """'Mouth opening' with the lip-sync r at the best lag (from the metrics, else measured), or else the audio r."""
    s, m = clip.series, clip.metrics
    if "mouth" in s and "mouth_ref" in s:
        r, lag = m.get("lipsync_r", math.nan), m.get("lag_frames", math.nan)
        if not (math.isfinite(r) and math.isfinite(lag)):
            r, lag = best_lag(s["mouth"], s["mouth_ref"])
        if math.isfinite(r):
            late = "late" if lag > 0 else "early" if lag < 0 else "in sync"
            return (f"Mouth opening · lip-sync r = {r:.2f} at best lag {lag:+.0f} frame{'s' * (abs(lag) != 1)} "
                    f"({lag * 1000 / fps:+.0f} ms, generated {late})")
    if math.isfinite(m.get("audio_r", math.nan)):
        return f"Mouth opening · audio r = {m['audio_r']:.2f}"
    return "Mouth opening"


def _pictures(clip: ClipResult) -> list[Picture]:
    """The clip's figures, for the series it has."""
    s, name = clip.series, clip.name
    fps = clip.metrics.get("fps", DEFAULT_FPS)
    fps = fps if math.isfinite(fps) and fps > 0 else DEFAULT_FPS
    duration = max((len(v) for k, v in s.items() if k in ("mouth", "mouth_ref", "speech", "eyes", "eyes_ref",
                                                            "pose", "pose_ref")), default=0) / fps or 1.0
    pair = lambda key: (s.get(key), s.get(f"{key}_ref"))  # noqa: E731
    drawn = lambda key: " vs ".join(w for w, v in zip(SOURCES, pair(key)) if v is not None)  # noqa: E731
    out = []
    if any(v is not None for v in pair("mouth")):
        png = timeline([Curve("mouth", *pair("mouth"), GENERATED, REAL)], fps, duration, _mouth_title(clip, fps),
                       "lip gap (eye widths)", shade=s.get("speech"))
        out.append(Picture(f"{name}-mouth.png", f"{name}: mouth opening, {drawn('mouth')}", png))
    rows = [(label, colour, frames) for label, colour, frames in zip(SOURCES, (GENERATED, REAL), pair("strip"))
            if frames is not None and len(frames)]
    if rows:
        index = s.get("strip_frames", np.arange(len(rows[0][2])))
        png = frame_strip(rows, [f"{i / fps:.2f} s" for i in index])
        out.append(Picture(f"{name}-frames.png", f"{name}: frames, {' and '.join(r[0] for r in rows)}", png))
    if any(v is not None for v in pair("eyes") + pair("blinks")):
        counts = ", ".join(f"{len(v)} {w}" for w, v in zip(SOURCES, pair("blinks")) if v is not None)
        png = timeline([Curve("eyes", *pair("eyes"), GENERATED, REAL)], fps, duration,
                       f"Eye opening and blinks ({counts})" if counts else "Eye opening", "lid gap / eye width",
                       blinks=pair("blinks"))
        out.append(Picture(f"{name}-blinks.png", f"{name}: eye opening and blinks, {drawn('eyes')}", png))
    if any(v is not None for v in pair("pose")):
        curves = [Curve(label, *(None if v is None else v[:, i] for v in pair("pose")), colour)
                  for i, (label, colour) in enumerate(POSE_COLOURS.items())]
        png = timeline(curves, fps, duration, "Head pose", "angle (°)")
        out.append(Picture(f"{name}-pose.png", f"{name}: head pose, {drawn('pose')}", png))
    return out


def document(title: str, folder: Path, clips: list[ClipResult], totals: dict[str, float]) -> list[Block]:
    """The report's blocks: summary, per-clip table, then each clip's files, metrics and figures."""
    blocks: list[Block] = [("h1", title), ("note", f"{len(clips)} clip{'s' * (len(clips) != 1)} from {folder}"),
                           ("h2", "Summary"), summary_table(clips, totals), ("h2", "Clips"), clips_table(clips)]
    for clip in clips:
        files = [f"{what}: {path}" for what, path in (("generated", clip.generated), ("real", clip.reference),
                                                      ("audio", clip.audio), ("source", clip.source)) if path]
        values = [f"{metric_info(k).label} {number(k, v)} {metric_info(k).unit}".rstrip()
                  for k in _ordered(set(clip.metrics)) if math.isfinite(v := clip.metrics[k])]
        blocks += [("h2", clip.name), ("note", " · ".join(files)), ("p", " · ".join(values)), *_pictures(clip)]
    return blocks


CSS = """body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;max-width:960px;
margin:2em auto;padding:0 1em}h1{font-size:1.6em}h2{margin-top:2em;padding-bottom:.2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{padding:.25em .7em;border-bottom:1px solid #e5e5e5}
th{background:#f5f5f5;text-align:left}.r{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#fafafa}.note{color:#777;font-size:.9em}img{display:block;max-width:100%;margin:.5em 0}"""


def to_html(title: str, blocks: list[Block]) -> str:
    """One self-contained HTML page: figures inlined as PNG data URIs."""
    e = html.escape
    body = []
    for block in blocks:
        if isinstance(block, Table):
            cls = lambda i: ' class="r"' if block.align[i] == "r" else ""  # noqa: E731
            head = "".join(f"<th{cls(i)}>{e(h)}</th>" for i, h in enumerate(block.header))
            rows = "".join("<tr>" + "".join(f"<td{cls(i)}>{e(c)}</td>" for i, c in enumerate(row)) + "</tr>\n"
                           for row in block.rows)
            body.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>")
        elif isinstance(block, Picture):
            data = base64.b64encode(block.png).decode("ascii")
            body.append(f'<img src="data:image/png;base64,{data}" alt="{e(block.alt)}" width="900">')
        else:
            kind, text = block
            body.append(f'<p class="note">{e(text)}</p>' if kind == "note" else f"<{kind}>{e(text)}</{kind}>")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{e(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _md(text: str) -> str:
    """Text with Markdown's special characters escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>|#" else ch for ch in text)


def to_markdown(blocks: list[Block], figures: str) -> str:
    """Markdown with figures referenced as ``figures/<name>``."""
    out = []
    for block in blocks:
        if isinstance(block, Table):
            line = lambda cells: "| " + " | ".join(cells) + " |"  # noqa: E731
            rule = line("---:" if a == "r" else ":---" for a in block.align)
            out.append("\n".join([line(map(_md, block.header)), rule, *(line(map(_md, row)) for row in block.rows)]))
        elif isinstance(block, Picture):
            out.append(f"![{_md(block.alt)}]({quote(figures)}/{quote(block.name)})")
        else:
            kind, text = block
            out.append({"h1": "# ", "h2": "## "}.get(kind, "") + (f"*{_md(text)}*" if kind == "note" else _md(text)))
    return "\n\n".join(out) + "\n"


def _load(folder: Path) -> tuple[list[ClipResult], dict[str, float]]:
    """The clips and summary of a results folder; InputError when it is missing or unreadable."""
    path = folder / "results.json"
    if not path.is_file():
        raise InputError(folder, "no results.json here (write one with talkinghead eval --save)")
    try:
        return load_results(folder), load_summary(folder)
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"not a readable results folder ({type(exc).__name__})") from None


def _write_markdown(output: Path, blocks: list[Block]) -> None:
    """``output`` and its ``<stem>_files`` figure folder, both replaced only once everything is written."""
    folder = output.with_name(f"{output.stem}_files")
    with atomic_output(output) as tmp:
        staging = output.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}")  # mkdir, unlike mkdtemp, keeps the umask
        staging.mkdir()
        try:
            for block in blocks:
                if isinstance(block, Picture):
                    (staging / block.name).write_bytes(block.png)
            tmp.write_text(to_markdown(blocks, folder.name), encoding="utf-8")
            if folder.is_dir():
                shutil.rmtree(folder)
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def write_report(results_dir: str | Path, output: str | Path, title: str = "Talking-head evaluation") -> Path:
    """Write the report of ``results_dir`` to ``output``: ``.html`` (self-contained) or ``.md`` (figures in a sibling
    ``<stem>_files`` folder, replaced as a whole); returns ``output``."""
    results_dir, output = Path(results_dir), Path(output)
    if output.suffix.lower() not in (".html", ".md"):
        raise InputError(output, "unsupported report format (use .html or .md)")
    blocks = document(title, results_dir, *_load(results_dir))
    if output.suffix.lower() == ".md":
        _write_markdown(output, blocks)
    else:
        with atomic_output(output) as tmp:
            tmp.write_text(to_html(title, blocks), encoding="utf-8")
    return output
