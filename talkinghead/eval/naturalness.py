"""Motion naturalness from a face track: blinks, head-pose range/speed/diversity, jitter, gaze, GoHD sequence scores."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from talkinghead.face import regions
from talkinghead.face.blinks import detect_blinks
from talkinghead.face.normalize import STABLE, face_frame
from talkinghead.face.smooth import fill_gaps
from talkinghead.face.track import FaceTrack


def eye_curve(track: FaceTrack) -> np.ndarray:
    """Mean lid gap over eye width of both eyes per frame (NaN where lost)."""
    return regions.eye_opening(track.landmarks).mean(-1)


def brow_curve(track: FaceTrack) -> np.ndarray:
    """Brow height above the eye line, in eye widths, per frame."""
    return -face_frame(track.landmarks)[:, regions.RIGHT_BROW + regions.LEFT_BROW, 1].mean(-1)


def still_segment(pose: np.ndarray, fps: float, seconds: float = 1.0) -> slice:
    """The window of ``seconds`` where the head moves least (rotation speed plus translation in eye widths)."""
    n = max(3, int(round(seconds * fps)))
    p = fill_gaps(pose)
    if len(p) <= n:
        return slice(0, len(p))
    speed = np.abs(np.diff(p[:, :3], axis=0)).sum(1) + 100 * (np.abs(np.diff(p[:, 3:5], axis=0)).sum(1) / p[1:, 5])
    window = np.convolve(np.nan_to_num(speed, nan=np.inf), np.ones(n - 1), "valid")
    start = int(np.argmin(window))
    return slice(start, start + n)


def jitter(track: FaceTrack, pose: np.ndarray) -> float:
    """Landmark acceleration of stable points on the stillest 1 s, in % of the eye distance per frame^2."""
    seg = still_segment(pose, track.fps)
    lms = track.landmarks[seg][:, STABLE, :2] / regions.eye_distance(track.landmarks[seg])[:, None, None]
    acc = np.linalg.norm(np.diff(lms, 2, axis=0), axis=-1)
    return float(np.nanmean(acc) * 100) if acc.size else float("nan")


def gaze_curve(track: FaceTrack) -> np.ndarray:
    """(T, 2) iris offset from the eye centre in eye widths (x to the image right, y down), both eyes averaged."""
    ff = face_frame(track.landmarks)
    offsets = []
    for iris, outer, inner in ((regions.RIGHT_IRIS_CENTER, 33, 133), (regions.LEFT_IRIS_CENTER, 263, 362)):
        width = np.linalg.norm(ff[:, outer] - ff[:, inner], axis=-1, keepdims=True)
        offsets.append((ff[:, iris] - (ff[:, outer] + ff[:, inner]) / 2) / width)
    return np.mean(offsets, axis=0)


def sequence_ssim(a: np.ndarray, b: np.ndarray, sigma: float = 12.5) -> float:
    """SSIM of two sequences (T,) or (T, C) with a Gaussian window over time, averaged over channels.

    The dynamic range is the reference ``b``'s, per channel, as SSIM on images uses the pixel range.
    """
    a, b = fill_gaps(np.atleast_2d(a.T).T), fill_gaps(np.atleast_2d(b.T).T)
    n = min(len(a), len(b))
    scores = []
    for x, y in zip(a[:n].T, b[:n].T):
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            continue
        span = max(np.ptp(y), 1e-6)
        c1, c2 = (0.01 * span) ** 2, (0.03 * span) ** 2
        blur = lambda v: gaussian_filter1d(v, sigma, mode="nearest")  # noqa: E731
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        scores.append(ssim.mean())
    return float(np.mean(scores)) if scores else float("nan")


def naturalness(track: FaceTrack) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Blink, pose, jitter and gaze statistics of one track, and the series behind them."""
    fps, minutes = track.fps, track.n_frames / track.fps / 60
    eyes, pose = eye_curve(track), track.pose
    blinks = detect_blinks(eyes, fps)
    # FaceMesh's per-frame pose noise is jitter's business; range, spread and speed read the smoothed motion
    angles = pose[:, :3]
    smooth = gaussian_filter1d(fill_gaps(angles), max(0.08 * fps, 0.5), axis=0, mode="nearest")
    gaze = gaze_curve(track)
    open_eyes = np.isfinite(eyes) & (eyes > 0.6 * np.nanpercentile(eyes, 90)) if np.isfinite(eyes).any() else eyes > 0
    g = gaze[open_eyes]
    metrics = {
        "blink_rate": len(blinks) / minutes if minutes else float("nan"),
        "blink_ms": float(np.mean(blinks[:, 1] - blinks[:, 0]) / fps * 1000) if len(blinks) else float("nan"),
        **{f"{name}_range": float(np.nanpercentile(smooth[:, i], 95) - np.nanpercentile(smooth[:, i], 5))
           for i, name in enumerate(("yaw", "pitch", "roll"))},
        "pose_std": float(np.nanmean(np.nanstd(smooth, axis=0))),
        "pose_speed": float(np.nanmean(np.linalg.norm(np.diff(smooth, axis=0), axis=1)) * fps),
        "jitter": jitter(track, pose),
        "gaze_std": float(np.nanmean(np.nanstd(g, axis=0))) if len(g) else float("nan"),
        "gaze_speed": float(np.nanmean(np.linalg.norm(np.diff(g, axis=0), axis=1)) * fps) if len(g) > 1 else float("nan"),
    }
    series = {"eyes": eyes, "blinks": blinks, "pose": angles, "brows": brow_curve(track)}
    return metrics, series


def sequence_scores(generated: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None) -> dict[str, float]:
    """GoHD's eye/brow and pose sequence scores: variance of each, and SSIM against the reference when given."""
    eyebrow = np.stack([generated["eyes"], generated["brows"]], axis=1)
    scores = {"eyebrow_var": float(np.nanmean(np.nanvar(eyebrow, axis=0))),
              "pose_var": float(np.nanmean(np.nanvar(generated["pose"], axis=0)))}
    if reference is not None:
        ref_eyebrow = np.stack([reference["eyes"], reference["brows"]], axis=1)
        scores["eyebrow_ssim"] = sequence_ssim(eyebrow, ref_eyebrow)
        scores["pose_ssim"] = sequence_ssim(generated["pose"], reference["pose"])
    return scores
