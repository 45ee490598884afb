"""Triangle topology for warping a face: MediaPipe's tessellation, its holes filled, and a background ring."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np
from matplotlib.path import Path as PolyPath
from scipy.spatial import Delaunay

from talkinghead.face import regions

MOUTH_CENTER = 478  # virtual vertex at the centre of the inner-lip contour
N_FACE_VERTICES = 479


def _edges(tri: tuple[int, int, int]) -> list[tuple[int, int]]:
    a, b, c = tri
    return [(a, b), (a, c), (b, c)]


@lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """(M, 3) triangles over the 478 landmarks + mouth centre, covering the whole face oval.

    The tessellation is rebuilt from FaceMesh's edge list: every 3-clique is a candidate and
    separating 3-cycles (all three edges shared by three candidates) are dropped. The mouth and eye
    holes are filled with fans around the mouth centre and the iris centres, so that lips can part
    and irises can move.
    """
    from talkinghead.face.landmarks import _quiet_mediapipe

    edges = {tuple(sorted(e)) for e in _quiet_mediapipe().solutions.face_mesh.FACEMESH_TESSELATION}
    adjacent = defaultdict(set)
    for a, b in edges:
        adjacent[a].add(b)
        adjacent[b].add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in edges for c in adjacent[a] & adjacent[b]}
    while True:
        count = Counter(e for t in tris for e in _edges(t))
        separating = {t for t in tris if all(count[e] >= 3 for e in _edges(t))}
        if not separating:
            break
        tris -= separating
    fans = [(MOUTH_CENTER, regions.LIPS_INNER), (regions.RIGHT_IRIS_CENTER, regions.RIGHT_EYE),
            (regions.LEFT_IRIS_CENTER, regions.LEFT_EYE)]
    for centre, loop in fans:
        tris |= {(centre, loop[i], loop[(i + 1) % len(loop)]) for i in range(len(loop))}
    return np.array(sorted(tris), np.int32)


def with_mouth_center(lms: np.ndarray) -> np.ndarray:
    """Append the mouth-centre vertex (mean of the inner-lip contour) to (478, D) landmarks."""
    return np.concatenate([lms, lms[regions.LIPS_INNER].mean(0, keepdims=True)], axis=0)


def background_ring(face_xy: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchors around the face and the triangles that join them to the face oval.

    Returns (anchors (K, 2), triangles (T, 3) indexing [face vertices, anchors]). Two rings sit at
    1.3 and 1.9 times the oval's size around its centre, and the image border is pinned, so the
    background stays still while the ring between the face and the anchors absorbs the motion.
    """
    oval = face_xy[regions.FACE_OVAL]
    centre = oval.mean(0)
    rings = [centre + (oval - centre) * s for s in (1.3, 1.9)]
    n = 8
    xs, ys = np.linspace(0, width - 1, n), np.linspace(0, height - 1, n)
    border = np.concatenate([np.stack([xs, np.zeros(n)], 1), np.stack([xs, np.full(n, height - 1)], 1),
                             np.stack([np.zeros(n - 2), ys[1:-1]], 1), np.stack([np.full(n - 2, width - 1), ys[1:-1]], 1)])
    anchors = np.concatenate([rings[0], rings[1][::2], border])
    points = np.concatenate([oval, anchors])
    tri = Delaunay(points).simplices
    inside = PolyPath(oval).contains_points(points[tri].mean(1))
    tri = tri[~inside]
    oval_index = np.asarray(regions.FACE_OVAL)
    mapping = np.concatenate([oval_index, N_FACE_VERTICES + np.arange(len(anchors))])
    return anchors, mapping[tri].astype(np.int32)


def ring_weights(n_anchors: int, outer: float = 0.1) -> np.ndarray:
    """How much each anchor follows the head: the inner ring partly, the outer ring by ``outer``, the border not."""
    w = np.zeros(n_anchors)
    w[: len(regions.FACE_OVAL)] = 0.55
    w[len(regions.FACE_OVAL): len(regions.FACE_OVAL) + (len(regions.FACE_OVAL) + 1) // 2] = outer
    return w


def follow_face(anchors: np.ndarray, src_face: np.ndarray, dst_face: np.ndarray, outer: float = 0.1) -> np.ndarray:
    """:func:`background_ring` anchors moved along with the face outline going from ``src_face`` to ``dst_face``,
    each by its :func:`ring_weights` share of the move of the outline vertex it stands beside."""
    oval = np.asarray(regions.FACE_OVAL)
    beside = np.concatenate([oval, oval[::2], np.zeros(len(anchors) - len(oval) - len(oval[::2]), int)])
    return anchors + ring_weights(len(anchors), outer)[:, None] * (dst_face[beside, :2] - src_face[beside, :2])
