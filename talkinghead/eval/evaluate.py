"""``talkinghead eval``: score generated videos for lip sync, motion naturalness, identity and image quality.

One pass over each generated video (and its reference, in lockstep) tracks both faces with FaceMesh, samples a
strip of frames and scores PSNR/SSIM; SyncNet and FID/FVD make their own passes when their weights are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from talkinghead.config import option
from talkinghead.errors import InputError, existing_file
from talkinghead.eval.identity import ImageQuality, geometry_distance
from talkinghead.eval.lipsync import best_lag, mouth_lmd
from talkinghead.eval.mouth import MouthFidelity, mouth_crop
from talkinghead.eval.naturalness import naturalness, sequence_scores
from talkinghead.eval.results import ClipResult
from talkinghead.face.track import FaceTrack, Tracker
from talkinghead.io.formats import IMAGE_SUFFIXES, SPEECH_SUFFIXES, VIDEO_SUFFIXES
from talkinghead.io.video import read_frames, video_info
from talkinghead.progress import Progress


@dataclass
class EvalConfig:
    """What ``talkinghead eval`` measures and how."""

    max_lag: int = option(5, "frames searched either way for the best audio-visual lag")
    face_index: int = option(0, "which face to track, largest first")
    strip: int = option(6, "frames sampled for the report's strip")
    strip_height: int = option(160, "height of each strip frame in pixels")
    syncer: str = option("syncer", "MS-Sync syncer scoring the tracked lips against the speech (shipped name or "
                         "checkpoint; 'none' to skip)", metavar="FILE")
    syncnet: str | None = option(None, "SyncNet checkpoint (talkinghead train syncnet) for LSE-C / LSE-D", metavar="FILE")
    fid_weights: str | None = option(None, "Inception TorchScript detector for FID (inception-2015-12-05.pt)",
                                     metavar="FILE")
    fvd_weights: str | None = option(None, "I3D TorchScript detector for FVD (i3d_torchscript.pt)", metavar="FILE")


@dataclass
class Pairing:
    """The files one generated clip is scored against (each optional)."""

    name: str
    generated: Path
    reference: Path | None = None
    audio: Path | None = None
    source: Path | None = None


def _companion(path: str | Path | None, stem: str, suffixes: tuple[str, ...], what: str) -> Path | None:
    """``path`` itself when it is a file, the file named ``stem`` in it when it is a folder, else None."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_dir():
        return existing_file(path, what)
    return next((p for p in sorted(path.iterdir()) if p.stem == stem and p.suffix.lower() in suffixes), None)


