"""Clustering the review queue: near-duplicate queued items are decided together.

Leader clustering: each new item joins the open cluster whose representative shows the
same picture, or founds a cluster of its own (and is its representative). A new cluster
that shows the same picture as an item already decided is marked *not new* (``novel``
False) and points at that item (``similar_to``, with the evidence), so the analyst confirms
that decision instead of grading again, and the queue can put new content first.

Pictures compare in two stages, each through an index (``cluster_index``), never against
every open cluster: PDQ within the threshold, of the item or of one of its rotations and
mirrorings (the dihedral variants hashing stores); then, for what a crop, a small rotation
or a caption moves too far for PDQ, local features with geometric verification (injected:
``verify`` and ``extract``, see ``hashing.local_features``). Each member records why it
joined (stage, variant and distance, or inliers, and the member it matched). Videos compare the
vPDQ way, over the per-frame PDQ hashes the catalog keeps (``frame_hashes``): the share of
one video's frames that have a frame of the other within the PDQ threshold, both ways.
Items without a usable signature stay alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from catalog.catalog import Catalog
from catalog.decisions.records import ClusterCandidate, ClusterPlan, LocalFeatures
from classification.cluster_index import PdqIndex, WordIndex

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


FrameCompare = Callable[[str, str], int | None]
"""Comparison of two videos by SHA-256: a distance 0..100 when they match, else None."""

LocalVerify = Callable[[LocalFeatures, LocalFeatures], int | None]
"""Geometric verification of two pictures' local features: the inlier count when they show
the same picture, else None (``hashing.local_features.verify``)."""

LocalExtract = Callable[[Sequence[str]], Mapping[str, LocalFeatures]]
"""The local features of stored pictures by SHA-256 (those that cannot be read are left out)."""


@dataclass(frozen=True)
class ClusteringConfig:
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD
    min_quality: int = 50  # PDQ quality below which a picture or frame is not compared
    vpdq_share: float = 0.8  # share of frames, both ways, that makes two videos the same
    video_compare: FrameCompare | None = None  # default: vPDQ over the catalog's frame hashes
    batch: int = 10_000
    dihedral: bool = True  # also compare an item's rotations and mirrorings (its stored PDQ variants)
    verify: LocalVerify | None = None  # second stage: local features with geometric verification
    extract: LocalExtract | None = None  # the local features of queued pictures, from the evidence
    local_candidates: int = 16  # clusters a picture is verified against, the likeliest first


def vpdq_distance(a: Sequence[tuple[str, int]], b: Sequence[tuple[str, int]], *, threshold: int,
                  min_quality: int, share: float, min_distinct: int = 3) -> int | None:
    """vPDQ over two videos' (PDQ, quality) frames, by the shorter clip (an excerpt joins its
    source): the share of the shorter clip's usable frames with a frame of the other within
    ``threshold`` (the larger share when both have as many). Returns 100 x (1 - that share)
    when it reaches ``share`` and the matching frames hold at least ``min_distinct`` that
    differ from each other (blank or still frames cannot carry a match), else None. The same
    rule as ``hashing.frames.compare_frames`` (classification does not import hashing)."""
    usable_a = list(dict.fromkeys(p for p, q in a if q >= min_quality))
    usable_b = list(dict.fromkeys(p for p, q in b if q >= min_quality))
    if not usable_a or not usable_b:
        return None
    rows = pdq_matrix(usable_b)
    near = np.stack([pdq_distances(h, rows) for h in usable_a]) <= threshold
    by_a, by_b = near.any(axis=1), near.any(axis=0)
    use_a = (len(usable_a) < len(usable_b) if len(usable_a) != len(usable_b)
             else float(by_a.mean()) >= float(by_b.mean()))
    shorter, matched = (float(by_a.mean()), [usable_a[n] for n in np.flatnonzero(by_a)]) if use_a \
        else (float(by_b.mean()), [usable_b[n] for n in np.flatnonzero(by_b)])
    if shorter < share or _distinct(matched, threshold, min_distinct) < min_distinct:
        return None
    return int(round(100 * (1 - shorter)))


def _distinct(pdqs: Sequence[str], threshold: int, enough: int) -> int:
    """How many of ``pdqs`` are more than ``threshold`` apart (greedily, up to ``enough``)."""
    kept: list[str] = []
    for pdq in pdqs:
        if not kept or int(pdq_distances(pdq, pdq_matrix(kept)).min()) > threshold:
            kept.append(pdq)
            if len(kept) >= enough:
                break
    return len(kept)


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


FACES_PER_CLUSTER = 8
"""Members of a cluster a new item is compared with (the representative and the first who
joined it): a copy matches any of them, so a turned crop joins through the crop."""


@dataclass
class _Open:
    """Open clusters of one kind while a run places items, indexed by their faces."""

    pdq: PdqIndex = field(default_factory=PdqIndex)
    words: WordIndex = field(default_factory=WordIndex)
    videos: list[tuple[object, str]] = field(default_factory=list)  # (cluster, representative)
    cluster_of: dict[str, object] = field(default_factory=dict)  # face -> its cluster
    faces: dict[object, int] = field(default_factory=dict)  # cluster -> how many faces

    def add(self, cluster: object, sha256: str, pdq: str | None, features: LocalFeatures | None) -> None:
        if self.faces.get(cluster, 0) >= FACES_PER_CLUSTER or sha256 in self.cluster_of:
            return
        self.faces[cluster] = self.faces.get(cluster, 0) + 1
        self.cluster_of[sha256] = cluster
        if pdq:
            self.pdq.add(sha256, pdq)
        if features is not None:
            self.words.add(sha256, features.descriptors)


Evidence = dict[str, object]
Hit = tuple[str, int, Evidence]  # the face matched, the distance, the evidence


class _Placer:
    """Finds, for one item, a face (member of an open cluster, or decided item) that shows
    the same picture."""

    def __init__(self, config: ClusteringConfig, features: Mapping[str, LocalFeatures]) -> None:
        self.config, self.features = config, features

    def by_pdq(self, item: ClusterCandidate, index: PdqIndex) -> Hit | None:
        if not item.signature:
            return None
        variants = [("original", item.signature), *(item.variants if self.config.dihedral else ())]
        hit = index.nearest([v for _, v in variants], self.config.pdq_threshold)
        if hit is None:
            return None
        face, distance, which = hit
        return str(face), distance, {"stage": "pdq", "variant": variants[which][0], "distance": distance,
                                     "matched": str(face)}

    def by_features(self, item: ClusterCandidate, index: WordIndex, cluster_of: Mapping[str, object]) -> Hit | None:
        verify = self.config.verify
        mine = self.features.get(item.sha256)
        if verify is None or mine is None or not mine.descriptors:
            return None
        best: tuple[int, str] | None = None
        verified: set[object] = set()
        for face in index.ranked(mine.descriptors, limit=self.config.local_candidates):
            # one verified face speaks for its cluster (the likeliest comes first): the
            # verification is the costly step, and a cluster's faces are often all ranked
            group = cluster_of.get(str(face), face)
            if group in verified:
                continue
            theirs = self.features.get(str(face))
            inliers = verify(mine, theirs) if theirs is not None else None
            if inliers is not None:
                verified.add(group)
            if inliers is not None and (best is None or inliers > best[0]):
                best = (inliers, str(face))
        if best is None:
            return None
        return best[1], 0, {"stage": "local", "inliers": best[0], "matched": best[1]}

    def find(self, item: ClusterCandidate, pdq: PdqIndex, words: WordIndex,
             cluster_of: Mapping[str, object]) -> Hit | None:
        return self.by_pdq(item, pdq) or self.by_features(item, words, cluster_of)


def plan_clusters(
    candidates: Sequence[ClusterCandidate],
    open_clusters: Sequence[tuple[int, str, str | None, str]],
    decided: Sequence[tuple[str, str]],
    config: ClusteringConfig = ClusteringConfig(),
    features: Mapping[str, LocalFeatures] | None = None,
    decided_local: Sequence[str] = (),
) -> list[ClusterPlan]:
    """Where each candidate goes: pure, so it can be tested without a catalog.

    ``open_clusters`` are faces of open clusters: (cluster ID, kind, PDQ, member), the
    representative first (several rows may name one cluster); ``decided`` the (SHA-256, PDQ)
    of decided items; ``features`` the local features of candidates, faces and the decided
    items ``decided_local`` (used when ``config.verify`` is set). An item joins the open
    cluster with a face within the PDQ threshold of the item or of one of its rotations and
    mirrorings, else one with a face it verifies against by local features; else it founds
    a cluster, which is not new when it matches an item already decided (the same stages).
    """
    features = features or {}
    place = _Placer(config, features)
    by_kind: dict[str, _Open] = {}
    for cluster_id, kind, signature, member in open_clusters:
        groups = by_kind.setdefault(kind, _Open())
        if kind == "video" and cluster_id not in groups.faces:
            groups.videos.append((cluster_id, member))
        groups.add(cluster_id, member, signature, features.get(member))
    seen_pdq, seen_words = PdqIndex(), WordIndex()
    for sha256, pdq in decided:
        seen_pdq.add(sha256, pdq)
    for sha256 in decided_local:
        if sha256 in features:
            seen_words.add(sha256, features[sha256].descriptors)
    joins: dict[object, list[tuple[str, int | None]]] = {}
    evidence: dict[str, Evidence] = {}
    fresh: dict[object, ClusterPlan] = {}
    for item in candidates:
        groups = by_kind.setdefault(item.kind, _Open())
        cluster: object | None = None
        if item.kind == "video" and config.video_compare is not None:
            video = next(((key, d, rep) for key, rep in groups.videos
                          if (d := config.video_compare(item.sha256, rep)) is not None), None)
            if video is not None:
                cluster = video[0]
                joins.setdefault(cluster, []).append((item.sha256, video[1]))
                evidence[item.sha256] = {"stage": "vpdq", "distance": video[1], "matched": video[2]}
                continue
        hit = place.find(item, groups.pdq, groups.words, groups.cluster_of)
        if hit is not None:
            cluster = groups.cluster_of[hit[0]]
            joins.setdefault(cluster, []).append((item.sha256, hit[1]))
            evidence[item.sha256] = hit[2]
            groups.add(cluster, item.sha256, item.signature, features.get(item.sha256))
            continue
        near = place.find(item, seen_pdq, seen_words, {})
        key = ("new", item.sha256)
        fresh[key] = ClusterPlan(members=(), kind=item.kind, representative=item.sha256, signature=item.signature,
                                 novel=near is None, similar_to=near[0] if near else None,
                                 similar_evidence=near[2] if near else None)
        joins[key] = [(item.sha256, 0)]
        if item.kind == "video":
            groups.videos.append((key, item.sha256))
        groups.add(key, item.sha256, item.signature, features.get(item.sha256))
    plans = []
    for ident, members in joins.items():
        why = {s: evidence[s] for s, _ in members if s in evidence}
        if ident in fresh:
            plans.append(replace(fresh[ident], members=tuple(members), evidence=why))
        else:
            plans.append(ClusterPlan(members=tuple(members), cluster_id=int(ident), evidence=why))  # type: ignore[call-overload]
    return plans


def _local_features(catalog: Catalog, config: ClusteringConfig, candidates: Sequence[ClusterCandidate],
                    open_clusters: Sequence[tuple[int, str, str | None, str]]) -> tuple[dict[str, LocalFeatures], list[str]]:
    """The local features clustering compares: the candidates' (extracted from the evidence
    once and kept), the open clusters' representatives' and the decided pictures'."""
    if config.verify is None:
        return {}, []
    pictures = [c.sha256 for c in candidates if c.kind == "image"]
    found = catalog.local_features(pictures)
    missing = [s for s in pictures if s not in found]
    if missing and config.extract is not None:
        extracted = dict(config.extract(missing))
        catalog.add_local_features(list(extracted.values()))
        found |= extracted
    found |= catalog.local_features([face for _, kind, _, face in open_clusters if kind == "image"])
    decided = catalog.decided_local_features()
    return found | decided, list(decided)


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
        open_clusters = catalog.open_cluster_faces(FACES_PER_CLUSTER)
        features, decided_local = _local_features(catalog, config, candidates, open_clusters)
        plans = plan_clusters(candidates, open_clusters, catalog.decided_signatures(), config, features, decided_local)
        done = catalog.apply_cluster_plans(plans, candidates)
        placed += done
        if done == 0 or len(candidates) < config.batch:
            return placed
