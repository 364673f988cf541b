"""Local features of a picture for review clustering: ORB keypoints of a grey copy scaled to
one size (outside a caption box laid over it), of that copy and of its mirror image, and
their geometric verification.

A perceptual hash sees the whole picture, so a crop, a small rotation or a caption moves
it; a few hundred keypoints that agree on one geometric transform survive those edits.
Precision comes first, because a cluster decided together must show one picture: two
pictures count as the same only when the inliers of one RANSAC affine transform are many,
cover the picture (not just a shared frame or caption template), and the transform maps
most of one picture onto most of the other (two frames of a pan share only a strip).

Only compact records leave this module (points as float16, descriptors as bytes); pixels
never do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from catalog.decisions.records import LocalFeatures
from evidence import EvidenceError
from hashing.decode import DecodeConfig, decode_image
from hashing.errors import HashingError
from hashing.signals.pdq.repairs import block_mean, caption_box

SIDE = 320  # the longer side the grey copy is scaled to (features are cheap at this size)
KEYPOINTS = 250
DESCRIPTOR_BYTES = 32
# Features are taken at DCT-reduced size (both sides at least 192 px before the scaling to
# SIDE): what the look-alike guards were tuned on, and independent of the hashing decode.
DECODING = DecodeConfig(draft_size=192)


@dataclass(frozen=True)
class VerifyConfig:
    min_inliers: int = 20
    min_inlier_share: float = 0.3  # of the matches that survive the ratio test
    min_overlap: float = 0.85  # share of each picture the transform maps into the other
    contained: float = 0.95  # ... or one picture lies (nearly) within the other
    min_contained: float = 0.6  # and covers this much of it
    min_cells: float = 0.5  # share of the overlap's grid cells with keypoints that hold an inlier
    min_inner_cells: float = 0.5  # ... and of those off the grid's edge
    grid: int = 4
    min_spread: float = 0.4  # of the keypoints' extent the inliers span, in each direction


UPSCALE_BELOW = SIDE * 2 // 3
"""A picture whose longer side is shorter than this (a thumbnail, a copy downsized to a
sixth) is scaled up to ``SIDE`` first: at a hundred pixels ORB finds few keypoints, and
their scale lies beyond its pyramid's reach of the full-size copy's (size-15 copies of
the exposure bench's originals verified against their original 4 times in 40, scaled up
37 times, with no look-alike pair verified either way)."""


def extract(sha256: str, data: bytes, decoding: DecodeConfig = DECODING) -> LocalFeatures:
    """The local features of one image file and of its mirror image (``mirrored``);
    raises hashing errors for undecodable input."""
    image = decode_image(data, decoding).convert("L")
    scale = SIDE / max(image.size)
    if scale < 1 or max(image.size) < UPSCALE_BELOW:
        image = image.resize((max(8, round(image.width * scale)), max(8, round(image.height * scale))))
    grey = np.asarray(image, dtype=np.uint8)
    mask = outside_caption(grey)
    mirrored = features_of(sha256, np.ascontiguousarray(grey[:, ::-1]),
                           None if mask is None else np.ascontiguousarray(mask[:, ::-1]))
    return replace(features_of(sha256, grey, mask), mirrored=mirrored)


def outside_caption(grey: np.ndarray) -> np.ndarray | None:
    """Where keypoints may be taken: everywhere but a caption box laid over the picture
    (found as the PDQ repairs find it, ``caption_box``, at the size they look at); None
    when there is none. A caption's letters are the sharpest corners of a copy and would
    take most of its keypoints, leaving the picture under-described, and the caption's
    keypoints match nothing of the original: large-caption copies of the exposure bench's
    originals verified against their original 31 times in 40, 35 with the box left out."""
    small, k = block_mean(grey.astype(np.float32))
    box = caption_box(small)
    if box is None:
        return None
    left, top, right, bottom = (side * k for side in box)
    grow = 3  # the box's edge and its JPEG ringing
    mask = np.full(grey.shape, 255, dtype=np.uint8)
    mask[max(0, top - grow):bottom + grow, max(0, left - grow):right + grow] = 0
    return mask


def features_of(sha256: str, grey: np.ndarray, mask: np.ndarray | None = None) -> LocalFeatures:
    """ORB keypoints of ``grey`` (taken only where ``mask`` is set, when given)."""
    height, width = grey.shape
    orb = cv2.ORB_create(nfeatures=KEYPOINTS, edgeThreshold=15, patchSize=15, fastThreshold=10)  # type: ignore[attr-defined]
    keypoints, descriptors = orb.detectAndCompute(grey, mask)
    if descriptors is None or not keypoints:
        return LocalFeatures(sha256, width, height, b"", b"")
    points = np.array([k.pt for k in keypoints], dtype=np.float16)
    return LocalFeatures(sha256, width, height, points.tobytes(), descriptors.astype(np.uint8).tobytes())


def _points(f: LocalFeatures) -> np.ndarray:
    return np.frombuffer(f.points, dtype=np.float16).reshape(-1, 2).astype(np.float32)


def _descriptors(f: LocalFeatures) -> np.ndarray:
    return np.frombuffer(f.descriptors, dtype=np.uint8).reshape(-1, DESCRIPTOR_BYTES)


def _inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    return (points[:, 0] >= 0) & (points[:, 1] >= 0) & (points[:, 0] < width) & (points[:, 1] < height)


@lru_cache(maxsize=256)
def _grid(width: int, height: int, samples: int) -> np.ndarray:
    """Points on a ``samples`` x ``samples`` grid over a picture, as homogeneous rows (made
    once a size: pictures of one size are verified again and again)."""
    xs, ys = np.meshgrid(np.linspace(0, width - 1, samples), np.linspace(0, height - 1, samples))
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1)
    grid.flags.writeable = False
    return grid


def _mapped_share(matrix: np.ndarray, a: LocalFeatures, b: LocalFeatures, samples: int = 16) -> float:
    """The share of picture ``a`` that ``matrix`` maps inside picture ``b`` (on a grid)."""
    mapped = _grid(a.width, a.height, samples) @ matrix.T
    return float(_inside(mapped, b.width, b.height).mean())


def _cell_cover(points: np.ndarray, inliers: np.ndarray, f: LocalFeatures, covered: np.ndarray, grid: int,
                inner: bool = False) -> float:
    """Of the grid cells (of the part of ``f`` the other picture covers) that hold keypoints,
    the share that hold an inlier: a shared frame or caption leaves the inside uncovered.
    ``inner``: of the cells off the grid's edge only (1.0 when none holds a keypoint)."""
    columns = np.minimum(points[:, 0] * grid // max(f.width, 1), grid - 1).astype(int)
    rows = np.minimum(points[:, 1] * grid // max(f.height, 1), grid - 1).astype(int)
    cells = columns * grid + rows
    if inner:
        covered = covered & (columns > 0) & (columns < grid - 1) & (rows > 0) & (rows < grid - 1)
    with_points = set(cells[covered].tolist())
    with_inliers = set(cells[covered & inliers].tolist())
    return len(with_inliers) / len(with_points) if with_points else float(inner)


def verify(a: LocalFeatures, b: LocalFeatures, config: VerifyConfig = VerifyConfig()) -> int | None:
    """The number of inliers when ``a`` and ``b`` show the same picture, else None."""
    if not a.descriptors or not b.descriptors:
        return None
    da, db = _descriptors(a), _descriptors(b)
    if len(da) < config.min_inliers or len(db) < config.min_inliers:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance and p[0].distance <= 64]
    if len(good) < config.min_inliers:
        return None
    pa, pb = _points(a), _points(b)
    in_query = np.array([m.queryIdx for m in good])
    in_train = np.array([m.trainIdx for m in good])
    src, dst = pa[in_query], pb[in_train]
    matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0,
                                               maxIters=2000, confidence=0.995)
    if matrix is None or mask is None:
        return None
    inlier = mask.ravel().astype(bool)
    count = int(inlier.sum())
    if count < config.min_inliers or count < config.min_inlier_share * len(good):
        return None
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if not 0.1 <= scale <= 10:
        return None
    full = np.vstack([matrix, [0, 0, 1]])
    try:
        inverse = np.linalg.inv(full)[:2]
    except np.linalg.LinAlgError:
        return None
    shares = sorted((_mapped_share(matrix, a, b), _mapped_share(inverse, b, a)))
    # a crop or a border: one picture lies within the other; else both must mostly overlap
    if shares[0] < config.min_overlap and not (shares[1] >= config.contained and shares[0] >= config.min_contained):
        return None
    # the keypoints of each picture that fall where the other one is, and which of them agree
    in_a = np.zeros(len(pa), dtype=bool)
    in_b = np.zeros(len(pb), dtype=bool)
    in_a[in_query[inlier]] = True
    in_b[in_train[inlier]] = True
    covered_a = _inside(np.c_[pa, np.ones(len(pa))] @ matrix.T, b.width, b.height)
    covered_b = _inside(np.c_[pb, np.ones(len(pb))] @ inverse.T, a.width, a.height)
    if min(_cell_cover(pa, in_a, a, covered_a, config.grid),
           _cell_cover(pb, in_b, b, covered_b, config.grid)) < config.min_cells:
        return None
    # a frame shared along two sides (a site's template) holds inliers on the edge cells only
    if min(_cell_cover(pa, in_a, a, covered_a, config.grid, inner=True),
           _cell_cover(pb, in_b, b, covered_b, config.grid, inner=True)) < config.min_inner_cells:
        return None
    # inliers in one band (a shared caption or banner) do not make the same picture
    if min(_spread(pa[in_a], pa[covered_a]), _spread(pb[in_b], pb[covered_b])) < config.min_spread:
        return None
    return count


def _spread(inliers: np.ndarray, keypoints: np.ndarray) -> float:
    """How much of the keypoints' span the inliers span, in the narrower of the two
    directions (a caption band spans the width but not the height)."""
    if len(inliers) < 3 or len(keypoints) < 3:
        return 0.0
    whole = np.ptp(keypoints, axis=0)
    return float(np.min(np.ptp(inliers, axis=0) / np.maximum(whole, 1e-6)))


def stored_features(get: Callable[[str], bytes], sha256s: Sequence[str],
                    decoding: DecodeConfig = DECODING) -> dict[str, LocalFeatures]:
    """The local features of stored pictures, read through ``get`` (the evidence store:
    decrypted in memory only). A picture that cannot be read or decoded is left out (it
    was hashed, so this is rare): clustering then compares it by PDQ alone."""
    out: dict[str, LocalFeatures] = {}
    for sha256 in sha256s:
        try:
            out[sha256] = extract(sha256, get(sha256), decoding)
        except (HashingError, EvidenceError, OSError, ValueError):
            continue
    return out
