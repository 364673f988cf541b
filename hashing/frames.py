"""Per-frame PDQ of videos and animated images, and the vPDQ comparison of two frame
lists (Meta's vPDQ: the share of one clip's frames that have a near frame in the other,
in both directions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from catalog.media_items.records import FrameHashRecord
from hashing.signals.pdq import PDQ_MATCH_THRESHOLD, PdqSignal, pdq_to_packed

FRAME_SIGNAL = PdqSignal
"""The signal type of every frame of a video or an animation: PDQ, compared the vPDQ way."""

VPDQ_MIN_QUALITY = 50
"""Frames whose PDQ quality is below this (flat, dark, blurred) are ignored by vPDQ."""
VPDQ_THRESHOLD = 0.8
"""Default share of frames, in each direction, that makes two videos a match."""


@dataclass(frozen=True)
class FrameHash:
    """One sampled frame: start time in seconds, PDQ (64 hex) and its quality."""

    t: float
    pdq: str
    quality: int

    def record(self, sha256: str, index: int) -> FrameHashRecord:
        return FrameHashRecord(sha256, index, self.t, self.pdq, self.quality)


@dataclass(frozen=True)
class VpdqResult:
    """``query_share``: of the query's usable frames, the share with a near frame in
    the target; ``target_share`` the other way round."""

    query_share: float
    target_share: float

    def matches(self, threshold: float = VPDQ_THRESHOLD) -> bool:
        return self.query_share >= threshold and self.target_share >= threshold

    @property
    def distance(self) -> int:
        """0..100: how far the weaker direction is from every frame matching."""
        return int(round(100 * (1 - min(self.query_share, self.target_share))))


def usable(frames: Sequence[FrameHash], min_quality: int = VPDQ_MIN_QUALITY) -> list[str]:
    """The PDQ hashes of the frames good enough to compare, deduplicated in order."""
    return list(dict.fromkeys(f.pdq for f in frames if f.quality >= min_quality))


def compare_frames(
    query: Sequence[FrameHash],
    target: Sequence[FrameHash],
    *,
    distance: int = PDQ_MATCH_THRESHOLD,
    min_quality: int = VPDQ_MIN_QUALITY,
) -> VpdqResult:
    """vPDQ similarity of two frame lists (brute force: fine for two videos)."""
    a, b = usable(query, min_quality), usable(target, min_quality)
    if not a or not b:
        return VpdqResult(0.0, 0.0)
    near = pairwise_distances(a, b) <= distance
    return VpdqResult(float(near.any(axis=1).mean()), float(near.any(axis=0).mean()))


def pairwise_distances(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """``[len(a), len(b)]`` Hamming distances between two lists of PDQ hashes."""
    pa, pb = pdq_to_packed(a).view(np.uint64), pdq_to_packed(b).view(np.uint64)
    return np.bitwise_count(pa[:, None, :] ^ pb[None, :, :]).sum(axis=2, dtype=np.int32)
