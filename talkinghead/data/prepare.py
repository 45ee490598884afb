"""Dataset preparation: folders of talking-face videos -> aligned faces, landmarks, audio and mel at 25 fps.

Videos (mp4, mov, mkv, webm, mpg, mpeg, avi) are found recursively, so HDTF (one flat folder), VoxCeleb2
(``id/video/clip.mp4``) and LRS2 (``main/<id>/00001.mp4``) layouts all work. A clip's id is its path relative to the
source folder without the suffix, ``/`` replaced by ``__`` (``id00012/abc/00001``-> ``id00012__abc__00001``).

Each clip becomes ``OUTPUT/<clip id>/`` holding:

- ``audio.wav``: the sound track, 16 kHz mono PCM16, as recorded (not shifted);
- ``mel.npy``: (T_mel, 80) float32 natural-log mel at 100 Hz (:attr:`AudioFeatures.mel`), row j centred at j/100 s;
- ``phones.npy``: (T_mel, 42) float32 natural-log phone posteriors at 100 Hz, likewise
  (:attr:`AudioFeatures.phone_posteriors`);
- ``landmarks.npy``: (T, 478, 3) float32 FaceMesh landmarks in source pixels, NaN where the face was lost;
- ``affine.npy``: (T, 2, 3) float32 transforms from source pixels to the aligned crop (:mod:`talkinghead.face.align`);
- ``face.npy``: (T, S, S, 3) uint8 RGB aligned face crops, S = ``crop_size`` (eyes at 38 % of the height, mouth
  at 72 %; the lower half is what SyncNet sees);
- ``motion.json``: every Motion channel measured on the landmarks at 25 fps (:mod:`talkinghead.motion.tracked`; lost
  frames interpolated), readable with :meth:`Motion.load`;
- ``meta.json``, written last (a clip folder without it is incomplete and is redone): ``format`` (1), ``source``,
  ``fps`` (25), ``frames`` (T), ``duration`` (T / 25 s), ``audio_duration`` (s), ``source_fps``, ``crop_size``,
  ``found`` (fraction of frames with a face), ``av_offset`` (frames; positive when the picture is late: the mouth at
  frame t + av_offset goes with the sound of frame t), ``av_offset_method`` (``energy`` or ``syncnet``) and its
  ``av_confidence`` (how far the correlation of mouth opening and band energies at that lag stands above
  its median over lags, or SyncNet's LSE-C), plus
  ``lse_d`` when SyncNet measured it.

Every series is indexed by frame at 25 fps: any source rate is resampled by time (frame i, at i/25 s, is the source
frame nearest in time, source frame k taken at k / source fps). Files other stages add to a clip folder (other
features) go beside these and are listed in no fixed set, so readers check for the files they need.

Clips that cannot be used (unreadable, no sound, too short, no face in most frames, poorly synchronised) are listed in
``OUTPUT/errors.log`` (``clip id<TAB>source<TAB>reason``) and skipped; they are tried again on the next run.

Clips are prepared by ``workers`` local processes, or with ``ray`` as Ray tasks on that cluster (one CPU each), whose
nodes need talkinghead installed and the source and output folders at the same paths.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import wave
from concurrent.futures import as_completed
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from talkinghead.audio.decode import Audio, load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.signal import HOP_S, to_video_frames
from talkinghead.config import option
from talkinghead.data.workers import connect_ray, ray_results, worker_pool
from talkinghead.errors import InputError
from talkinghead.face import regions
from talkinghead.face.align import CROP_SIZE, FPS, align_video
from talkinghead.face.track import FaceTrack
from talkinghead.io.formats import VIDEO_SUFFIXES
from talkinghead.io.video import video_info
from talkinghead.motion.tracked import motion_from_track
from talkinghead.progress import Progress

if TYPE_CHECKING:
    from talkinghead.models.syncnet import SyncNet

FORMAT = 1
ENERGY_BANDS = 16  # mel band groups whose energies explain the mouth opening in :func:`energy_offset`
Result = tuple[str, str, str | None]  # one clip's outcome: clip id, source, error line or None


@dataclass
class PrepareConfig:
    """How videos become training clips."""

    crop_size: int = option(CROP_SIZE, "side of the aligned face crops, in pixels")
    workers: int = option(2, "clips prepared in parallel (processes)")
    max_offset: int = option(15, "largest audio-visual offset searched, in frames")
    min_frames: int = option(32, "shorter clips (frames at 25 fps) are skipped")
    min_found: float = option(0.5, "share of frames that must show a face")
    smooth: int = option(5, "frames the crop transform is averaged over")
    syncnet: str | None = option(None, "SyncNet checkpoint measuring the offset (LSE)", metavar="FILE")
    min_sync_confidence: float | None = option(None, "with --syncnet: skip clips whose LSE-C is lower (LatentSync "
                                                     "used 3, on the original SyncNet's scale)")
    ray: str | None = option(None, "prepare the clips as Ray tasks on the cluster at this address ('auto': the one "
                                   "this machine belongs to) instead of in local worker processes", metavar="ADDRESS")


def find_videos(source_dir: Path, exclude: Path | None = None) -> list[Path]:
    """Video files under ``source_dir`` (sorted, hidden files and anything under ``exclude`` left out)."""
    return [path for path in sorted(source_dir.rglob("*"))
            if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(source_dir).parts)
            and not (exclude is not None and path.is_relative_to(exclude))]


def clip_id(path: Path, source_dir: Path) -> str:
    """The clip's name in the prepared folder: relative path without suffix, ``/`` -> ``__``."""
    return "__".join(path.relative_to(source_dir).with_suffix("").parts)


