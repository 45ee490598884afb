"""FID and FVD with user-supplied TorchScript detectors: tiny stand-ins with the real call signatures, saved to disk."""

from __future__ import annotations

import dataclasses
from itertools import chain, islice
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from talkinghead.errors import InputError
from talkinghead.eval import frechet
from talkinghead.eval.frechet import FrechetScore, fid, fvd
from talkinghead.io.video import read_frames

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

CLIP = Path(__file__).resolve().parent / "media" / "hopper_bin_blue.mp4"


class TinyInception(torch.nn.Module):
    """Stand-in for ``inception-2015-12-05.pt``: same call, resizes itself, features of 4 x 4 mean colours."""

    def __init__(self, num_features: int = 2048) -> None:
        super().__init__()
        self.register_buffer("weight", torch.randn(48, num_features, generator=torch.Generator().manual_seed(0)) / 7)

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        if img.dtype != torch.uint8 or img.dim() != 4 or img.shape[1] != 3:
            raise ValueError("expected uint8 (N, 3, H, W) images")
        x = F.interpolate(img.float(), size=[64, 64], mode="bilinear", align_corners=False) / 128 - 1
        features = torch.tanh(F.adaptive_avg_pool2d(x, 4).flatten(1) @ self.weight)
        return features if return_features else features.softmax(dim=1)


class TinyI3D(torch.nn.Module):
    """Stand-in for StyleGAN-V's ``i3d_torchscript.pt``: same call, (N, 3, T, H, W) uint8 clips in, 400 features."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weight", torch.randn(48, 400, generator=torch.Generator().manual_seed(1)) / 7)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError("expected (N, 3, T, H, W) clips")
        if rescale:
            if x.dtype != torch.uint8:
                raise ValueError("rescale expects uint8 0..255")
            x = x.float() / 255 * 2 - 1
        if resize:
            x = F.interpolate(x, size=[x.shape[2], 32, 32], mode="trilinear", align_corners=False)
        features = torch.tanh(F.adaptive_avg_pool3d(x, [4, 2, 2]).flatten(1) @ self.weight)
        return features if return_features else features.softmax(dim=1)


def save_script(module: torch.nn.Module, path: Path) -> Path:
    """``module`` scripted and saved as a TorchScript file, as the real detectors are distributed."""
    torch.jit.script(module).save(str(path))
    return path


@pytest.fixture(scope="module")
def detectors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("detectors")
    return {"fid": save_script(TinyInception(), folder / "inception-2015-12-05.pt"),
            "fvd": save_script(TinyI3D(), folder / "i3d_torchscript.pt"),
            "fid_64": save_script(TinyInception(num_features=64), folder / "inception-64.pt"),
            "fid_small": save_script(TinyInception(num_features=10), folder / "other.pt")}


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    """30 frames (360x288) of a talking face."""
    return list(islice(read_frames(CLIP), 30))


def brighter(frames: list[np.ndarray], amount: int) -> list[np.ndarray]:
    return [np.clip(f.astype(np.int16) + amount, 0, 255).astype(np.uint8) for f in frames]


def half(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[::2, ::2])


def synthetic_video(seed: int, n: int = 16, shape: tuple[int, int] = (40, 48)) -> list[np.ndarray]:
    """A bright square moving over noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        frame = rng.integers(0, 120, (*shape, 3), dtype=np.uint8)
        frame[10:20, i * 2:i * 2 + 10] = 250
        frames.append(frame)
    return frames


def test_fid_is_zero_for_the_same_frames_and_grows_with_the_change(detectors, clip_frames, monkeypatch):
    # torchmetrics' 2048-d Frechet distance takes 5-40 s on two cores; the FID mechanism is the same at 64 features
    monkeypatch.setitem(frechet.KINDS, "fid", dataclasses.replace(frechet.KINDS["fid"], num_features=64))
    same = fid(clip_frames, clip_frames, detectors["fid_64"], batch_size=8)
    small = fid(brighter(clip_frames, 10), clip_frames, detectors["fid_64"], batch_size=8)
    large = fid(brighter(clip_frames, 40), clip_frames, detectors["fid_64"])
    assert abs(same) < 1e-3 * small
    assert 0 < small < large


def test_fvd_on_clips_of_video_frames_of_any_size(detectors, clip_frames):
    def score(generated: list[np.ndarray], **options) -> float:
        return fvd(generated, clip_frames, detectors["fvd"], clip_len=8, stride=4, batch_size=16, **options)

    same, small, large = score(clip_frames), score(brighter(clip_frames, 10)), score(brighter(clip_frames, 40))
    assert abs(same) < 1e-3 * small
    assert 0 < small < large
    # the detector resizes half-size frames itself; cv2 resizes them with `size`, or to the first frame's size
    assert abs(score([half(f) for f in clip_frames])) < 0.1 * small
    assert abs(score([half(f) for f in clip_frames], size=48)) < 0.1 * small
    assert abs(score([f if i % 2 else half(f) for i, f in enumerate(clip_frames)])) < 0.1 * small


def test_score_over_many_videos_equals_one_score_over_all_their_clips(detectors):
    generated, reference = [synthetic_video(s) for s in (0, 1)], [synthetic_video(s, shape=(48, 64)) for s in (2, 3)]
    score = FrechetScore("fvd", detectors["fvd"], clip_len=8)
    for g, r in zip(generated, reference):
        score.add(iter(g), iter(r))  # streams: each frame is read once
    assert score.counts == {"generated": 4, "reference": 4}
    together = fvd(chain(*generated), chain(*reference), detectors["fvd"], clip_len=8)
    assert score.compute() == pytest.approx(together, rel=1e-4) and together > 0


def test_too_few_clips_or_frames(detectors):
    with pytest.raises(InputError, match="at least 2 clips of 16 frames on each side, got 1 generated"):
        fvd(synthetic_video(0, n=20), synthetic_video(1, n=40), detectors["fvd"])
    with pytest.raises(InputError, match="FID needs at least 2 frames"):
        fid(synthetic_video(0, n=1), synthetic_video(1), detectors["fid"])
    with pytest.raises(ValueError, match="RGB uint8"):
        fid([f.astype(np.float32) for f in synthetic_video(0)], synthetic_video(1), detectors["fid"])


def test_missing_unloadable_or_wrong_weights(detectors, tmp_path):
    frames = synthetic_video(0)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02 not a torchscript archive")
    state_dict = tmp_path / "state_dict.pt"
    torch.save(TinyI3D().state_dict(), state_dict)
    cases = [(tmp_path / "absent.pt", "fid", "file not found"),
             (tmp_path, "fvd", "is a folder"),
             (corrupt, "fid", "not a loadable TorchScript detector"),
             (state_dict, "fvd", "not a loadable TorchScript detector"),
             (detectors["fid"], "fvd", "does not work as the FVD detector"),
             (detectors["fvd"], "fid", r"does not work as the FID detector \(builtins.ValueError: expected \(N, 3, T"),
             (detectors["fid_small"], "fid", r"gave features of shape \(16, 10\), not \(N, 2048\)")]
    for path, kind, problem in cases:
        with pytest.raises(InputError, match=problem) as error:
            FrechetScore(kind, path, clip_len=8).add(frames, frames)
        assert error.value.path == str(path) and "\n" not in str(error.value)
