"""How well a Motion's lips go with its speech, by the MS-Sync syncer (:mod:`talkinghead.models.syncer`)."""

from __future__ import annotations

import numpy as np
import torch

from talkinghead.audio.features import AudioFeatures
from talkinghead.models.layers import mel_features, resample_frames
from talkinghead.models.syncer import Syncer
from talkinghead.motion.motion import Motion


def sync_score(syncer: Syncer, motion: Motion, features: AudioFeatures, max_offset: int = 10) -> dict[str, float]:
    """How well the lips of ``motion`` go with the speech of ``features``, by the syncer (at 25 fps).

    Per level, the mean cosine similarity of lip and sound embeddings is taken at each offset of the motion against
    the sound (-``max_offset``..+``max_offset`` frames, converted to the level's step); ``confidence`` is the best
    similarity minus the median over offsets (high when the lips follow this very speech), ``offset`` the best
    offset at the finest level (frames, + when the lips are late), ``similarity`` the similarity at offset 0.
    """
    lips = resample_frames(np.stack([motion[c] for c in syncer.channels], 1), motion.fps, int(motion.duration * 25), 25).T
    n = min(lips.shape[1], len(features.mel) // 4)
    with torch.no_grad():
        lips_in = torch.as_tensor(lips[:, :n], dtype=torch.float32)[None]
        audio, moving = syncer(mel_features(features.mel)[None, :, :4 * n], lips_in)
    confidence, similarity, offset = [], [], 0
    for level, (a, m) in enumerate(zip(audio, moving)):
        reach = max(1, max_offset >> level)
        sims = []
        for k in range(-reach, reach + 1):
            mm, aa = (m[..., k:], a[..., :a.shape[-1] - k]) if k >= 0 else (m[..., :k], a[..., -k:])
            sims.append(float((mm * aa).sum(1).mean()))
        sims = np.array(sims)
        confidence.append(sims.max() - np.median(sims))
        similarity.append(sims[reach])
        if level == 0:
            offset = int(np.argmax(sims)) - reach
    return {"confidence": float(np.mean(confidence)), "similarity": float(np.mean(similarity)), "offset": offset,
            "levels": [round(float(c), 4) for c in confidence]}
