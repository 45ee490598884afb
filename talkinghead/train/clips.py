"""Training windows of audio and motion from prepared or synthetic clip folders, for the motion models' trainers.

A clip folder (:mod:`talkinghead.data.prepare`, :mod:`talkinghead.data.synth`) holds ``mel.npy``, ``audio.wav``,
``motion.json`` and ``meta.json`` (and ``phones.npy``, computed from ``audio.wav`` where it is missing); clips whose
motion lacks a requested channel are left out. Item i is a window of ``frames`` video frames with ``context`` more
on each side of the audio: (audio rows (80 normalised mel, then 42 phone features when asked for, by
4 (frames + 2 context)), prosody (4, frames + 2 context), target (channels, frames)); the motion is read
``av_offset`` frames later than the sound it goes with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.audio.phone_posteriors import live_phone_log_posteriors, phone_log_posteriors
from talkinghead.errors import InputError
from talkinghead.models.layers import edge_padded, prosody, sound_input
from talkinghead.motion.motion import Motion
from talkinghead.motion.tracked import in_face_units

ROWS = 4  # mel rows (100 Hz) per video frame (25 fps)


@dataclass
class Clip:
    """One clip in memory: audio rows (80 normalised mel (+ 42 phone features), rows), prosody (4, frames) and target
    channels (C, frames)."""

    name: str
    mel: np.ndarray
    prosody: np.ndarray
    target: np.ndarray
    language: str


def load_clip(folder: Path, channels: tuple[str, ...], with_prosody: bool, with_phones: bool = False,
              av_offset: bool = True, causal: bool = False) -> Clip | None:
    """The clip in ``folder`` aligned to its sound (its measured ``av_offset`` removed, unless ``av_offset`` is
    False), or None when it lacks a channel; its mel normalised and its phones (live front end) from the past when
    ``causal``. Lip channels tracked from real video are in a typical speaker's units
    (:func:`~talkinghead.motion.tracked.in_face_units`), so that speakers and clips can be pooled."""
    meta = json.loads((folder / "meta.json").read_text())
    motion = Motion.load(folder / "motion.json")
    if not set(channels) <= set(motion.channels) or round(motion.fps) != 25:
        return None
    pooled = in_face_units(motion) if "levels" in motion.meta else {}
    target = np.stack([pooled.get(c, motion[c]) for c in channels])
    offset = int(meta.get("av_offset", 0)) if av_offset else 0
    target = target[:, max(0, offset):] if offset >= 0 else np.pad(target, ((0, 0), (-offset, 0)), mode="edge")
    posteriors = None
    if with_phones:
        phones = folder / "phones.npy"
        if causal:
            posteriors = live_phone_log_posteriors(load_audio(folder / "audio.wav"))
        else:
            posteriors = np.load(phones) if phones.exists() else phone_log_posteriors(load_audio(folder / "audio.wav"))
    mel = sound_input(np.load(folder / "mel.npy"), posteriors, causal).numpy()
    n = min(target.shape[1], mel.shape[1] // ROWS)
    if with_prosody:
        pro = prosody(AudioFeatures(load_audio(folder / "audio.wav"), 25.0)).T
        n = min(n, pro.shape[1])
    else:
        pro = np.zeros((4, n), np.float32)
    return Clip(folder.name, mel[:, :n * ROWS], pro[:, :n], target[:, :n].astype(np.float32),
                meta.get("language", "en"))


AUDIO_SUFFIXES = (".wav", ".m4a", ".mp3", ".flac", ".ogg")


def _audio_files(spec: str) -> list[Path]:
    """The sound files that ``FILE``, ``DIR`` (the audio files in it and its subfolders: a synthetic corpus too) or
    either ``*N`` (N times) name."""
    name, _, times = spec.partition("*")
    path = Path(name)
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES) if path.is_dir() else [path]
    return files * (int(times) if times else 1)


def teacher_clips(data: str, teacher: str, channels: tuple[str, ...], with_phones: bool, causal: bool) -> list[Clip]:
    """Clips of the sound files that ``data`` names (comma-separated :func:`_audio_files` specs), their targets the
    offline learned lips that checkpoint ``teacher`` gives (distillation: real voices without tracked video)."""
    from talkinghead.motion.registry import generator_class

    learned = generator_class("lips", "learned")
    lips = learned(learned.Config(lips_weights=teacher))
    made: dict[Path, Clip] = {}
    for path in (p for spec in data.split(",") for p in _audio_files(spec)):
        if path not in made:
            features = AudioFeatures(load_audio(path), 25.0)
            motion = lips.generate(features)
            phones = (features.live_phone_posteriors if causal else features.phone_posteriors) if with_phones else None
            mel = sound_input(features.mel, phones, causal).numpy()
            n = min(motion.n_frames, mel.shape[1] // ROWS)
            target = np.stack([motion[c][:n] for c in channels]).astype(np.float32)
            made[path] = Clip(path.name, mel[:, :n * ROWS], np.zeros((4, n), np.float32), target, "")
    return [made[p] for spec in data.split(",") for p in _audio_files(spec)]


def _folders(spec: str) -> list[Path]:
    """The clip folders of ``DIR``, or of ``DIR*N``: each of them N times (a small folder weighed up)."""
    folder, _, times = spec.partition("*")
    return sorted(p.parent for p in Path(folder).glob("*/meta.json")) * (int(times) if times else 1)


class MotionWindows(Dataset):
    """Windows of ``frames`` frames (a new random start within each stride every epoch) over the clips of a folder,
    or of several (``DIR,DIR*N``: see :func:`_folders`), and of ``clips`` made elsewhere (:func:`teacher_clips`)."""

    def __init__(self, data_dir: str | Path, channels: tuple[str, ...], frames: int, context: int = 0,
                 with_prosody: bool = False, seed: int = 0, with_phones: bool = False, av_offset: bool = True,
                 causal: bool = False, clips: list[Clip] = ()) -> None:
        self.channels, self.frames, self.context, self.seed, self.epoch = channels, frames, context, seed, 0
        folders = [folder for spec in str(data_dir).split(",") for folder in _folders(spec)]
        loaded = (load_clip(f, channels, with_prosody, with_phones, av_offset, causal) for f in folders)
        self.clips = [c for c in [*loaded, *clips] if c is not None and c.target.shape[1] >= frames]
        if not self.clips:
            raise InputError(data_dir, f"no clip of {frames}+ frames with motion channels {', '.join(channels)}")
        stride = max(1, frames // 2)
        self.windows = [(c, s) for c, clip in enumerate(self.clips)
                        for s in range(0, clip.target.shape[1] - frames + 1, stride)]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c, start = self.windows[i]
        clip = self.clips[c]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        start = min(start + int(rng.integers(0, max(1, self.frames // 2))), clip.target.shape[1] - self.frames)
        a, b = start - self.context, start + self.frames + self.context
        mel, pro = edge_padded(clip.mel, a * ROWS, b * ROWS), edge_padded(clip.prosody, a, b)
        return (torch.from_numpy(mel), torch.from_numpy(pro),
                torch.from_numpy(clip.target[:, start:start + self.frames]))


