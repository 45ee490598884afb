"""The avatar file ``talkinghead fit`` writes: everything a fitted renderer needs to draw one person.

One ``torch.save`` file of plain tensors and numbers (read with ``weights_only``): the renderer that draws with it,
its network's config and weights, a bank of the person's real mouths with their landmarks, a still of the person
(animate's portrait unless ``--image`` is given), how far the person opens the mouth, and what the fit measured.
Any fitted renderer (one file each in ``render/``) reads the same format and the same bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from talkinghead.errors import InputError
from talkinghead.io.video import atomic_output
from talkinghead.render.mouth_crop import lip_shape, moved
from talkinghead.render.rig import LipModel

FORMAT = "talkinghead-avatar"
VERSION = 1


@dataclass
class MouthBank:
    """Real mouths of the person, each a mouth square (K, S, S, 3 uint8) with its 479 landmarks (K, 479, 2)."""

    crops: np.ndarray
    points: np.ndarray
    shapes: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.shapes = lip_shape(self.points)

    def nearest(self, shape: np.ndarray, allowed: np.ndarray | None = None, k: int = 2
                ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` mouths whose lips are nearest ``shape`` and their weights, which fall to 0 as a mouth is about
        to be overtaken by the next nearest: the mix changes smoothly as the shape does."""
        distance = np.linalg.norm(self.shapes - shape, axis=1)
        if allowed is not None:
            distance = np.where(allowed, distance, np.inf)
        order = np.argsort(distance)[:k + 1]
        near = distance[order]
        if len(order) > k and np.isfinite(near[-1]) and near[-1] > 1e-9:
            weight = np.clip(1 - near[:k] / near[-1], 0, None)
        else:  # too few mouths to mix: the nearest alone
            weight = np.zeros(min(k, len(order)))
        if weight.sum() <= 1e-9:
            weight[0] = 1.0
        return order[:k], weight / weight.sum()

    def real_mouth(self, target: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """The nearest real mouths moved onto the ``target`` landmarks (crop pixels) and mixed (float32 0..255)."""
        picks, weights = self.nearest(lip_shape(target), allowed)
        out = np.zeros(self.crops.shape[1:], np.float32)
        for i, w in zip(picks, weights):
            if w > 0:
                out += w * moved(self.crops[i], self.points[i], target).astype(np.float32)
        return out

    @staticmethod
    def select(shapes: np.ndarray, count: int) -> np.ndarray:
        """Indices of ``count`` mouths: a quarter spread to the extremes of the shapes (farthest-point sampling from
        the most typical), the rest evenly over the footage, as common shapes come up most."""
        count = min(count, len(shapes))
        first = int(np.argmin(np.linalg.norm(shapes - np.median(shapes, 0), axis=1)))
        chosen, distance = [first], np.linalg.norm(shapes - shapes[first], axis=1)
        while len(chosen) < max(1, count // 4):
            nxt = int(np.argmax(distance))
            chosen.append(nxt)
            distance = np.minimum(distance, np.linalg.norm(shapes - shapes[nxt], axis=1))
        rest = np.setdiff1d(np.arange(len(shapes)), chosen)
        even = rest[np.linspace(0, len(rest) - 1, count - len(chosen)).round().astype(int)] if count > len(chosen) \
            else np.array([], int)
        return np.unique(np.concatenate([chosen, even]).astype(int))


@dataclass
class Avatar:
    """A person fitted by ``talkinghead fit``."""

    renderer: str  # the registered renderer that draws with it
    model: dict  # {"config": network config as a dict, "state": its weights}
    bank: MouthBank
    reference: np.ndarray  # (H, W, 3) uint8 RGB still of the person
    mouth_scale: float  # the person's wide-open mouth over the rig's (jaw travel is scaled by it)
    lips: LipModel  # how the person's lips move with the lip channels
    fit: dict = field(default_factory=dict)  # what the fit measured (frames, minutes, validation scores)

    def save(self, path: str | Path) -> None:
        """Write the avatar atomically to ``path``."""
        state = {"format": FORMAT, "version": VERSION, "renderer": self.renderer, "model": self.model,
                 "bank_jpegs": [torch.from_numpy(encode(crop, ".jpg")) for crop in self.bank.crops],
                 "bank_points": torch.from_numpy(self.bank.points.astype(np.float32)),
                 "reference_png": torch.from_numpy(encode(self.reference, ".png")), "mouth_scale": float(self.mouth_scale),
                 "lips": torch.from_numpy(self.lips.weights),
                 "fit": self.fit}
        with atomic_output(path) as tmp:
            torch.save(state, tmp)

    @classmethod
    def load(cls, path: str | Path) -> "Avatar":
        """Read an avatar, once per process while the file stays the same (the renderer's name, the renderer and
        animate's still all come from it); InputError when the file is missing, damaged, not an avatar or from
        another version. The avatar returned is shared: it is not to be changed."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "avatar file not found")
        stat = path.stat()
        return _read(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2)
def _read(path: Path, mtime_ns: int, size: int) -> Avatar:
    """:meth:`Avatar.load`'s reading, remembered by the file's path, modification time and size."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many kinds on foreign or damaged files
        raise InputError(path, f"not an avatar file, or damaged ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(path, "not an avatar file (make one with `talkinghead fit`)")
    if state.get("version") != VERSION:
        raise InputError(path, f"avatar format version {state.get('version')}; this talkinghead reads version "
                         f"{VERSION}: fit it again")
    try:
        reference = decode(state["reference_png"])
        crops = np.stack([decode(jpeg) for jpeg in state["bank_jpegs"]])
        bank = MouthBank(crops, state["bank_points"].numpy().astype(np.float64))
        return Avatar(state["renderer"], state["model"], bank, reference, float(state["mouth_scale"]),
                      LipModel(state["lips"].numpy()), state.get("fit", {}))
    except Exception as exc:  # a truncated or edited file
        raise InputError(path, f"damaged avatar file ({type(exc).__name__})") from None


def encode(rgb: np.ndarray, suffix: str) -> np.ndarray:
    """An RGB image as the bytes of a ``suffix`` file (JPEG at quality 95)."""
    _, data = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return data.ravel()


def decode(data: torch.Tensor | np.ndarray) -> np.ndarray:
    """The RGB image in an encoded file's bytes."""
    return cv2.cvtColor(cv2.imdecode(np.asarray(data), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def as_stored(crops: np.ndarray) -> np.ndarray:
    """Mouth crops as an avatar file gives them back (through JPEG)."""
    return np.stack([decode(encode(crop, ".jpg")) for crop in crops])
