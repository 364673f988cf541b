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
    faces: dict[object, list[str]] = field(default_factory=dict)  # cluster -> its faces

    def add(self, cluster: object, sha256: str, pdq: str | None, features: LocalFeatures | None) -> bool:
        """File ``sha256`` as a face of ``cluster``; False when the cluster has its faces already."""
        faces = self.faces.setdefault(cluster, [])
        if len(faces) >= FACES_PER_CLUSTER or sha256 in self.cluster_of:
            return False
        faces.append(sha256)
        self.cluster_of[sha256] = cluster
        if pdq:
            self.pdq.add(sha256, pdq)
        if features is not None:
            self.words.add(sha256, features.descriptors)
        return True

    def drop(self, cluster: object) -> None:
        """Withdraw a cluster's faces (it was decided, or never stored)."""
        for face in self.faces.pop(cluster, []):
            del self.cluster_of[face]
            self.pdq.discard(face)
            self.words.discard(face)
        self.videos = [(c, rep) for c, rep in self.videos if c != cluster]

    def rename(self, old: object, new: int) -> None:
        """A new cluster's key once the catalog has given it an ID."""
        self.faces[new] = self.faces.pop(old)
        for face in self.faces[new]:
            self.cluster_of[face] = new
        self.videos = [(new if c == old else c, rep) for c, rep in self.videos]


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
        """The face the item verifies against by local features, the likeliest first; else
        the one its mirror image does (a mirrored copy's keypoints describe other patches)."""
        mine = self.features.get(item.sha256)
        if self.config.verify is None or mine is None:
            return None
        hit = self._verified(mine, index, cluster_of)
        if hit is None and mine.mirrored is not None:
            hit = self._verified(mine.mirrored, index, cluster_of)
            if hit is not None:
                hit[2]["variant"] = "mirror"
        return hit

    def _verified(self, mine: LocalFeatures, index: WordIndex, cluster_of: Mapping[str, object]) -> Hit | None:
        verify = self.config.verify
        if verify is None or not mine.descriptors:
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


class Clustering:
    """One clustering run: the faces of the open clusters and the decided items, indexed
    once when the run starts, then kept up to date as each batch is placed (``plan``, then
    ``settle`` with the IDs the catalog gave the new clusters). No batch rebuilds an index.

    ``open_clusters`` are faces of open clusters: (cluster ID, kind, PDQ, member), the
    representative first (several rows may name one cluster); ``decided`` the (SHA-256, PDQ)
    of decided items; ``features`` the local features of faces and of the decided items
    ``decided_local`` (used when ``config.verify`` is set)."""

    def __init__(self, open_clusters: Sequence[tuple[int, str, str | None, str]], decided: Sequence[tuple[str, str]],
                 config: ClusteringConfig = ClusteringConfig(), features: Mapping[str, LocalFeatures] | None = None,
                 decided_local: Sequence[str] = ()) -> None:
        self.config = config
        features = features or {}
        # only faces' and decided pictures' features are kept between batches: a placed item
        # that is no face is never compared again
        self.features: dict[str, LocalFeatures] = {}
        self.by_kind: dict[str, _Open] = {}
        for cluster_id, kind, signature, member in open_clusters:
            groups = self._groups(kind)
            if kind == "video" and cluster_id not in groups.faces:
                groups.videos.append((cluster_id, member))
            if groups.add(cluster_id, member, signature, features.get(member)) and member in features:
                self.features[member] = features[member]
        self.seen_pdq, self.seen_words = PdqIndex(), WordIndex()
        for sha256, pdq in decided:
            self.seen_pdq.add(sha256, pdq)
        for sha256 in decided_local:
            if sha256 in features:
                self.seen_words.add(sha256, features[sha256].descriptors)
                self.features[sha256] = features[sha256]
        self._fresh: list[tuple[str, object]] = []  # (kind, key) of the last batch's new clusters

    def plan(self, candidates: Sequence[ClusterCandidate],
             features: Mapping[str, LocalFeatures] | None = None) -> list[ClusterPlan]:
        """Where each candidate goes (``features``: the candidates' local features). An item
        joins the open cluster with a face within the PDQ threshold of the item or of one of
        its rotations and mirrorings, else one with a face it verifies against by local
        features; else it founds a cluster, which is not new when it matches an item already
        decided (the same stages)."""
        config = self.config
        batch = {**self.features, **(features or {})}
        place = _Placer(config, batch)
        joins: dict[object, list[tuple[str, int | None]]] = {}
        evidence: dict[str, Evidence] = {}
        fresh: dict[object, ClusterPlan] = {}
        self._fresh = []
        for item in candidates:
            groups = self._groups(item.kind)
            mine = batch.get(item.sha256)
            if item.kind == "video" and config.video_compare is not None:
                video = next(((key, d, rep) for key, rep in groups.videos
                              if (d := config.video_compare(item.sha256, rep)) is not None), None)
                if video is not None:
                    joins.setdefault(video[0], []).append((item.sha256, video[1]))
                    evidence[item.sha256] = {"stage": "vpdq", "distance": video[1], "matched": video[2]}
                    continue
            hit = place.find(item, groups.pdq, groups.words, groups.cluster_of)
            if hit is not None:
                cluster = groups.cluster_of[hit[0]]
                joins.setdefault(cluster, []).append((item.sha256, hit[1]))
                evidence[item.sha256] = hit[2]
                if groups.add(cluster, item.sha256, item.signature, mine) and mine is not None:
                    self.features[item.sha256] = _kept(mine)
                continue
            near = place.find(item, self.seen_pdq, self.seen_words, {})
            key = ("new", item.sha256)
            fresh[key] = ClusterPlan(members=(), kind=item.kind, representative=item.sha256, signature=item.signature,
                                     novel=near is None, similar_to=near[0] if near else None,
                                     similar_evidence=near[2] if near else None)
            self._fresh.append((item.kind, key))
            joins[key] = [(item.sha256, 0)]
            if item.kind == "video":
                groups.videos.append((key, item.sha256))
            if groups.add(key, item.sha256, item.signature, mine) and mine is not None:
                self.features[item.sha256] = _kept(mine)
        plans = []
        for ident, members in joins.items():
            why = {s: evidence[s] for s, _ in members if s in evidence}
            if ident in fresh:
                plans.append(replace(fresh[ident], members=tuple(members), evidence=why))
            else:
                plans.append(ClusterPlan(members=tuple(members), cluster_id=int(ident), evidence=why))  # type: ignore[call-overload]
        return plans

    def settle(self, new_ids: Mapping[str, int]) -> None:
        """The last batch's new clusters by their IDs in the catalog (``new_ids``: cluster ID
        by representative); one the catalog did not store leaves the index, so no later item
        is placed in a cluster that does not exist."""
        for kind, key in self._fresh:
            groups = self.by_kind[kind]
            representative = str(key[1])  # type: ignore[index]
            if representative in new_ids:
                groups.rename(key, new_ids[representative])
            else:
                self._forget(groups, key)
        self._fresh = []

    def keep_open(self, open_ids: set[int]) -> None:
        """Withdraw the faces of clusters no longer open (decided since the run began)."""
        for groups in self.by_kind.values():
            for cluster in [c for c in groups.faces if isinstance(c, int) and c not in open_ids]:
                self._forget(groups, cluster)

    def _groups(self, kind: str) -> _Open:
        if kind not in self.by_kind:  # not setdefault: an index's tables are not free to make
            self.by_kind[kind] = _Open()
        return self.by_kind[kind]

    def _forget(self, groups: _Open, cluster: object) -> None:
        for face in groups.faces.get(cluster, []):
            self.features.pop(face, None)
        groups.drop(cluster)


