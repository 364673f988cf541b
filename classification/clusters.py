"""Clustering the review queue: near-duplicate queued items are decided together.

Leader clustering: each new item joins the open cluster whose representative is nearest
within the threshold, or founds a cluster of its own (and is its representative). A new
cluster near an item that was already decided is marked *not new* (``novel`` False) and
points at that item, so the queue can put new content first.

Images (and any item with a PDQ hash) compare by PDQ Hamming distance. Videos compare the
vPDQ way, over the per-frame PDQ hashes the catalog keeps (``frame_hashes``): the share of
one video's frames that have a frame of the other within the PDQ threshold, both ways.
Items without a usable signature stay alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from catalog.catalog import Catalog
from catalog.decisions.records import ClusterCandidate, ClusterPlan

DEFAULT_PDQ_THRESHOLD = 31
"""PDQ distance at which two pictures count as the same picture (Meta's recommendation)."""

def pdq_matrix(hex_hashes: Sequence[str]) -> np.ndarray:
    """PDQ hex strings as an (n, 32) uint8 array."""
    if not hex_hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hex_hashes)), dtype=np.uint8).reshape(len(hex_hashes), 32)


def pdq_distances(one: str, many: np.ndarray) -> np.ndarray:
    """Hamming distance from PDQ ``one`` to every row of ``many``."""
    if len(many) == 0:
        return np.zeros(0, dtype=np.int64)
    query = np.frombuffer(bytes.fromhex(one), dtype=np.uint64)  # 4 words, compared as words
    words = np.ascontiguousarray(many).view(np.uint64)
    return np.bitwise_count(words ^ query).sum(axis=1, dtype=np.int64)


class PdqGroups:
    """A growing set of PDQ hashes with an ID each, searched for the nearest one. Rows
    live in an array that doubles when full, so adding n hashes copies O(n) bytes (a
    clustering run adds one after nearly every search)."""

    def __init__(self, entries: Sequence[tuple[object, str]] = ()) -> None:
        self.ids: list[object] = [i for i, _ in entries]
        rows = pdq_matrix([h for _, h in entries])
        self._rows = np.zeros((max(64, len(rows)), 32), dtype=np.uint8)
        self._rows[: len(rows)] = rows
        self._size = len(rows)

    def add(self, ident: object, pdq: str) -> None:
        if self._size == len(self._rows):
            grown = np.zeros((2 * len(self._rows), 32), dtype=np.uint8)
            grown[: self._size] = self._rows
            self._rows = grown
        self._rows[self._size] = np.frombuffer(bytes.fromhex(pdq), dtype=np.uint8)
        self._size += 1
        self.ids.append(ident)

    def nearest(self, pdq: str, threshold: int) -> tuple[object, int] | None:
        distances = pdq_distances(pdq, self._rows[: self._size])
        if distances.size == 0:
            return None
        best = int(distances.argmin())
        return (self.ids[best], int(distances[best])) if distances[best] <= threshold else None


FrameCompare = Callable[[str, str], int | None]
"""Comparison of two videos by SHA-256: a distance 0..100 when they match, else None."""


@dataclass(frozen=True)
class ClusteringConfig:
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD
    min_quality: int = 50  # PDQ quality below which a picture or frame is not compared
    vpdq_share: float = 0.8  # share of frames, both ways, that makes two videos the same
    video_compare: FrameCompare | None = None  # default: vPDQ over the catalog's frame hashes
    batch: int = 10_000


def vpdq_distance(a: Sequence[tuple[str, int]], b: Sequence[tuple[str, int]], *, threshold: int,
                  min_quality: int, share: float) -> int | None:
    """Meta's vPDQ over two videos' (PDQ, quality) frames: the share of one video's usable
    frames with a frame of the other within ``threshold``, in both directions. Returns
    100 x (1 - the smaller share) when both reach ``share``, else None. The same measure as
    ``hashing.frames.compare_frames`` (classification does not import hashing)."""
    usable_a = list(dict.fromkeys(p for p, q in a if q >= min_quality))
    usable_b = list(dict.fromkeys(p for p, q in b if q >= min_quality))
    if not usable_a or not usable_b:
        return None
    rows = pdq_matrix(usable_b)
    near = np.stack([pdq_distances(h, rows) for h in usable_a]) <= threshold
    weaker = min(float(near.any(axis=1).mean()), float(near.any(axis=0).mean()))
    return int(round(100 * (1 - weaker))) if weaker >= share else None


class CatalogFrames:
    """vPDQ between videos by SHA-256, reading their frame hashes from the catalog once."""

    def __init__(self, catalog: Catalog, config: ClusteringConfig) -> None:
        self.catalog, self.config = catalog, config
        self._frames: dict[str, list[tuple[str, int]]] = {}

    def __call__(self, a: str, b: str) -> int | None:
        missing = [s for s in (a, b) if s not in self._frames]
        if missing:
            found = self.catalog.frame_hashes_of(missing)
            for sha in missing:
                self._frames[sha] = [(f.pdq, f.quality) for f in found.get(sha, [])]
        return vpdq_distance(self._frames[a], self._frames[b], threshold=self.config.pdq_threshold,
                             min_quality=self.config.min_quality, share=self.config.vpdq_share)


@dataclass
class _Open:
    """Open clusters of one kind while a run places items."""

    pdq: PdqGroups = field(default_factory=PdqGroups)
    videos: list[tuple[object, str]] = field(default_factory=list)  # (cluster, representative)


def plan_clusters(
    candidates: Sequence[ClusterCandidate],
    open_clusters: Sequence[tuple[int, str, str | None, str]],
    decided: Sequence[tuple[str, str]],
    config: ClusteringConfig = ClusteringConfig(),
) -> list[ClusterPlan]:
    """Where each candidate goes: pure, so it can be tested without a catalog."""
    by_kind: dict[str, _Open] = {}
    for cluster_id, kind, signature, representative in open_clusters:
        groups = by_kind.setdefault(kind, _Open())
        if signature:
            groups.pdq.add(cluster_id, signature)
        if kind == "video":
            groups.videos.append((cluster_id, representative))
    seen_before = PdqGroups(decided)
    joins: dict[object, list[tuple[str, int | None]]] = {}
    fresh: dict[object, ClusterPlan] = {}
    for item in candidates:
        groups = by_kind.setdefault(item.kind, _Open())
        hit: tuple[object, int] | None = None
        if item.kind == "video" and config.video_compare is not None:
            hit = next(((key, d) for key, rep in groups.videos
                        if (d := config.video_compare(item.sha256, rep)) is not None), None)
        if hit is None and item.signature:
            hit = groups.pdq.nearest(item.signature, config.pdq_threshold)
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
        if item.kind == "video":
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
    if config.video_compare is None:
        config = replace(config, video_compare=CatalogFrames(catalog, config))
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