def pair_inputs(generated: str | Path, reference: str | Path | None = None, audio: str | Path | None = None,
                source: str | Path | None = None) -> list[Pairing]:
    """One pairing per generated video; a folder's files are matched to companions of the same name."""
    generated = Path(generated)
    if generated.is_dir():
        videos = sorted(p for p in generated.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        if not videos:
            raise InputError(generated, "folder holds no videos to evaluate")
    else:
        videos = [existing_file(generated, "a video")]
    return [Pairing(v.stem, v, _companion(reference, v.stem, VIDEO_SUFFIXES, "a reference video"),
                    _companion(audio, v.stem, SPEECH_SUFFIXES, "an audio file"),
                    _companion(source, v.stem, IMAGE_SUFFIXES, "a source image")) for v in videos]


def _thumb(frame: np.ndarray, track: FaceTrack, index: int, height: int) -> np.ndarray:
    """The face region of ``frame`` (square around the tracked box, or the whole frame when lost) at ``height``."""
    box = track.boxes[index]
    if np.isfinite(box).all():
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = 0.8 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        frame = frame[y0:int(cy + half), x0:int(cx + half)]
    return cv2.resize(frame, (int(round(height * frame.shape[1] / frame.shape[0])), height),
                      interpolation=cv2.INTER_AREA)


def track_pair(pair: Pairing, config: EvalConfig, progress: Progress | None
               ) -> tuple[FaceTrack, FaceTrack | None, dict[str, np.ndarray], ImageQuality, MouthFidelity]:
    """Track the generated and reference faces in one lockstep pass; strips, PSNR/SSIM and mouth crops on the way."""
    fps, _, _, duration = video_info(pair.generated)
    n_est = int(round(fps * duration))
    ref_fps = video_info(pair.reference)[0] if pair.reference else None
    same_timing = ref_fps is not None and abs(ref_fps - fps) < 1e-3
    generated = iter(progress(read_frames(pair.generated), n_est)) if progress else read_frames(pair.generated)
    reference = read_frames(pair.reference) if pair.reference else iter(())
    kept: dict[str, dict[int, np.ndarray]] = {"strip": {}, "strip_ref": {}}
    quality, mouths = ImageQuality(), MouthFidelity()
    wanted = set(np.linspace(0, max(n_est - 1, 0), config.strip).round().astype(int).tolist())
    with Tracker(fps, config.face_index) as gen_tracker, Tracker(ref_fps or fps, config.face_index) as ref_tracker:
        for i, frame in enumerate(generated):
            gen_tracker.add(frame)
            ref = next(reference, None) if pair.reference else None
            if ref is not None:
                ref_tracker.add(ref)
                if same_timing:
                    quality.add(frame, ref)
                    mouths.add(mouth_crop(frame, gen_tracker.landmarks[-1]), mouth_crop(ref, ref_tracker.landmarks[-1]))
            if i in wanted:
                kept["strip"][i] = frame
                if ref is not None:
                    kept["strip_ref"][i] = ref
        for ref in reference:  # a reference longer than the generated video
            ref_tracker.add(ref)
    gen_track = gen_tracker.track()
    ref_track = ref_tracker.track() if pair.reference else None
    series = {"strip_frames": np.array(sorted(kept["strip"]), int)}
    for key, track in (("strip", gen_track), ("strip_ref", ref_track)):
        if kept[key] and track is not None:
            thumbs = [_thumb(kept[key][i], track, i, config.strip_height) for i in sorted(kept[key])]
            width = min(t.shape[1] for t in thumbs)
            series[key] = np.stack([t[:, :width] for t in thumbs])
    return gen_track, ref_track, series, quality, mouths


def retime(track: FaceTrack, fps: float) -> FaceTrack:
    """The track sampled at ``fps`` by nearest frame, so curves at different frame rates line up in time."""
    if abs(track.fps - fps) < 1e-3:
        return track
    n = int(round(track.n_frames / track.fps * fps))
    idx = np.minimum(np.round(np.arange(n) * track.fps / fps).astype(int), track.n_frames - 1)
    return FaceTrack(track.landmarks[idx], track.confidence[idx], fps)


def speech_features(path: Path | None, fps: float, explicit: bool):  # noqa: ANN201 - AudioFeatures | None
    """The speech of ``path`` at ``fps``; None when it has no audio and none was asked for explicitly."""
    from talkinghead.audio import load_audio
    from talkinghead.audio.features import AudioFeatures

    if path is None:
        return None
    try:
        return AudioFeatures(load_audio(path), fps)
    except InputError:
        if explicit:
            raise
        return None


def motion_sync(gen: FaceTrack, features, weights: str) -> dict[str, float]:  # noqa: ANN001 - AudioFeatures
    """The MS-Sync syncer's confidence and offset for the generated video's tracked lips against the speech."""
    from talkinghead.models.syncer import Syncer
    from talkinghead.models.weights import shared_model
    from talkinghead.motion.syncer import sync_score
    from talkinghead.motion.tracked import motion_from_track

    score = sync_score(shared_model(Syncer, weights), motion_from_track(gen), features)
    return {"ms_sync": score["confidence"], "ms_sync_offset": float(score["offset"])}


def lip_metrics(gen: FaceTrack, ref: FaceTrack | None, speech: np.ndarray | None, max_lag: int) -> dict[str, float]:
    """Mouth-opening r, lag and LMD against the reference; r and lag against the speech level."""
    out: dict[str, float] = {}
    mouth = gen.mouth_opening
    if ref is not None:
        r, lag = best_lag(mouth, ref.mouth_opening, max_lag)
        out.update(lipsync_r=r, lag_frames=float(lag), lag_ms=lag / gen.fps * 1000,
                   lmd=mouth_lmd(gen.landmarks, ref.landmarks, lag))
    if speech is not None:
        r, lag = best_lag(mouth, speech, max_lag)
        out.update(audio_r=r, audio_lag_frames=float(lag))
        if ref is not None:
            out["audio_r_ref"] = best_lag(ref.mouth_opening, speech, max_lag)[0]
    return out


def evaluate_clip(pair: Pairing, config: EvalConfig, progress: Progress | None = None, syncnet=None) -> ClipResult:
    """Every metric that the given companions allow, for one generated video.

    ``syncnet``: the model of ``config.syncnet`` when the caller has loaded it already (one load for many clips).
    """
    gen, ref, series, quality, mouths = track_pair(pair, config, progress)
    if not gen.found.any():
        raise InputError(pair.generated, "no face found in any frame")
    ref = retime(ref, gen.fps) if ref is not None else None
    features = speech_features(pair.audio or pair.generated, gen.fps, explicit=pair.audio is not None)
    speech = None if features is None else np.pad(features.activity, (0, gen.n_frames))[:gen.n_frames]
    metrics = {"fps": gen.fps, "frames": float(gen.n_frames), "face_found": float(gen.found.mean())}
    metrics.update(lip_metrics(gen, ref, speech, config.max_lag))
    nat, nat_series = naturalness(gen)
    metrics.update(nat)
    ref_series = None
    if ref is not None:
        ref_nat, ref_series = naturalness(ref)
        metrics.update({f"{k}_ref": v for k, v in ref_nat.items()})
    metrics.update(sequence_scores(nat_series, ref_series))
    metrics.update(quality.metrics())
    metrics.update(mouths.metrics())
    if pair.source is not None:
        from talkinghead.face.portrait import load_portrait

        metrics["geometry"] = geometry_distance(gen, load_portrait(pair.source, full=True).landmarks)
    if features is not None and config.syncer != "none":
        metrics.update(motion_sync(gen, features, config.syncer))
    if config.syncnet:
        from talkinghead.eval.syncnet import score_video

        sync = score_video(syncnet or config.syncnet, pair.generated, pair.audio)
        metrics.update(lse_c=sync["lse_c"], lse_d=sync["lse_d"], sync_offset=float(sync["offset_frames"]))
    series.update(mouth=gen.mouth_opening, eyes=nat_series["eyes"], blinks=nat_series["blinks"],
                  pose=nat_series["pose"])
    if speech is not None:
        series["speech"] = speech
    if ref is not None:
        series.update(mouth_ref=ref.mouth_opening, eyes_ref=ref_series["eyes"], blinks_ref=ref_series["blinks"],
                      pose_ref=ref_series["pose"])
    return ClipResult(pair.name, str(pair.generated), pair.reference and str(pair.reference),
                      pair.audio and str(pair.audio), pair.source and str(pair.source), metrics, series)


def set_metrics(pairs: list[Pairing], config: EvalConfig) -> dict[str, float]:
    """FID and FVD over all generated vs reference frames, when their detector weights are given."""
    from talkinghead.eval.frechet import FrechetScore

    totals = {}
    with_ref = [p for p in pairs if p.reference is not None]
    for kind, weights in (("fid", config.fid_weights), ("fvd", config.fvd_weights)):
        if weights is None:
            continue
        if not with_ref:
            raise InputError(weights, f"{kind.upper()} needs reference videos (--reference)")
        score = FrechetScore(kind, weights)
        for pair in with_ref:
            score.add(read_frames(pair.generated), read_frames(pair.reference))
        totals[kind] = score.compute()
    return totals


def evaluate(pairs: list[Pairing], config: EvalConfig, progress: Callable[[str], Progress | None] | None = None
             ) -> tuple[list[ClipResult], dict[str, float]]:
    """Per-clip results and the set-level metrics (FID, FVD); ``progress(name)`` gives a bar per clip."""
    syncnet = None
    if config.syncnet:
        from talkinghead.models.syncnet import load_syncnet

        syncnet = load_syncnet(config.syncnet)
    clips = [evaluate_clip(p, config, progress(p.name) if progress else None, syncnet) for p in pairs]
    return clips, set_metrics(pairs, config)
