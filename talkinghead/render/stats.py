"""What a renderer measures while it draws, returned to its caller: :class:`RenderStats`.

Flicker at a paste boundary is the frame-to-frame change on the blend ring of the output against the same ring in the
source, so that a blend that shimmers shows up as more change than the video itself has there."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RING = (0.05, 0.95)  # mask values that make up the blend ring


class BoundaryFlicker:
    """Accumulates mean absolute frame-to-frame change (0..255, RGB) on each frame's blend ring."""

    def __init__(self) -> None:
        self.output: list[float] = []
        self.source: list[float] = []

    def add(self, output: tuple[np.ndarray, np.ndarray], source: tuple[np.ndarray, np.ndarray],
            box: tuple[int, int, int, int], mask: np.ndarray) -> None:
        """One frame pair: (previous, current) output and source frames, the ring's ``box`` (x0, y0, x1, y1) in
        them and the blend ``mask`` over that box."""
        ring = (mask > RING[0]) & (mask < RING[1])
        if not ring.any():
            return
        x0, y0, x1, y1 = box
        for store, (prev, cur) in ((self.output, output), (self.source, source)):
            change = np.abs(cur[y0:y1, x0:x1].astype(np.int16) - prev[y0:y1, x0:x1].astype(np.int16))
            store.append(float(change[ring].mean()))

    def metrics(self) -> dict[str, float]:
        """Mean ring change of the output and of the source over the frames measured (empty when none were)."""
        if not self.output:
            return {}
        return {"boundary_flicker": round(float(np.mean(self.output)), 3),
                "source_flicker": round(float(np.mean(self.source)), 3)}


@dataclass
class RenderStats:
    """Owned by the caller of a renderer and filled while its frames are consumed; read once they all were."""

    flicker: BoundaryFlicker = field(default_factory=BoundaryFlicker)

    def metrics(self) -> dict[str, float]:
        """The summary's figures (``boundary_flicker`` and ``source_flicker`` when a region was pasted)."""
        return self.flicker.metrics()
