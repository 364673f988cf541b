"""Per-frame PDQ of videos and animated images, and the vPDQ comparison of two frame
lists: the share of one clip's frames that have a near frame in the other, each way
(Meta's vPDQ). Two clips match when the SHORTER one (fewer usable frames) is mostly in
the other: an excerpt of a known video, or a known clip inside a compilation. Meta's
rule (both ways) missed every excerpt. So that a few frames cannot carry a match, the
frames compared are those of good quality, and the matching frames must include
``VPDQ_MIN_DISTINCT`` that differ from each other (a still or blank clip is one frame
however long it lasts)."""

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
"""Default share of the shorter clip's frames that makes two videos a match."""
VPDQ_MIN_DISTINCT = 3
VPDQ_SLOT = 1.0
"""Seconds of a clip counted as one when shares are measured (the sampling interval):
a clip hashed every frame is not "longer" than the same clip sampled once a second."""
"""Matching frames that must differ from each other (by more than the PDQ threshold)."""
MIRRORED = "mirrored"
UNCUT = "uncut"
OVERLAY = "overlay"
VIEWS = (MIRRORED, UNCUT, OVERLAY)
"""Other views of a video's frames, kept beside them (``frame_hashes.view``): mirrored
left to right, whole when black bars were cut off, and with a static overlay (a logo)
painted out."""


@dataclass(frozen=True)
class FrameHash:
    """One sampled frame: start time in seconds, PDQ (64 hex) and its quality."""

    t: float
    pdq: str
    quality: int

    def record(self, sha256: str, index: int, view: str | None = None) -> FrameHashRecord:
        return FrameHashRecord(sha256, index, self.t, self.pdq, self.quality, view)


@dataclass(frozen=True)
class VpdqResult:
    """``query_share``: of the query's usable frames, the share with a near frame in
    the target; ``target_share`` the other way round. ``query_frames`` and
    ``target_frames``: usable frames of each (0: unknown, the shares decide);
    ``distinct``: matching frames of the query that differ from each other."""

    query_share: float
    target_share: float
    query_frames: int = 0
    target_frames: int = 0
    distinct: int = VPDQ_MIN_DISTINCT

    @property
    def shorter_share(self) -> float:
        """The share of the shorter clip's frames that match (the larger share when the
        frame counts are unknown or equal)."""
        if self.query_frames and self.target_frames and self.query_frames != self.target_frames:
            return self.query_share if self.query_frames < self.target_frames else self.target_share
        return max(self.query_share, self.target_share)

    def matches(self, threshold: float = VPDQ_THRESHOLD, min_distinct: int = VPDQ_MIN_DISTINCT) -> bool:
        return self.shorter_share >= threshold and self.distinct >= min_distinct

    @property
    def distance(self) -> int:
        """0..100: how far the shorter clip is from every frame matching."""
        return int(round(100 * (1 - self.shorter_share)))


def usable(frames: Sequence[FrameHash], min_quality: int = VPDQ_MIN_QUALITY) -> list[str]:
    """The PDQ hashes of the frames good enough to compare, deduplicated in order."""
    return list(dict.fromkeys(f.pdq for f in frames if f.quality >= min_quality))


def compare_frames(
    query: Sequence[FrameHash],
    target: Sequence[FrameHash],
    *,
    distance: int = PDQ_MATCH_THRESHOLD,
    min_quality: int = VPDQ_MIN_QUALITY,
    slot: float = VPDQ_SLOT,
) -> VpdqResult:
    """vPDQ similarity of two frame lists (brute force: fine for two videos), counted by
    ``slot`` seconds: a side's share is that of its slots holding a usable frame that
    have one near a frame of the other, so a clip hashed every frame (Meta's vPDQ, a
    known video hashed densely) and one sampled once a second are measured alike."""
    a, b = _slotted(query, min_quality, slot), _slotted(target, min_quality, slot)
    if not a or not b:
        return VpdqResult(0.0, 0.0, len({s for s, _ in a}), len({s for s, _ in b}), 0)
    near: np.ndarray = pairwise_distances([p for _, p in a], [p for _, p in b]) <= distance
    rows, columns = near.any(axis=1), near.any(axis=0)
    slots_a, slots_b = {s for s, _ in a}, {s for s, _ in b}
    matched = np.flatnonzero(rows)
    return VpdqResult(
        len({a[int(n)][0] for n in matched}) / len(slots_a),
        len({b[int(n)][0] for n in np.flatnonzero(columns)}) / len(slots_b),
        len(slots_a), len(slots_b),
        distinct_count(list(dict.fromkeys(a[int(n)][1] for n in matched)), distance),
    )  # fmt: skip


def _slotted(frames: Sequence[FrameHash], min_quality: int, slot: float) -> list[tuple[int, str]]:
    """The usable frames as ``(slot number, pdq)``, each pair once, in order."""
    return list(dict.fromkeys((int((f.t + 1e-6) // slot) if slot > 0 else 0, f.pdq) for f in frames if f.quality >= min_quality))


def distinct_count(pdqs: Sequence[str], distance: int = PDQ_MATCH_THRESHOLD) -> int:
    """How many of ``pdqs`` are more than ``distance`` from each other (taken greedily in
    order, up to ``VPDQ_MIN_DISTINCT``: enough to know a match may stand)."""
    kept: list[str] = []
    for pdq in pdqs:
        if not kept or pairwise_distances([pdq], kept).min() > distance:
            kept.append(pdq)
            if len(kept) >= VPDQ_MIN_DISTINCT:
                break
    return len(kept)


def pairwise_distances(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """``[len(a), len(b)]`` Hamming distances between two lists of PDQ hashes."""
    pa, pb = pdq_to_packed(a).view(np.uint64), pdq_to_packed(b).view(np.uint64)
    return np.bitwise_count(pa[:, None, :] ^ pb[None, :, :]).sum(axis=2, dtype=np.int32)