def _kept(features: LocalFeatures) -> LocalFeatures:
    """A face's features as kept for the run: a later item is compared with the face
    itself, its own mirror image standing for the face's."""
    return replace(features, mirrored=None) if features.mirrored is not None else features


def plan_clusters(
    candidates: Sequence[ClusterCandidate],
    open_clusters: Sequence[tuple[int, str, str | None, str]],
    decided: Sequence[tuple[str, str]],
    config: ClusteringConfig = ClusteringConfig(),
    features: Mapping[str, LocalFeatures] | None = None,
    decided_local: Sequence[str] = (),
) -> list[ClusterPlan]:
    """Where each candidate goes, in one batch (``Clustering``): pure, so it can be tested
    without a catalog. ``features`` hold the candidates' local features as well."""
    return Clustering(open_clusters, decided, config, features, decided_local).plan(candidates, features)


def _candidate_features(catalog: Catalog, config: ClusteringConfig,
                        candidates: Sequence[ClusterCandidate]) -> dict[str, LocalFeatures]:
    """The candidates' local features (extracted from the evidence once and kept)."""
    if config.verify is None:
        return {}
    pictures = [c.sha256 for c in candidates if c.kind == "image"]
    found = catalog.local_features(pictures)
    missing = [s for s in pictures if s not in found]
    if missing and config.extract is not None:
        extracted = dict(config.extract(missing))
        catalog.add_local_features(list(extracted.values()))
        found |= extracted
    return found


def _face_features(catalog: Catalog, config: ClusteringConfig,
                   open_clusters: Sequence[tuple[int, str, str | None, str]]) -> tuple[dict[str, LocalFeatures], list[str]]:
    """The local features of the open clusters' faces and of the decided pictures, read once a run."""
    if config.verify is None:
        return {}, []
    found = catalog.local_features([face for _, kind, _, face in open_clusters if kind == "image"])
    decided = catalog.decided_local_features()
    return found | decided, list(decided)


def cluster_queue(catalog: Catalog, config: ClusteringConfig = ClusteringConfig()) -> int:
    """Place every queued item that is in no cluster yet; returns how many were placed. The
    open clusters and decided items are read and indexed once; each batch then only reads
    its own items, and the clusters it makes are filed into the same indexes."""
    if config.video_compare is None:
        config = replace(config, video_compare=CatalogFrames(catalog, config))
    catalog.refresh_open_clusters()
    open_clusters = catalog.open_cluster_faces(FACES_PER_CLUSTER)
    run = Clustering(open_clusters, catalog.decided_signatures(), config, *_face_features(catalog, config, open_clusters))
    placed = 0
    while True:
        candidates = catalog.cluster_candidates(limit=config.batch, min_quality=config.min_quality)
        if not candidates:
            return placed
        if placed:  # an analyst may have decided clusters while the last batch was placed
            run.keep_open({cid for cid, _, _, _ in catalog.open_cluster_signatures()})
        plans = run.plan(candidates, _candidate_features(catalog, config, candidates))
        stored = catalog.apply_cluster_plans(plans, candidates)
        run.settle({plan.representative: cid for plan, cid in zip(plans, stored.cluster_ids, strict=True)
                    if plan.cluster_id is None and plan.representative and cid is not None})
        placed += stored.placed
        if stored.placed == 0 or len(candidates) < config.batch:
            return placed
