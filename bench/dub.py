"""Quality of `dub` on the real talking clips, next to `animate`.

1. Every talking video in ../shared/data dubbed with its own speech and scored by `eval` against itself: lip-sync r
   (mouth opening vs the original's, best lag), lag and LMD, beside `animate` (first frame + the same speech); the
   SSIM of the face above the nose against the original, beside that of a plain re-encode at the same quality; the
   blend ring's frame-to-frame change beside the source's own there (both before encoding).
2. Every GRID clip dubbed with the next GRID clip's speech: r against the speech's own video, and against the
   source video's (the old speech the mouth should no longer follow).

Run: .venv/bin/python bench/dub.py [--clips lipnet-grid/bbaf2n.mpg ...] [--no-animate] [--out bench/results/dub]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import clip_arguments, data_and_results, markdown_table  # noqa: E402
from quality import animate_and_score  # noqa: E402

from talkinghead.eval.evaluate import EvalConfig, Pairing, evaluate_clip  # noqa: E402
from talkinghead.face import regions  # noqa: E402
from talkinghead.face.track import track_video  # noqa: E402
from talkinghead.io.video import Mp4Writer, read_frames, video_info  # noqa: E402
from talkinghead.pipeline import DubConfig, dub  # noqa: E402


def upper_face_ssim(video: Path, source: Path, landmarks: np.ndarray) -> float:
    """Mean SSIM (grey) of the face above the nose, ``video`` against ``source`` frame by frame."""
    scores = []
    for out, src, lms in zip(read_frames(video), read_frames(source), landmarks):
        if not np.isfinite(lms).all():
            continue
        eye = regions.eye_distance(lms)
        x0, x1 = lms[regions.FACE_OVAL, 0].min(), lms[regions.FACE_OVAL, 0].max()
        y0, y1 = lms[regions.FACE_OVAL, 1].min(), lms[[98, 2, 327], 1].min() - 0.25 * eye
        box = np.s_[max(0, int(y0)):int(y1), max(0, int(x0)):int(x1)]
        src = src[:out.shape[0], :out.shape[1]]  # the output drops an odd row or column
        grey = [cv2.cvtColor(np.ascontiguousarray(f[box]), cv2.COLOR_RGB2GRAY) for f in (out, src)]
        scores.append(float(cv2.quality.QualitySSIM_compute(grey[0], grey[1])[0][0]))
    return float(np.mean(scores))


def reencoded(source: Path, path: Path, crf: int) -> Path:
    """``source`` re-encoded as dub writes its output (H.264 at ``crf``, even size), for the SSIM baseline."""
    fps, w, h, _ = video_info(source)
    with Mp4Writer(path, w // 2 * 2, h // 2 * 2, fps, crf=crf) as writer:
        for frame in read_frames(source):
            writer.write(frame[:h // 2 * 2, :w // 2 * 2])
    return path


def own_speech(clips: list[str], data: Path, out: Path, with_animate: bool, lips: str) -> list[list]:
    """Part 1: one row per clip."""
    rows = []
    for name in clips:
        clip = data / name
        video = out / "own" / f"{clip.stem}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        summary = dub(clip, clip, video, DubConfig(lips=lips))
        scores = evaluate_clip(Pairing(clip.stem, video, reference=clip, audio=clip), EvalConfig()).metrics
        animate_r = animate_and_score(clip, out, None, lips)[0].metrics["lipsync_r"] if with_animate else np.nan
        track = track_video(clip)
        ssim = upper_face_ssim(video, clip, track.landmarks)
        base = upper_face_ssim(reencoded(clip, out / "reencoded.mp4", DubConfig().crf), clip, track.landmarks)
        rows.append([clip.stem, scores["lipsync_r"], animate_r, scores["lag_frames"], scores["lmd"], ssim, base,
                     summary.get("boundary_flicker", np.nan), summary.get("source_flicker", np.nan),
                     scores["face_found"], summary["real_time_factor"]])
        print(f"{name}: r={scores['lipsync_r']:.3f} animate {animate_r:.3f} ssim {ssim:.4f}/{base:.4f}",
              file=sys.stderr)
    return rows


def cross_speech(data: Path, out: Path) -> list[list]:
    """Part 2: GRID clip k dubbed with clip k+1's speech."""
    grid = sorted((data / "lipnet-grid").glob("*.mpg"))
    rows = []
    for source, speech in zip(grid, grid[1:] + grid[:1]):
        video = out / "cross" / f"{source.stem}_says_{speech.stem}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        dub(source, speech, video, DubConfig())
        new = evaluate_clip(Pairing(video.stem, video, reference=speech, audio=speech), EvalConfig()).metrics
        old = evaluate_clip(Pairing(video.stem, video, reference=source, audio=speech), EvalConfig()).metrics
        real = evaluate_clip(Pairing(source.stem, source, reference=speech, audio=speech), EvalConfig()).metrics
        rows.append([source.stem, speech.stem, new["lipsync_r"], new["lag_frames"], old["lipsync_r"],
                     real["lipsync_r"]])
        print(f"{source.stem} says {speech.stem}: r {new['lipsync_r']:.3f} (old speech {old['lipsync_r']:.3f})",
              file=sys.stderr)
    return rows


def main() -> None:
    parser = clip_arguments(__doc__.splitlines()[0], "dub")
    parser.add_argument("--no-animate", action="store_true", help="skip the animate runs beside each dub")
    parser.add_argument("--lips", default=DubConfig.lips, help="lips generator of dub and animate (default: theirs)")
    parser.add_argument("--no-cross", action="store_true", help="skip part 2")
    args = parser.parse_args()
    data = data_and_results(args)
    rows = own_speech(args.clips, data, args.out, not args.no_animate, args.lips)
    header = ["clip", "dub r", "animate r", "lag", "LMD", "SSIM above nose", "re-encode SSIM", "ring flicker",
              "source flicker", "face found", "RTF"]
    mean = ["mean"] + [float(np.nanmean([r[k] for r in rows])) for k in range(1, len(header))]
    print("Dubbed with their own speech, scored against the original:\n")
    print(markdown_table(header, rows + [mean]))
    if args.no_cross:
        return
    cross = cross_speech(data, args.out)
    print("\nGRID clips dubbed with another clip's speech:\n")
    cross_mean = ["mean", ""] + [float(np.mean([r[k] for r in cross])) for k in range(2, 6)]
    print(markdown_table(["source", "speech", "r vs the speech's video", "lag", "r vs the source video",
                          "source video vs the speech's video"], cross + [cross_mean]))


if __name__ == "__main__":
    main()
