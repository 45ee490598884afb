"""The training pairs of ``talkinghead fit``: every usable frame of a person's footage, as the mouth square a fitted
renderer draws (:mod:`talkinghead.render.mouth_crop`) paired with the real frame's.

Pass one tracks each video and plans it as dub would (shots, one reference frame per shot, frames facing the camera).
Pass two cuts, per usable frame, the real square (the target), the base face (the shot's reference moved onto the
frame's landmarks, its mouth painted), the landmark sketch and the blend mask, into memory-mapped arrays in a cache
folder, so that long footage stays within memory and a resumed fit need not cut them again. Then a bank of the
person's real mouths is chosen among the training frames, and each frame gets its nearest bank mouths moved into
place, leaving out those from within :data:`EXCLUDE_S` of the frame itself (it must not see its own mouth).
The last ``holdout`` share of every clip is kept for validation.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkinghead.errors import InputError
from talkinghead.face import regions
from talkinghead.face.normalize import face_frame
from talkinghead.face.track import Tracker
from talkinghead.io.playback import FrameReader
from talkinghead.io.video import read_frames
from talkinghead.motion.channels import LIP_CHANNELS
from talkinghead.motion.tracked import motion_from_track
from talkinghead.pipeline.output import check_video
from talkinghead.progress import Progress
from talkinghead.render.avatar import MouthBank, as_stored
from talkinghead.render.dub import DubPlan, DubRenderConfig
from talkinghead.render.mouth_crop import MouthCrop, MouthReference, blend_mask, lip_shape, sketch
from talkinghead.render.rig import LIP_POINTS, LipModel, RigConfig
from talkinghead.render.topology import with_mouth_center

MIN_SECONDS = 2.0  # usable footage (face found and facing the camera) needed to fit at all
EXCLUDE_S = 2.0  # a frame's real mouths come from frames at least this far from it
ARRAYS = {"target": 3, "base": 3, "real": 3, "sketch": 0, "mask": 0}  # uint8 squares and their colour channels


@dataclass
class Plan:
    """What pass one found in one video."""

    reader: FrameReader
    fps: float
    landmarks: np.ndarray  # (T, 478, 3) as tracked
    usable: np.ndarray  # frame indices to train on, in order
    references: dict[int, int]  # usable frame -> its shot's reference frame
    lips: np.ndarray  # (T, len(LIP_CHANNELS)) lip channels as `track` measures them


def plan_video(path: Path, progress: Progress | None) -> Plan:
    """Track one video and choose its usable frames and references."""
    fps, _, _, duration = check_video(path)
    reader = FrameReader(path)
    frames = reader.scan()
    if progress:
        frames = progress(frames, int(round(fps * duration)))
    with Tracker(fps, follow=True) as tracker:
        for rgb in frames:
            tracker.add(rgb)
    track = tracker.track()
    landmarks = track.landmarks
    if not track.found.any():
        raise InputError(path, "no face found in any frame")
    plan = DubPlan.from_track(landmarks, fps, DubRenderConfig())
    usable = np.flatnonzero((plan.weight >= 1) & np.isfinite(landmarks).all(axis=(1, 2)))
    motion = motion_from_track(track)
    lips = np.stack([motion.channels[name] for name in LIP_CHANNELS], 1)
    return Plan(reader, fps, landmarks, usable, {int(i): plan.references[plan.shot_of[i]] for i in usable}, lips)


def cut_clip(plan: Plan, c: int, arrays: dict[str, np.ndarray], points: np.ndarray, train: np.ndarray, k: int,
             folder: Path, holdout: float, progress: Progress | None) -> int:
    """Cut clip ``c``'s usable frames into rows ``k``.. of the arrays (the last ``holdout`` share not for training);
    returns the next free row. The first clip's first reference frame is kept as the avatar's still."""
    size = arrays["target"].shape[1]
    refs = sorted(set(plan.references.values()))
    images = dict(zip(refs, plan.reader.frames(np.array(refs))))
    stills = {r: MouthReference.of(image, with_mouth_center(plan.landmarks[r])) for r, image in images.items()}
    if c == 0:
        np.save(folder / "reference.npy", images[plan.references[int(plan.usable[0])]])
    wanted = set(plan.usable.tolist())
    split = plan.usable[int(np.ceil(len(plan.usable) * (1 - holdout)))] if holdout > 0 else None
    frames = read_frames(plan.reader.path)
    if progress:
        frames = progress(frames, int(plan.usable[-1]) + 1)
    for i, image in enumerate(frames):
        if i > plan.usable[-1]:
            break
        if i not in wanted:
            continue
        face = with_mouth_center(plan.landmarks[i])[:, :2]
        crop = MouthCrop.around(face, size)
        target = crop.points(face)
        arrays["target"][k] = crop.cut(image)
        arrays["base"][k] = stills[plan.references[i]].base(crop, target)
        arrays["sketch"][k] = sketch(target, size)
        arrays["mask"][k] = np.round(blend_mask(target, size) * 255)
        points[k], train[k] = target, split is None or i < split
        k += 1
    return k


class FitData:
    """The squares of every usable frame, memory-mapped from a cache folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        self.arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        self.points = np.load(folder / "points.npy")
        self.train = np.load(folder / "train.npy")

    def bank(self) -> MouthBank:
        """The person's real mouths chosen for the avatar."""
        picks = np.load(self.folder / "bank.npy")
        return MouthBank(as_stored(np.array(self.arrays["target"][picks])), self.points[picks].astype(np.float64))

    @classmethod
    def build(cls, videos: list[Path], folder: Path, size: int, holdout: float, bank_size: int,
              progress: Progress | None = None) -> "FitData":
        """Cut the squares of ``videos`` into ``folder`` (reused when it already holds the same job)."""
        job = {"videos": [[str(v.resolve()), v.stat().st_size, v.stat().st_mtime] for v in videos], "size": size,
               "holdout": holdout, "bank": bank_size}
        meta_file = folder / "meta.json"
        if meta_file.exists() and json.loads(meta_file.read_text()).get("job") == job:
            return cls(folder)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            cls.cut(videos, folder, job, holdout, bank_size, progress)
        except BaseException:  # an error or a stop: nothing half-cut stays behind
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cls(folder)

    @staticmethod
    def cut(videos: list[Path], folder: Path, job: dict, holdout: float, bank_size: int,
            progress: Progress | None) -> None:
        """Track and cut ``videos`` into ``folder`` (the arrays, then ``meta.json`` last)."""
        size = job["size"]
        plans = [plan_video(v, progress) for v in videos]
        seconds = sum(len(p.usable) / p.fps for p in plans)
        if seconds < MIN_SECONDS:
            raise InputError(videos[0], f"footage too short to fit: {seconds:.1f} s with the face found and facing "
                             f"the camera; need at least {MIN_SECONDS:.0f} s (a minute or more fits best)")
        n = sum(len(p.usable) for p in plans)
        arrays = {name: np.lib.format.open_memmap(folder / f"{name}.npy", "w+", np.uint8,
                                                  (n, size, size, c) if c else (n, size, size))
                  for name, c in ARRAYS.items()}
        points = np.zeros((n, 479, 2), np.float32)
        clip, frame, train = np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(n, bool)
        k = 0
        for c, plan in enumerate(plans):
            k = cut_clip(plan, c, arrays, points, train, k, folder, holdout, progress)
            clip[k - len(plan.usable):k], frame[k - len(plan.usable):k] = c, plan.usable
        shapes = lip_shape(points.astype(np.float64))
        trained = np.flatnonzero(train)
        picks = trained[MouthBank.select(shapes[trained], bank_size)]
        bank = MouthBank(as_stored(np.array(arrays["target"][picks])), points[picks].astype(np.float64))
        fps = np.array([p.fps for p in plans])
        for j in range(n):
            near = (clip[picks] == clip[j]) & (np.abs(frame[picks] - frame[j]) < EXCLUDE_S * fps[clip[j]])
            arrays["real"][j] = np.clip(bank.real_mouth(points[j].astype(np.float64), ~near), 0, 255)
        for array in arrays.values():
            array.flush()
        for name, value in (("points", points), ("clip", clip), ("frame", frame), ("train", train), ("bank", picks)):
            np.save(folder / f"{name}.npy", value)
        lips = LipModel.fit(np.concatenate([p.lips[p.usable] for p in plans]),
                            np.concatenate([face_frame(p.landmarks[p.usable])[:, LIP_POINTS] for p in plans]))
        np.save(folder / "lips.npy", lips.weights)
        opening = np.concatenate([regions.mouth_opening(p.landmarks[p.usable]) for p in plans])
        meta = {"job": job, "frames": n, "size": size, "seconds": round(seconds, 2),
                "train_frames": int(train.sum()),
                "mouth_scale": float(np.clip(np.percentile(opening, 95) / RigConfig().jaw, 0.3, 1.5)),
                "fps": fps.tolist()}
        (folder / "meta.json").write_text(json.dumps(meta))

    def lips(self) -> LipModel:
        """How the person's lips move with the lip channels."""
        return LipModel(np.load(self.folder / "lips.npy"))

    def reference_image(self) -> np.ndarray:
        """The still of the person the avatar keeps: the first clip's first reference frame."""
        return np.load(self.folder / "reference.npy")
