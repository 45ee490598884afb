"""Reading portrait images (jpg/png/webp/bmp/tiff, any size) as RGB uint8, with clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from talkinghead.errors import InputError, existing_file
from talkinghead.io.formats import IMAGE_SUFFIXES

MIN_SIDE = 64
MAX_PIXELS = 100_000_000


def load_image(path: str | Path) -> np.ndarray:
    """RGB uint8 image from ``path`` (alpha dropped onto white, greyscale expanded)."""
    path = existing_file(path, "an image")
    data = np.fromfile(str(path), np.uint8)
    if len(data) == 0:
        raise InputError(path, "image file is empty")
    # IMREAD_UNCHANGED keeps alpha but ignores the EXIF orientation of phone photos; JPEGs have no alpha
    jpeg = data[:3].tobytes() == b"\xff\xd8\xff"
    image = cv2.imdecode(data, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if jpeg else cv2.IMREAD_UNCHANGED)
    if image is None:
        kind = "unsupported image format" if path.suffix.lower() not in IMAGE_SUFFIXES else "corrupt or unreadable image"
        raise InputError(path, f"{kind} (use jpg, png, webp or bmp)")
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        alpha = image[..., 3:4].astype(np.float32) / 255
        image = (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(path, f"image too small ({w}x{h}); need at least {MIN_SIDE}x{MIN_SIDE}")
    if h * w > MAX_PIXELS:
        raise InputError(path, f"image too large ({w}x{h}); at most {MAX_PIXELS // 1_000_000} megapixels")
    return image
