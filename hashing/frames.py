"""Per-frame PDQ of videos and animated images, and the vPDQ comparison of two frame
lists: the share of one clip's frames that have a near frame in the other, each way
(Meta's vPDQ). Two clips match when the SHORTER one (fewer usable frames) is mostly in
the other: an excerpt of a known video, or a known clip inside a compilation. Meta's
rule (both ways) missed every excerpt. So that a few frames cannot carry a match, the
frames compared are those of good quality, and the matching frames must include
``VPDQ_MIN_DISTINCT`` that differ from each other (a still or blank clip is one frame
however long it lasts).

A heavily re-encoded copy (a few hundred kbit/s) or one whose logo was painted out moves
many frames 32-50 bits from the original's, past the threshold, while unrelated frames
stay 80 bits or more apart (the reference clips' nearest cross frames: 82). So a frame
within ``VPDQ_NEAR_DISTANCE`` also counts, but only for a clip already anchored by close
frames: at least ``VPDQ_ANCHOR_SHARE`` of the shorter clip within the threshold, with
``VPDQ_MIN_DISTINCT`` distinct ones among them."""

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
"""Matching frames that must differ from each other (by more than the PDQ threshold)."""
VPDQ_SLOT = 1.0
"""Seconds of a clip counted as one when shares are measured (the sampling interval):
a clip hashed every frame is not "longer" than the same clip sampled once a second."""
VPDQ_NEAR_DISTANCE = 48
"""Bits within which a frame of an anchored clip counts too (at the default threshold of
31; a set's own threshold scales it, ``near_distance``)."""
VPDQ_ANCHOR_SHARE = 0.3
"""Share of the shorter clip's frames within the threshold before near frames count."""
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
    ``distinct``: matching frames of the query that differ from each other;
    ``query_near_share`` and ``target_near_share``: the shares with a frame within
    ``VPDQ_NEAR_DISTANCE`` (``None``: not measured, the shares stand for them)."""

    query_share: float
    target_share: float
    query_frames: int = 0
    target_frames: int = 0
    distinct: int = VPDQ_MIN_DISTINCT
    query_near_share: float | None = None
    target_near_share: float | None = None

    @property
    def shorter_share(self) -> float:
        """The share of the shorter clip's frames that match (the larger share when the
        frame counts are unknown or equal)."""
        return self._shorter(self.query_share, self.target_share)

    @property
    def shorter_near_share(self) -> float:
        """The same share counting frames within ``VPDQ_NEAR_DISTANCE``."""
        near_query = self.query_share if self.query_near_share is None else self.query_near_share
        near_target = self.target_share if self.target_near_share is None else self.target_near_share
        return self._shorter(near_query, near_target)

    def _shorter(self, query: float, target: float) -> float:
        if self.query_frames and self.target_frames and self.query_frames != self.target_frames:
            return query if self.query_frames < self.target_frames else target
        return max(query, target)

    def matches(self, threshold: float = VPDQ_THRESHOLD, min_distinct: int = VPDQ_MIN_DISTINCT) -> bool:
        """Enough of the shorter clip within the threshold, or, anchored by
        ``VPDQ_ANCHOR_SHARE`` of it there, enough within ``VPDQ_NEAR_DISTANCE``; with
        ``min_distinct`` distinct frames within the threshold either way."""
        if self.distinct < min_distinct:
            return False
        shorter = self.shorter_share
        return shorter >= threshold or (shorter >= VPDQ_ANCHOR_SHARE and self.shorter_near_share >= threshold)

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
    known video hashed densely) and one sampled once a second are measured alike; the
    near shares count frames within ``near_distance(distance)``."""
    a, b = _slotted(query, min_quality, slot), _slotted(target, min_quality, slot)
    if not a or not b:
        return VpdqResult(0.0, 0.0, len({s for s, _ in a}), len({s for s, _ in b}), 0)
    distances = pairwise_distances([p for _, p in a], [p for _, p in b])
    slots_a, slots_b = {s for s, _ in a}, {s for s, _ in b}

    def shares(near: np.ndarray) -> tuple[float, float]:
        return (len({a[int(n)][0] for n in np.flatnonzero(near.any(axis=1))}) / len(slots_a),
                len({b[int(n)][0] for n in np.flatnonzero(near.any(axis=0))}) / len(slots_b))

    close = distances <= distance
    query_share, target_share = shares(close)
    query_near, target_near = shares(distances <= near_distance(distance))
    matched = np.flatnonzero(close.any(axis=1))
    return VpdqResult(
        query_share, target_share, len(slots_a), len(slots_b),
        distinct_count(list(dict.fromkeys(a[int(n)][1] for n in matched)), distance),
        query_near, target_near,
    )  # fmt: skip


def near_distance(threshold: int) -> int:
    """``VPDQ_NEAR_DISTANCE`` scaled to a threshold other than the default (0: none)."""
    return round(threshold * VPDQ_NEAR_DISTANCE / PDQ_MATCH_THRESHOLD)


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
