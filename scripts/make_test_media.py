#!/usr/bin/env python
"""Regenerate tests/media/: two short talking clips that stand in for real footage in the test suite.

    .venv/bin/python scripts/make_test_media.py

Each clip is a public-domain portrait animated by talkinghead itself with synthetic speech (espeak-ng), so the
tests know its motion exactly: the Motion it was rendered from is saved beside it (``<clip>.motion.json``, with
the sentence, the voice and the blink frames in its ``meta``). The clips imitate GRID corpus recordings: 3 s at
25 fps, 360x288, one short sentence of the GRID grammar after about half a second of quiet, the face about
100 px wide, two blinks.

- ``collins.jpg``: 400x320 crop of scikit-image's ``astronaut.png`` (NASA photograph of Eileen Collins,
  public domain). Cut again from scikit-image's copy when scikit-image is installed, else the shipped file is used.
- ``hopper_bin_blue.mp4``: examples/portrait.jpg (Grace Hopper, public domain) saying "bin blue at f two now"
  (voice en-us+f5); her lips are shut at rest, so they shut on the b's.
- ``collins_lay_red.mp4``: collins.jpg saying "lay red with p nine again" (voice en-gb+f4); no glasses, so her
  blinks show best, but she smiles with parted lips and a full press leaves them about 0.05 apart.

The speech, the motion and the frames are the same on every run on one machine; the H.264 and AAC bytes can
differ with the codec libraries' versions, so the clips are shipped rather than made at test time: the tests
measure them, and a renderer change must not move what they measure.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEDIA = ROOT / "tests" / "media"
RATE = 16000
FPS = 25.0
SECONDS = 3.0
SIZE = (360, 288)  # width, height: GRID's frame
NOISE = 0.002  # room noise under the speech (about -54 dBFS), as real recordings have


@dataclass(frozen=True)
class ClipSpec:
    name: str
    portrait: Path
    crop: tuple[int, int, int, int]  # x0, y0, x1, y1 of the portrait, 5:4, scaled to SIZE
    text: str
    voice: str
    lead_s: float  # quiet before the speech
    blinks: tuple[tuple[int, int], ...]  # [start, end) frames of each blink
    seed: int
    head: float  # head motion strength; 2: turns of a few degrees that tracking tells well from its noise


CLIPS = (
    ClipSpec("hopper_bin_blue", ROOT / "examples" / "portrait.jpg", (0, 40, 512, 450), "bin blue at f two now",
             "en-us+f5", 0.6, ((20, 25), (52, 57)), 3, 2.0),
    ClipSpec("collins_lay_red", MEDIA / "collins.jpg", (25, 0, 385, 288), "lay red with p nine again", "en-gb+f4",
             0.5, ((12, 17), (60, 65)), 5, 1.0),
)
BLINK = (0.5, 1.0, 1.0, 1.0, 0.5)  # lid closure over the five frames (0.2 s) of a blink


def collins_jpg() -> None:
    """The astronaut's head and shoulders, cut from scikit-image's sample image when scikit-image is installed."""
    import importlib.util

    import cv2

    spec = importlib.util.find_spec("skimage")
    source = Path(spec.origin).parent / "data" / "astronaut.png" if spec and spec.origin else None
    if source is None or not source.exists():
        if not (MEDIA / "collins.jpg").exists():
            sys.exit("collins.jpg is missing: pip install scikit-image once to cut it from its astronaut.png")
        print(f"kept       {(MEDIA / 'collins.jpg').relative_to(ROOT)} (scikit-image is not installed)")
        return
    crop = cv2.imread(str(source))[0:320, 30:430]
    cv2.imwrite(str(MEDIA / "collins.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"wrote      {(MEDIA / 'collins.jpg').relative_to(ROOT)} (from {source})")


def speech(spec: ClipSpec):  # noqa: ANN201 - talkinghead Audio
    """The sentence, ``lead_s`` into a 3 s recording with faint noise throughout, 16 kHz mono."""
    from talkinghead.audio.decode import Audio
    from talkinghead.data.tts import synthesize

    said = synthesize(spec.text, voice=spec.voice, rate_wpm=150).resampled(RATE)
    samples = np.random.default_rng(spec.seed).normal(0, NOISE, int(SECONDS * RATE)).astype(np.float32)
    start = int(spec.lead_s * RATE)
    samples[start:start + len(said)] += said
    return Audio(np.clip(samples, -1, 1), RATE)


def make_clip(spec: ClipSpec, work: Path) -> None:
    import cv2

    import talkinghead
    from talkinghead.data.prepare import write_wav
    from talkinghead.pipeline import AnimateConfig, MotionConfig, motion_from_audio

    x0, y0, x1, y1 = spec.crop
    image = cv2.imread(str(spec.portrait))[y0:y1, x0:x1]
    portrait = work / f"{spec.name}.png"
    cv2.imwrite(str(portrait), cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA))
    audio = speech(spec)
    wav = work / f"{spec.name}.wav"
    write_wav(wav, audio)
    motion = motion_from_audio(audio, MotionConfig(fps=FPS, seed=spec.seed, transcript=spec.text, head_motion=spec.head))
    blink = np.zeros(motion.n_frames)
    for start, end in spec.blinks:
        blink[start:end] = BLINK
    motion = motion.update(blink_left=blink, blink_right=blink)
    speaking = [p for p in motion.meta["phones"] if p[2] != "SIL"]
    motion.meta.update(text=spec.text, voice=spec.voice, seed=spec.seed, head_motion=spec.head, blinks=[list(b) for b in spec.blinks],
                       speech=[speaking[0][0], speaking[-1][1]],
                       made_by="scripts/make_test_media.py", portrait=str(spec.portrait.relative_to(ROOT)))
    output = MEDIA / f"{spec.name}.mp4"
    talkinghead.animate(portrait, wav, output, AnimateConfig(fps=FPS, seed=spec.seed, full_frame=True),
                        motion=motion)
    motion.save(MEDIA / f"{spec.name}.motion.json")
    print(f"wrote      {output.relative_to(ROOT)} ({output.stat().st_size / 1024:.0f} KiB) and its motion")


def main() -> int:
    MEDIA.mkdir(exist_ok=True)
    collins_jpg()
    with tempfile.TemporaryDirectory() as work:
        for spec in CLIPS:
            make_clip(spec, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
