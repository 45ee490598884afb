"""Quality of `animate` on every real talking clip: first frame + the clip's own speech -> video, scored by `eval`.

For each talking video in ../shared/data: animate its first frame with its audio at its own fps (or, with
--stream, stream it live: the speech pushed in 20 ms chunks through a Stream, its frames recorded as produced), then
run the evaluation against the real video (lip sync r / lag / LMD, blinks, pose, jitter, identity to the first frame).
Prints a Markdown table, writes the results folder, an HTML report and a bar plot of lip-sync r per clip.

Run: .venv/bin/python bench/quality.py [--clips lipnet-grid/bbaf2n.mpg ...] [--transcripts] [--lips NAME] [--stream]
     [--out bench/results/quality]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import clip_arguments, data_and_results, markdown_table  # noqa: E402

from talkinghead.eval.evaluate import EvalConfig, Pairing, evaluate_clip  # noqa: E402
from talkinghead.eval.report import write_report  # noqa: E402
from talkinghead.eval.results import ClipResult, save_results  # noqa: E402
from talkinghead.io.video import read_frames, video_info  # noqa: E402
from talkinghead.audio.decode import SAMPLE_RATE, load_audio  # noqa: E402
from talkinghead.io.live import Recorder  # noqa: E402
from talkinghead.pipeline import AnimateConfig, StreamConfig, animate  # noqa: E402
from talkinghead.pipeline.animate import portrait_for  # noqa: E402
from talkinghead.pipeline.stream import Stream, play  # noqa: E402

COLUMNS = [("lip-sync r", "lipsync_r"), ("lag", "lag_frames"), ("speech r (real)", "audio_r_ref"), ("LMD", "lmd"),
           ("blinks/min", "blink_rate"), ("real", "blink_rate_ref"), ("pose std", "pose_std"),
           ("real", "pose_std_ref"), ("jitter", "jitter"), ("real", "jitter_ref"), ("geometry", "geometry"),
           ("mouth SSIM", "mouth_ssim"), ("mouth sharpness", "mouth_sharpness"), ("mouth change", "mouth_change"),
           ("face found", "face_found")]


def first_frame(clip: Path, out: Path) -> Path:
    """The clip's first frame as a PNG portrait."""
    portrait = out / f"{clip.stem}_portrait.png"
    cv2.imwrite(str(portrait), cv2.cvtColor(next(iter(read_frames(clip))), cv2.COLOR_RGB2BGR))
    return portrait


def animate_video(clip: Path, portrait: Path, video: Path, transcript: str | None, lips: str) -> float:
    """``animate`` the portrait with the clip's own audio at its fps; the real-time factor."""
    config = AnimateConfig(fps=video_info(clip)[0], transcript=transcript, lips=lips)
    return animate(portrait, clip, video, config)["real_time_factor"]


def stream_video(clip: Path, portrait: Path, video: Path, chunk_s: float = 0.02) -> float:
    """Stream the portrait live with the clip's own audio (pushed as fast as it is drawn: the frames do not depend
    on the pace), recording the frames as produced; the real-time factor."""
    config = StreamConfig(fps=video_info(clip)[0])
    stream = Stream(portrait_for(portrait, config), config)
    speech = load_audio(clip).samples
    chunk = int(chunk_s * SAMPLE_RATE)
    start = time.perf_counter()
    summary = play(stream, ((speech[i:i + chunk], SAMPLE_RATE, time.monotonic()) for i in range(0, len(speech), chunk)),
                   [Recorder(video, stream.portrait.size, config.fps)])
    return (time.perf_counter() - start) / summary["audio_seconds"]


def animate_and_score(clip: Path, out: Path, transcript: str | None, lips: str = AnimateConfig.lips,
                      live: bool = False) -> tuple[ClipResult, float]:
    """Animate (or stream) the clip's first frame with its own audio at its fps; score the result against the
    clip."""
    portrait = first_frame(clip, out)
    video = out / "videos" / f"{clip.stem}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    factor = stream_video(clip, portrait, video) if live else animate_video(clip, portrait, video, transcript, lips)
    pair = Pairing(clip.stem, video, reference=clip, audio=clip, source=portrait)
    return evaluate_clip(pair, EvalConfig()), factor


def plot_r(clips: list[ClipResult], path: Path) -> None:
    """Bars of lip-sync r per clip, next to the speech-envelope baseline on the real video."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c.name for c in clips]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=100)
    ax.bar(x - 0.2, [c.metrics.get("lipsync_r", np.nan) for c in clips], 0.4, label="animate vs real mouth")
    ax.bar(x + 0.2, [c.metrics.get("audio_r_ref", np.nan) for c in clips], 0.4, color="0.7",
           label="speech envelope vs real mouth")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("Pearson r at best lag")
    ax.set_ylim(0, 1)
    ax.axhline(0.7, color="0.4", lw=0.8, ls=":")
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = clip_arguments(__doc__.splitlines()[0], "quality")
    parser.add_argument("--transcripts", action="store_true", help="give GRID clips their transcript (forced alignment)")
    parser.add_argument("--lips", default=AnimateConfig.lips, help="lips generator (default: animate's)")
    parser.add_argument("--stream", action="store_true", help="stream each clip live instead (causal lips, live face)")
    args = parser.parse_args()
    data = data_and_results(args)
    clips, rtf = [], []
    for name in args.clips:
        start = time.perf_counter()
        transcript = None
        if args.transcripts and name.startswith("lipnet-grid/"):
            from talkinghead.data.grid import grid_transcript

            transcript = grid_transcript(Path(name).stem)
        result, factor = animate_and_score(data / name, args.out, transcript, args.lips, args.stream)
        clips.append(result)
        rtf.append(factor)
        print(f"{name}: r={result.metrics['lipsync_r']:.3f} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    save_results(args.out, clips)
    write_report(args.out, args.out / "report.html", title="animate on the real talking clips")
    plot_r(clips, args.out / "lipsync_r.png")
    rows = [[c.name] + [float(c.metrics.get(k, np.nan)) for _, k in COLUMNS] + [f] for c, f in zip(clips, rtf)]
    print(markdown_table(["clip"] + [h for h, _ in COLUMNS] + ["RTF"], rows))
    grid = [c.metrics["lipsync_r"] for c in clips if c.reference and "lipnet-grid" in c.reference]
    other = [c.metrics["lipsync_r"] for c in clips if c.reference and "lipnet-grid" not in c.reference]
    print(f"\nmean lip-sync r: GRID {np.mean(grid) if grid else np.nan:.3f}, "
          f"other clips {np.mean(other) if other else np.nan:.3f}; results, report.html and lipsync_r.png in {args.out}")


if __name__ == "__main__":
    main()
