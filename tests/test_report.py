"""The evaluation report as a reader sees it: tables with one row per clip, figures that show something, no debris."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from talkinghead.errors import InputError
from talkinghead.eval import report
from talkinghead.eval.report import write_report
from talkinghead.eval.results import ClipResult, save_results

CLIP = Path(__file__).resolve().parent / "media" / "hopper_bin_blue.mp4"
FPS, T = 25.0, 150
STRIP_AT = np.array([10, 35, 60, 85, 110, 135])
NUMBER = re.compile(r"^(–|[+-]?\d+(\.\d+)?)$")


def face_frames(n: int) -> np.ndarray:
    """``n`` face crops (144 x 120 RGB) of the shipped clip's speaker."""
    from talkinghead.io.video import read_frames

    frames = list(read_frames(CLIP))
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, n).astype(int)]
    return np.stack([cv2.resize(f[40:244, 96:266], (120, 144), interpolation=cv2.INTER_AREA) for f in picks])


def blink_curve(blinks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Eye opening around 0.3 that drops to 0.05 inside each blink."""
    eyes = 0.3 + 0.01 * rng.standard_normal(T)
    for start, end in blinks:
        eyes[start:end] -= 0.25 * np.hanning(end - start + 2)[1:-1]
    return eyes


def synthetic_clips() -> list[ClipResult]:
    """A clip with a reference, one without, and one with metrics only."""
    rng = np.random.default_rng(0)
    t = np.arange(T) / FPS
    speech = np.clip(np.sin(np.pi * t / 1.5) ** 2 * (t < 4.8) + 0.05 * rng.standard_normal(T), 0, 1)
    mouth_ref = 0.25 * speech * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) ** 2
    mouth = np.roll(mouth_ref, 1) * 1.1 + 0.01 * rng.standard_normal(T)
    mouth[70:73] = np.nan  # face lost
    blinks, blinks_ref = np.array([[30, 34], [100, 105]]), np.array([[45, 49], [90, 93], [128, 132]])
    pose_ref = np.stack([4 * np.sin(t), 2 * np.sin(1.7 * t + 1), 1.5 * np.cos(0.8 * t)], 1)
    pose = 0.7 * pose_ref + 0.3 * rng.standard_normal((T, 3))
    frames = face_frames(len(STRIP_AT))
    generated = np.stack([cv2.GaussianBlur(f, (5, 5), 0) for f in frames])
    full = ClipResult("bbaf2n", "gen/bbaf2n.mp4", "real/bbaf2n.mpg", "real/bbaf2n.mpg", "bbaf2n.png",
                      {"fps": FPS, "lipsync_r": 0.8734, "lag_frames": 1.0, "lag_ms": 40.0, "lmd": 0.04321,
                       "audio_r": 0.61, "blink_rate": 16.0, "blink_rate_ref": 24.0, "blink_ms": 180.0,
                       "yaw_range": 6.1, "jitter": 0.123, "psnr": 27.456, "ssim": 0.8123, "novel_score": 3.5},
                      {"mouth": mouth, "mouth_ref": mouth_ref, "speech": speech, "eyes": blink_curve(blinks, rng),
                       "eyes_ref": blink_curve(blinks_ref, rng), "blinks": blinks, "blinks_ref": blinks_ref,
                       "pose": pose, "pose_ref": pose_ref, "strip": generated, "strip_ref": frames,
                       "strip_frames": STRIP_AT})
    solo = ClipResult("photo_tts", "gen/photo_tts.mp4", None, "speech.wav", "photo.png",
                      {"fps": FPS, "lipsync_r": float("nan"), "audio_r": 0.55, "blink_rate": 12.0, "jitter": 0.2},
                      {"mouth": mouth[::-1].copy(), "speech": speech[::-1].copy(), "eyes": blink_curve(blinks, rng),
                       "blinks": blinks, "pose": pose, "strip": generated, "strip_frames": STRIP_AT})
    bare = ClipResult("metrics_only", "gen/x.mp4", metrics={"fps": FPS, "psnr": 30.0})
    return [full, solo, bare]


class Page(HTMLParser):
    """Tables (lists of rows of cell texts) and images (src, alt) of an HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[dict[str, str]] = []
        self.cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def assert_picture(png: bytes) -> np.ndarray:
    """A PNG that decodes to a 900 px wide picture with real content (not blank, not one flat colour)."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] == 900
    inked = (image.min(axis=2) < 200).mean()
    assert 0.01 < inked and image.std() > 20, (inked, image.std())
    return image


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("results")
    save_results(folder, synthetic_clips(), totals={"fid": 41.25})
    return folder


@pytest.fixture(scope="module")
def html_page(results, tmp_path_factory) -> Page:
    output = tmp_path_factory.mktemp("html") / "report.html"
    assert write_report(results, output, title="Nightly eval") == output
    text = output.read_text()
    assert "<title>Nightly eval</title>" in text and "http" not in text.replace("http-equiv", "")  # no external files
    return Page(text)


def test_html_has_one_row_per_clip_with_formatted_numbers(html_page) -> None:
    summary, clips = html_page.tables
    assert summary[0][:3] == ["metric", "mean", "unit"]
    means = {row[0]: row[1] for row in summary[1:]}
    assert means["lip-sync r"] == "0.87"  # the clip without a reference has no r: the mean is over one clip
    assert means["PSNR"] == "28.7" and means["blink rate (real)"] == "24" and means["novel_score"] == "3.50"
    assert means["FID"] == "41.2"  # a whole-set metric from the summary
    assert clips[0][0] == "clip" and "lag (ms)" in clips[0] and "blink rate (/min)" in clips[0]
    assert [row[0] for row in clips[1:]] == ["bbaf2n", "photo_tts", "metrics_only"]
    assert all(NUMBER.match(cell) for row in clips[1:] for cell in row[1:])
    row = dict(zip(clips[0], clips[1]))
    assert (row["lip-sync r"], row["lag (ms)"], row["LMD (eye widths)"]) == ("0.87", "+40", "0.043")
    assert dict(zip(clips[0], clips[2]))["lip-sync r"] == "–"


def test_html_embeds_figures_that_show_something(html_page) -> None:
    images = html_page.images
    assert len(images) == 8  # mouth, frames, blinks, pose for each clip with series
    for image in images:
        assert image["src"].startswith("data:image/png;base64,")
        assert_picture(base64.b64decode(image["src"].split(",", 1)[1]))


def test_clip_without_reference_shows_generated_only(html_page) -> None:
    alts = {img["alt"]: base64.b64decode(img["src"].split(",", 1)[1]) for img in html_page.images}
    assert "bbaf2n: mouth opening, generated vs real" in alts
    assert "photo_tts: mouth opening, generated" in alts and "photo_tts: head pose, generated" in alts
    both, solo = (assert_picture(alts[f"{name}: frames, {rows}"])
                  for name, rows in (("bbaf2n", "generated and real"), ("photo_tts", "generated")))
    assert solo.shape[0] < 0.75 * both.shape[0]  # one row of frames instead of two


def test_markdown_references_png_files_that_exist(results, tmp_path) -> None:
    output = tmp_path / "report.md"
    stale = tmp_path / "report_files" / "old.png"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    write_report(results, output)
    text = output.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 8 and all(link.startswith("report_files/") and link.endswith(".png") for link in links)
    for link in links:
        assert_picture((tmp_path / link).read_bytes())
    assert sorted(p.name for p in (tmp_path / "report_files").iterdir()) == sorted(Path(l).name for l in links)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report_files"]
    assert (tmp_path / "report_files").stat().st_mode & 0o666 == output.stat().st_mode & 0o666  # usual mode, as the .md
    assert "| bbaf2n | 0.87 | +40 |" in text and "| photo\\_tts | – |" in text


def test_bad_output_or_results_leave_nothing(results, tmp_path, monkeypatch) -> None:
    with pytest.raises(InputError, match="unsupported report format"):
        write_report(results, tmp_path / "report.pdf")
    with pytest.raises(InputError, match="results.json"):
        write_report(tmp_path / "missing", tmp_path / "report.html")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="results.json"):
        write_report(tmp_path / "empty", tmp_path / "report.md")
    monkeypatch.setattr(report, "to_markdown", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_report(results, tmp_path / "report.md")
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]
