"""LSE-C / LSE-D lip-sync scores of a talking video by the project's SyncNet (:mod:`talkinghead.models.syncnet`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from talkinghead.audio.decode import load_audio
from talkinghead.audio.features import AudioFeatures
from talkinghead.errors import InputError
from talkinghead.face.align import align_video
from talkinghead.models.syncnet import SyncNet, load_syncnet, sync_scores


def score_video(checkpoint: str | Path | SyncNet, video: str | Path, audio: str | Path | None = None,
                max_offset: int = 15) -> dict:
    """LSE-C, LSE-D and AV offset of a talking video against its own sound track or the speech file ``audio``."""
    model = checkpoint if isinstance(checkpoint, SyncNet) else load_syncnet(checkpoint)
    track = align_video(video)
    speech = load_audio(audio if audio is not None else video)
    mel = AudioFeatures(speech).mel
    try:
        scores = sync_scores(model, np.stack(list(track.crops())), mel, max_offset)
    except ValueError as exc:
        raise InputError(video, f"too short for lip-sync scores: {exc}") from None
    return {**scores, "frames": track.n_frames, "face_found": round(float(track.found.mean()), 4)}
