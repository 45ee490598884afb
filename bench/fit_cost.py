"""What an avatar costs on 2 CPU cores: `talkinghead fit` on 15 s, 1 min and 3 min of footage (time to track and cut
it, training steps per second, peak memory, file size), rendering with it (dub of a 720p video, animate at 512 px),
and mouth fidelity against fit minutes on one clip's held-back third (plotted).

Run: .venv/bin/python bench/fit_cost.py [--minutes 0.5] [--curve 1 2 4 8] [--out bench/results]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, require_data  # noqa: E402
from fidelity import crops_of, part, score  # noqa: E402
from speed import run_command, speech_of_length  # noqa: E402

from talkinghead.io.video import video_info  # noqa: E402
from talkinghead.pipeline import DubConfig, dub, track_motion  # noqa: E402
from talkinghead.train.fit import FitConfig, fit_avatar  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OBAMA = ["long/subeff_obama_cspan_61s.mp4", "long/f2f_obama_address_34s.mp4", "long/edtalk_obama_oval_20s.mp4",
         "long/styletalk_Obama_clip1_av.mp4", "long/styletalk_Obama_clip2_av.mp4", "long/styletalk_Obama_clip3_av.mp4"]
CURVE_CLIP = "long/f2f_obama_address_34s.mp4"


def footage(data: Path, seconds: float, tmp: Path) -> list[Path]:
    """About ``seconds`` of one person: the Obama clips in turn, the last one cut short."""
    clips, left = [], seconds
    for name in OBAMA:
        fps, _, _, duration = video_info(data / name)
        take = min(duration, left)
        clips.append(part(data / name, 0, int(take * fps), fps, tmp, f"{seconds:g}s")[0] if take < duration
                     else data / name)
        left -= take
        if left <= 0.5:
            return clips
    return clips


def fit_costs(data: Path, minutes: float, tmp: Path) -> tuple[list[list], Path]:
    """One fit per footage length, each in a fresh process; returns the rows and the 3-minute avatar."""
    rows = []
    for seconds in (15, 60, 180):
        videos = footage(data, seconds, tmp)
        avatar = tmp / f"fit_{seconds}.avatar"
        res = run_command("fit", *map(str, videos), "-o", str(avatar), "--minutes", str(minutes))
        rows.append([seconds, len(videos), res["footage_seconds"], res["prepare_seconds"],
                     res["steps"] / res["train_seconds"], round(res["prepare_seconds"] / 60 + 10, 1),
                     round(res["peak_mb"]), res["avatar_mb"]])
        print(f"fit on {seconds} s done", file=sys.stderr, flush=True)
    return rows, avatar


def render_costs(data: Path, avatar: Path, tmp: Path) -> list[list]:
    """dub of a 720p clip and animate at 512 px, 20 s of speech, with the avatar and with warp."""
    speech = speech_of_length(20, tmp / "speech.wav")
    rows = []
    for name, extra in (("warp", []), ("avatar", ["--avatar", str(avatar)])):
        res = run_command("dub", "--video", str(data / "long" / "f2f_obama_address_34s.mp4"), "--audio", str(speech),
                          "-o", str(tmp / "dub.mp4"), *extra)
        rows.append(["dub 1280x720", name, res["frames"] / res["wall_seconds"], res["real_time_factor"],
                     round(res["peak_mb"])])
        res = run_command("animate", "--audio", str(speech), "-o", str(tmp / "animate.mp4"), "--size", "512",
                          *(extra or ["--image", str(ROOT / "examples" / "portrait.jpg")]))
        rows.append(["animate 512", name, res["frames"] / res["wall_seconds"], res["real_time_factor"],
                     round(res["peak_mb"])])
    return rows


def curve(data: Path, budgets: list[float], tmp: Path) -> list[list]:
    """Fidelity of `dub --motion` on the clip's held-back third against the fit's minutes (first two thirds)."""
    clip = data / CURVE_CLIP
    fps = video_info(clip)[0]
    crops, _ = crops_of(clip, fps)
    split = int(len(crops) * 2 / 3)
    train = part(clip, 0, split, fps, tmp, "train")[0]
    test, speech = part(clip, split, None, fps, tmp, "test")
    real, _ = crops_of(test, fps)
    still, nxt = score([real[0]] * len(real), real)["mouth_ssim"], score(real[:1] + real[:-1], real)["mouth_ssim"]
    motion = track_motion(test)
    rows = []
    for minutes in budgets:
        avatar = tmp / f"curve_{minutes:g}.avatar"
        fitted = fit_avatar([train], avatar, FitConfig(minutes=minutes))
        dub(test, speech, tmp / "curve.mp4", DubConfig(avatar=str(avatar)), motion=motion)
        m = score(crops_of(tmp / "curve.mp4", fps)[0], real)
        rows.append([minutes, fitted["steps"], (m["mouth_ssim"] - still) / (nxt - still), m["mouth_sharpness"],
                     m["mouth_change"]])
        print(f"curve {minutes:g} min done", file=sys.stderr, flush=True)
    return rows


def plot(rows: list[list], path: Path) -> None:
    """Fidelity, sharpness and change ratios against fit minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=100)
    minutes = [r[0] for r in rows]
    for col, label in ((2, "fidelity"), (3, "sharpness ratio"), (4, "change ratio")):
        ax.plot(minutes, [r[col] for r in rows], "o-", label=label)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("fit minutes (2 CPU cores)")
    ax.set_title(f"avatar on {Path(CURVE_CLIP).stem}'s held-back third")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=0.5, help="training budget of the cost fits")
    parser.add_argument("--curve", type=float, nargs="*", default=[1, 2, 4, 8], help="fit minutes to plot")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="folder for fit_curve.png")
    args = parser.parse_args()
    data = require_data()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fits, avatar = fit_costs(data, args.minutes, tmp)
        print(markdown_table(["footage s (asked)", "clips", "footage s (usable)", "track + cut s", "steps/s",
                              "default fit, min", "peak MB", "avatar MB"], fits))
        print("\n" + markdown_table(["job", "renderer", "fps", "RTF", "peak MB"], render_costs(data, avatar, tmp)))
        if args.curve:
            rows = curve(data, args.curve, tmp)
            print("\n" + markdown_table(["fit minutes", "steps", "fidelity", "sharpness", "change"], rows))
            plot(rows, args.out / "fit_curve.png")
            print(f"\nplot: {args.out / 'fit_curve.png'}")


if __name__ == "__main__":
    main()
