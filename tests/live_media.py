"""What the live streaming tests send and measure: speech with pauses, and the mouth in received frames measured
with the project's own FaceMesh (never a number the server sent)."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
from conftest import SPEECH

LEAD_S, TAIL_S = 1.0, 1.5  # silence before and after the example speech


def speech_with_pauses(rate: int = 16000) -> np.ndarray:
    """A second of silence, the example speech (7.75 s, a pause after 'Hello!'), a second and a half of silence."""
    from talkinghead.audio.decode import decode

    speech = decode(SPEECH, rate)
    return np.concatenate([np.zeros(int(LEAD_S * rate), np.float32), speech,
                           np.zeros(int(TAIL_S * rate), np.float32)])


def loudness_db(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    """RMS level of ``samples`` from ``start`` to ``end`` seconds, in dB."""
    part = samples[max(0, int(start * rate)):max(1, int(end * rate))]
    return float(10 * np.log10(np.mean(part.astype(np.float64) ** 2) + 1e-10)) if len(part) else -100.0


def mouth_openings(images: list[np.ndarray]) -> np.ndarray:
    """Inner-lip gap over eye distance of the largest face in each RGB image (NaN where no face is found)."""
    from talkinghead.face.landmarks import FaceMesh
    from talkinghead.face.regions import mouth_opening

    out = []
    with FaceMesh(max_faces=1) as mesh:
        for image in images:
            faces = mesh.detect(image)
            out.append(float(mouth_opening(faces[0].landmarks)) if faces else np.nan)
    return np.asarray(out)


def decode_jpeg(data: bytes) -> np.ndarray:
    """An RGB picture from JPEG bytes."""
    import cv2

    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def open_streams(url: str) -> int:
    """How many live streams the server at ``url`` (http://host:port) is drawing, by its health route."""
    return json.loads(urllib.request.urlopen(url + "/api/health", timeout=5).read())["streams"]