def band_energies(mel: np.ndarray, n_frames: int, bands: int = ENERGY_BANDS) -> np.ndarray:
    """(n_frames, bands) log energy of ``bands`` equal groups of mel bins, per 25 fps frame."""
    power = np.exp(mel.astype(np.float64))
    groups = np.stack([power[:, g].sum(1) for g in np.array_split(np.arange(mel.shape[1]), bands)], axis=1)
    return to_video_frames(np.log(groups + 1e-6), HOP_S, FPS, n_frames)


def energy_offset(landmarks: np.ndarray, mel: np.ndarray, max_offset: int) -> tuple[int, float]:
    """(offset, confidence): the lag (frames; positive: picture late) at which speech energy best explains the mouth.

    At each lag the mouth opening is fitted by least squares from the log energies of 16 mel bands, on the same
    frames for every lag; the offset is the lag of the largest multiple correlation R, the confidence how far that R
    stands above the median over lags. (One band's energy alone, i.e. loudness, picks wrong lags on short clips.)
    """
    mouth = regions.mouth_opening(landmarks.astype(np.float64))
    bands = band_energies(mel, len(mouth))
    n = min(len(mouth), len(bands))
    reach = max(0, min(max_offset, (n - 2 * ENERGY_BANDS) // 2))  # leave enough frames for the fit
    t = np.arange(reach, n - reach)
    t = t[np.isfinite(mouth[t])]
    y = mouth[t] - mouth[t].mean()
    lags = np.arange(-reach, reach + 1)
    r = []
    for lag in lags:
        x = bands[t - lag] - bands[t - lag].mean(0)
        residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
        r.append(np.sqrt(max(0.0, 1 - (residual @ residual) / max(y @ y, 1e-12))))
    best = int(np.argmax(r))
    return int(lags[best]), float(r[best] - np.median(r))


def write_wav(path: Path, audio: Audio) -> None:
    """16-bit mono wav of the audio's float samples."""
    pcm = (np.clip(audio.samples, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.rate)
        w.writeframes(pcm.tobytes())


def write_sound(clip_dir: Path, features: AudioFeatures) -> None:
    """A clip's ``audio.wav``, ``mel.npy`` and ``phones.npy`` (as many rows as the mel, the last one repeated)."""
    write_wav(clip_dir / "audio.wav", features.audio)
    n = len(features.mel)
    phones = features.phone_posteriors[:n]
    np.save(clip_dir / "mel.npy", features.mel)
    np.save(clip_dir / "phones.npy", np.pad(phones, ((0, n - len(phones)), (0, 0)), mode="edge"))


_syncnets: dict[str, SyncNet] = {}  # checkpoint path -> model, loaded once per worker process


def _syncnet(path: str) -> SyncNet:
    from talkinghead.models.syncnet import load_syncnet  # torch only when a SyncNet is used

    if path not in _syncnets:
        _syncnets[path] = load_syncnet(path)
    return _syncnets[path]


def prepare_clip(video: Path, clip_dir: Path, config: PrepareConfig) -> dict:
    """Write one clip's files into ``clip_dir`` (meta.json last) and return its metadata; InputError if unusable."""
    fps, _, _, duration = video_info(video)
    if 0 < duration * FPS < config.min_frames:
        raise InputError(video, f"too short ({duration:.2f} s; need {config.min_frames} frames at 25 fps)")
    audio = load_audio(video)
    track = align_video(video, config.crop_size, FPS, config.smooth)
    if track.n_frames < config.min_frames:
        raise InputError(video, f"too short ({track.n_frames} frames at 25 fps; need {config.min_frames})")
    found = float(track.found.mean())
    if found < config.min_found:
        raise InputError(video, f"face found in {found:.0%} of frames (need {config.min_found:.0%})")
    clip_dir.mkdir(parents=True, exist_ok=True)
    features = AudioFeatures(audio, FPS)
    write_sound(clip_dir, features)
    mel = features.mel
    np.save(clip_dir / "landmarks.npy", track.landmarks.astype(np.float32))
    np.save(clip_dir / "affine.npy", track.matrices.astype(np.float32))
    motion_from_track(FaceTrack(track.landmarks, track.found.astype(float), FPS), str(video)).save(
        clip_dir / "motion.json")
    size = config.crop_size
    faces = np.lib.format.open_memmap(clip_dir / "face.npy", "w+", np.uint8, (track.n_frames, size, size, 3))
    for i, face in enumerate(track.crops()):
        faces[i] = face
    faces.flush()
    meta = {"format": FORMAT, "source": str(video), "fps": FPS, "frames": track.n_frames,
            "duration": round(track.n_frames / FPS, 4), "audio_duration": round(audio.duration, 4),
            "source_fps": round(fps, 4), "crop_size": size, "found": round(found, 4)}
    if config.syncnet:
        from talkinghead.models.syncnet import sync_scores

        try:
            scores = sync_scores(_syncnet(config.syncnet), faces, mel, config.max_offset)
        except ValueError as exc:
            raise InputError(video, f"too short for SyncNet: {exc}") from None
        if config.min_sync_confidence is not None and scores["lse_c"] < config.min_sync_confidence:
            raise InputError(video, f"out of sync or not speaking (LSE-C {scores['lse_c']:.3f} < "
                                    f"{config.min_sync_confidence})")
        meta.update(av_offset=scores["offset_frames"], av_offset_method="syncnet",
                    av_confidence=round(scores["lse_c"], 4), lse_d=round(scores["lse_d"], 4))
    else:
        offset, confidence = energy_offset(track.landmarks, mel, config.max_offset)
        meta.update(av_offset=offset, av_offset_method="energy", av_confidence=round(confidence, 4))
    tmp = clip_dir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, clip_dir / "meta.json")
    return meta


def _prepare_task(task: tuple[str, str, str, dict]) -> Result:
    """Worker: prepare one clip; returns (clip id, source, error line or None). Top level, so spawn can import it."""
    name, video, clip_dir, config = task
    try:
        prepare_clip(Path(video), Path(clip_dir), PrepareConfig(**config))
        return name, video, None
    except Exception as exc:  # one bad clip must not stop a long run: any failure is logged and the clip skipped
        shutil.rmtree(clip_dir, ignore_errors=True)
        reason = exc.problem if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        return name, video, " ".join(str(reason).split())


def prepare_dataset(source_dir: str | Path, output_dir: str | Path, config: PrepareConfig | None = None,
                    progress: Progress | None = None) -> dict:
    """Prepare every video under ``source_dir`` into ``output_dir`` (see the module doc); returns a summary dict.

    Clips whose ``meta.json`` exists are skipped, so an interrupted run resumes where it stopped.
    """
    config = config or PrepareConfig()
    start = time.perf_counter()
    source_dir, output_dir = Path(source_dir).resolve(), Path(output_dir).resolve()
    if not source_dir.is_dir():
        raise InputError(source_dir, "source folder not found")
    if output_dir == source_dir:
        raise InputError(output_dir, "the output folder must not be the source folder")
    if config.syncnet:
        _syncnet(config.syncnet)  # a bad checkpoint is the user's error, not every clip's
    ray = connect_ray(config.ray) if config.ray else None
    output_dir.mkdir(parents=True, exist_ok=True)
    duplicates, tasks, seen = [], [], {}
    for video in find_videos(source_dir, exclude=output_dir):
        name = clip_id(video, source_dir)
        if name in seen:
            duplicates.append((name, str(video), f"same clip id as {seen[name]}"))
            continue
        seen[name] = video
        if not (output_dir / name / "meta.json").exists():
            tasks.append((name, str(video), str(output_dir / name), asdict(config)))
    workers = 1 if ray else min(config.workers, len(tasks))
    failed = 0
    with open(output_dir / "errors.log", "a") as log, worker_pool(workers) if workers > 1 else nullcontext() as pool:
        log.writelines(f"{name}\t{video}\t{reason}\n" for name, video, reason in duplicates)
        if ray:
            results = ray_results(ray, _prepare_task, tasks)
        elif pool:
            results = (future.result() for future in as_completed([pool.submit(_prepare_task, t) for t in tasks]))
        else:
            results = (_prepare_task(task) for task in tasks)
        for name, video, reason in progress(results, len(tasks)) if progress else results:
            if reason is not None:
                log.write(f"{name}\t{video}\t{reason}\n")
                log.flush()
                failed += 1
    return {"clips": len(seen), "prepared": len(tasks) - failed, "skipped": len(seen) - len(tasks), "failed": failed,
            "duplicates": len(duplicates), "output": str(output_dir), "seconds": round(time.perf_counter() - start, 3)}
