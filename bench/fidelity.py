"""Mouth fidelity on footage a fit never saw: a renderer fitted to the person (`talkinghead fit`) against warp and
the baselines.

For each long single-speaker clip in ../shared/data/long: the last third is held back. Its mouth crops (cut by each
video's own landmarks, :mod:`talkinghead.eval.mouth`) are compared with:
- still: the held-back part's first frame held for its whole length;
- next: the real footage one frame later (how close real video is to itself);
- retrieval: for each frame, the mouth of the frame of the first two thirds whose lip landmarks (in the face's own
  frame) are nearest; no learning at all;
- warp and avatar: the held-back part dubbed with its own tracked motion (`dub --motion`), and with its own speech,
  by the warp renderer and by an avatar fitted for --minutes on the first two thirds (or on --fit-on clips instead:
  another recording of the person).
fidelity = (mouth SSIM - still's) / (next's - still's): 0 is no closer than a still picture, 1 as close as the real next
frame. Sharpness and change are ratios to the real crops (1: as sharp, as steady); lip r is the mouth opening's r
against the real held-back part; fps is the whole dub command's. Writes Markdown tables and, per clip, a PNG of mouth
crops (rows: real, still, warp, retrieval, avatar) into --out.

Run: .venv/bin/python bench/fidelity.py [--clips long/f2f_obama_address_34s.mp4 ...] [--minutes 10]
     [--fit-on long/styletalk_Obama_clip1_av.mp4] [--out bench/results/fidelity]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import clip_arguments, data_and_results, markdown_table  # noqa: E402

from talkinghead.audio.decode import SAMPLE_RATE, Audio, load_audio  # noqa: E402
from talkinghead.data.prepare import write_wav  # noqa: E402
from talkinghead.eval.lipsync import best_lag  # noqa: E402
from talkinghead.eval.mouth import MouthFidelity, mouth_crop  # noqa: E402
from talkinghead.face import regions  # noqa: E402
from talkinghead.face.normalize import face_frame  # noqa: E402
from talkinghead.face.track import Tracker  # noqa: E402
from talkinghead.io.video import Mp4Writer, read_frames, video_info  # noqa: E402
from talkinghead.pipeline import DubConfig, dub, track_motion  # noqa: E402
from talkinghead.train.fit import FitConfig, fit_avatar  # noqa: E402

LIPS = regions.LIPS_OUTER + regions.LIPS_INNER
LONG_CLIPS = ["long/" + p.name for p in sorted((Path(__file__).resolve().parents[1] / ".." / "shared" / "data" /
                                                "long").glob("*.mp4"))]


def crops_of(video: Path, fps: float) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Every frame's mouth crop (None where the face was lost) and the landmarks, tracked as `dub` tracks, in one
    decoding pass."""
    crops = []
    with Tracker(fps, follow=True) as tracker:
        for frame in read_frames(video):
            tracker.add(frame)
            crops.append(mouth_crop(frame, tracker.landmarks[-1]))
    return crops, tracker.track().landmarks


def lip_sketches(landmarks: np.ndarray) -> np.ndarray:
    """(T, 80) lip contours in the face's own frame (eye distances), centred: what retrieval matches on."""
    lips = face_frame(landmarks)[:, LIPS]
    return (lips - lips.mean(1, keepdims=True)).reshape(len(lips), -1)


def part(clip: Path, start: int, stop: int | None, fps: float, folder: Path, name: str) -> tuple[Path, Path]:
    """Frames ``start``..``stop`` of the clip as an mp4 (near-lossless) and their speech as a wav."""
    video = folder / f"{clip.stem}_{name}.mp4"
    _, width, height, _ = video_info(clip)
    w, h = width // 2 * 2, height // 2 * 2
    with Mp4Writer(video, w, h, fps, crf=12) as writer:
        for i, frame in enumerate(read_frames(clip)):
            if stop is not None and i >= stop:
                break
            if i >= start:
                writer.write(frame[:h, :w])
    speech = folder / f"{clip.stem}_{name}.wav"
    samples = load_audio(clip).samples
    write_wav(speech, Audio(samples[int(start / fps * SAMPLE_RATE):None if stop is None else
                                    int(stop / fps * SAMPLE_RATE)]))
    return video, speech


def score(generated: list[np.ndarray | None], real: list[np.ndarray | None]) -> dict[str, float]:
    fidelity = MouthFidelity()
    for g, r in zip(generated, real):
        fidelity.add(g, r)
    return fidelity.metrics()


