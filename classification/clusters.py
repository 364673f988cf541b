"""Clustering the review queue: near-duplicate queued items are decided together.

Leader clustering: each new item joins the open cluster whose representative is nearest
within the threshold, or founds a cluster of its own (and is its representative). A new
cluster near an item that was already decided is marked *not new* (``novel`` False) and
points at that item, so the queue can put new content first.

The comparison is a ``Signature`` per media kind. Images (and any item with a PDQ hash)
compare by PDQ Hamming distance; a video joins by vPDQ once its per-frame hashes are
available, through a ``FrameSignature`` built with hashing's comparison (injected, since
classification does not import hashing). Items without a usable signature stay alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from catalog import Catalog
from catalog.records import ClusterCandidate, ClusterPlan

DEFAULT_PDQ_THRESHOLD = 31
"""PDQ distance at which two pictures count as the same picture (Meta's recommendation)."""

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def pdq_matrix(hex_hashes: Sequence[str]) -> np.ndarray:
    """PDQ hex strings as an (n, 32) uint8 array."""
    if not hex_hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hex_hashes)), dtype=np.uint8).reshape(len(hex_hashes), 32)


def pdq_distances(one: str, many: np.ndarray) -> np.ndarray:
    """Hamming distance from PDQ ``one`` to every row of ``many``."""
    if len(many) == 0:
        return np.zeros(0, dtype=np.int64)
    query = np.frombuffer(bytes.fromhex(one), dtype=np.uint8)
    return _POPCOUNT[np.bitwise_xor(many, query)].sum(axis=1, dtype=np.int64)


class PdqGroups:
    """A growing set of PDQ hashes with an ID each, searched for the nearest one."""

    def __init__(self, entries: Sequence[tuple[object, str]] = ()) -> None:
        self.ids: list[object] = [i for i, _ in entries]
        self._rows = pdq_matrix([h for _, h in entries])
        self._pending: list[str] = []

    def add(self, ident: object, pdq: str) -> None:
        self.ids.append(ident)
        self._pending.append(pdq)

    def nearest(self, pdq: str, threshold: int) -> tuple[object, int] | None:
        if self._pending:
            self._rows = np.vstack([self._rows, pdq_matrix(self._pending)])
            self._pending = []
        distances = pdq_distances(pdq, self._rows)
        if distances.size == 0:
            return None
        best = int(distances.argmin())
        return (self.ids[best], int(distances[best])) if distances[best] <= threshold else None


FrameCompare = Callable[[str, str], int | None]
"""vPDQ comparison of two videos by SHA-256: a distance 0..100 when they match, else None."""


@dataclass(frozen=True)
class ClusteringConfig:
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD
    min_quality: int = 50
    video_compare: FrameCompare | None = None  # wire hashing's vPDQ here when frames are stored
    batch: int = 10_000


@dataclass
class _Open:
    """Open clusters of one kind while a run places items."""

    pdq: PdqGroups = field(default_factory=PdqGroups)
    videos: list[tuple[object, str]] = field(default_factory=list)  # (cluster, representative)


def plan_clusters(
    candidates: Sequence[ClusterCandidate],
    open_clusters: Sequence[tuple[int, str, str]],
    decided: Sequence[tuple[str, str]],
    config: ClusteringConfig = ClusteringConfig(),
) -> list[ClusterPlan]:
    """Where each candidate goes: pure, so it can be tested without a catalog."""
    by_kind: dict[str, _Open] = {}
    for cluster_id, kind, signature in open_clusters:
        by_kind.setdefault(kind, _Open()).pdq.add(cluster_id, signature)
    seen_before = PdqGroups(decided)
    joins: dict[object, list[tuple[str, int | None]]] = {}
    fresh: dict[object, ClusterPlan] = {}
    for item in candidates:
        groups = by_kind.setdefault(item.kind, _Open())
        hit: tuple[object, int] | None = (
            groups.pdq.nearest(item.signature, config.pdq_threshold) if item.signature else None)
        if hit is None and item.kind == "video" and config.video_compare is not None:
            hit = next(((key, d) for key, rep in groups.videos
                        if (d := config.video_compare(item.sha256, rep)) is not None), None)
        if hit is not None:
            joins.setdefault(hit[0], []).append((item.sha256, hit[1]))
            continue
        near = seen_before.nearest(item.signature, config.pdq_threshold) if item.signature else None
        key = ("new", item.sha256)
        fresh[key] = ClusterPlan(members=(), kind=item.kind, representative=item.sha256, signature=item.signature,
                                 novel=near is None, similar_to=str(near[0]) if near else None)
        joins[key] = [(item.sha256, 0)]
        if item.signature:
            groups.pdq.add(key, item.signature)
        elif item.kind == "video":
            groups.videos.append((key, item.sha256))
    plans = []
    for ident, members in joins.items():
        if ident in fresh:
            base = fresh[ident]
            plans.append(ClusterPlan(members=tuple(members), kind=base.kind, representative=base.representative,
                                     signature=base.signature, novel=base.novel, similar_to=base.similar_to))
        else:
            plans.append(ClusterPlan(members=tuple(members), cluster_id=int(ident)))  # type: ignore[call-overload]
    return plans


def cluster_queue(catalog: Catalog, config: ClusteringConfig = ClusteringConfig()) -> int:
    """Place every queued item that is in no cluster yet; returns how many were placed."""
    catalog.refresh_open_clusters()
    placed = 0
    while True:
        candidates = catalog.cluster_candidates(limit=config.batch, min_quality=config.min_quality)
        if not candidates:
            return placed
        plans = plan_clusters(candidates, catalog.open_cluster_signatures(), catalog.decided_signatures(), config)
        done = catalog.apply_cluster_plans(plans, candidates)
        placed += done
        if done == 0 or len(candidates) < config.batch:
            return placed