def bench_clip(clip: Path, out: Path, minutes: float, fit_on: list[Path]) -> tuple[list[list], dict]:
    """The rows of one clip (one per method), its fit's summary and its mouth strip."""
    fps = video_info(clip)[0]
    crops, landmarks = crops_of(clip, fps)
    split = int(len(crops) * 2 / 3)
    with tempfile.TemporaryDirectory() as tmp:
        video, speech = part(clip, split, None, fps, Path(tmp), "test")
        real, real_landmarks = crops_of(video, fps)  # the held-back part, as the renderers see it
        sketches, train = lip_sketches(landmarks[:split]), lip_sketches(real_landmarks)
        usable = np.flatnonzero(np.isfinite(sketches).all(1) & np.array([c is not None for c in crops[:split]]))
        retrieved = [crops[usable[np.argmin(((sketches[usable] - s) ** 2).sum(1))]] if np.isfinite(s).all() else None
                     for s in train]
        generated = {"still": [real[0]] * len(real), "next": real[:1] + real[:-1], "retrieval": retrieved}
        rows = {name: score(made, real) for name, made in generated.items()}
        motion = track_motion(video)
        configs = {"warp": DubConfig()}
        fitted = {}
        if minutes > 0:
            avatar = Path(tmp) / "person.avatar"
            footage = fit_on or [part(clip, 0, split, fps, Path(tmp), "train")[0]]
            fitted = fit_avatar(footage, avatar, FitConfig(minutes=minutes))
            configs["avatar"] = DubConfig(avatar=str(avatar))
        lips = {}
        for renderer, config in configs.items():
            for name, given in ((f"{renderer} (own motion)", motion), (f"{renderer} (own speech)", None)):
                dubbed = Path(tmp) / "dubbed.mp4"
                start = time.perf_counter()
                summary = dub(video, speech, dubbed, config, motion=given)
                seconds = time.perf_counter() - start
                generated[name], made_landmarks = crops_of(dubbed, fps)
                rows[name] = {**score(generated[name], real), "fps": summary["frames"] / seconds}
                lips[name] = best_lag(regions.mouth_opening(made_landmarks), regions.mouth_opening(real_landmarks))[0]
    still, nxt = rows["still"]["mouth_ssim"], rows["next"]["mouth_ssim"]
    table = []
    for name, m in rows.items():
        fidelity = (m["mouth_ssim"] - still) / max(nxt - still, 1e-9)
        table.append([clip.stem, name, m["mouth_ssim"], m["mouth_psnr"], fidelity, m["mouth_sharpness"],
                      m.get("mouth_change", float("nan")), lips.get(name, float("nan")), m.get("fps", float("nan"))])
    shown = [real, generated["still"], generated["warp (own motion)"], retrieved]
    strip(out / f"{clip.stem}.png", shown + ([generated["avatar (own motion)"]] if fitted else []))
    return table, fitted


def strip(path: Path, rows: list[list[np.ndarray | None]], count: int = 8) -> None:
    """A PNG of ``count`` evenly spaced crops per row (grey where the face was lost)."""
    n = min(len(r) for r in rows)
    picks = np.linspace(0, n - 1, count).round().astype(int)
    blank = np.full_like(next(c for c in rows[0] if c is not None), 128)
    picture = np.concatenate([np.concatenate([r[i] if r[i] is not None else blank for i in picks], 1) for r in rows])
    cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = clip_arguments(__doc__.splitlines()[0], "fidelity")
    parser.add_argument("--minutes", type=float, default=10.0, help="fit budget per clip (0: no avatar rows)")
    parser.add_argument("--fit-on", nargs="*", default=[], help="fit the avatar on these clips (relative to "
                        "../shared/data) instead of each clip's first two thirds")
    parser.set_defaults(clips=LONG_CLIPS)
    args = parser.parse_args()
    data = data_and_results(args)
    rows, fits = [], []
    for name in args.clips:
        table, fitted = bench_clip(data / name, args.out, args.minutes, [data / f for f in args.fit_on])
        rows += table
        if fitted:
            fits.append([Path(name).stem, fitted["footage_seconds"], fitted["steps"], fitted["train_seconds"],
                         fitted["prepare_seconds"], fitted["avatar_mb"]])
        print(f"{name}: done", file=sys.stderr, flush=True)
    header = ["clip", "method", "mouth SSIM", "PSNR", "fidelity", "sharpness", "change", "lip r", "fps"]
    print(markdown_table(header, rows))
    if fits:
        print("\n" + markdown_table(["clip", "footage s", "steps", "train s", "prepare s", "avatar MB"], fits))
    print(f"\nstrips (rows: real, still, warp with own motion, retrieval, avatar with own motion) in {args.out}")


if __name__ == "__main__":
    main()
