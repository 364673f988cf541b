"""Match batches of hashed items against known-hash sets.

Every signal type known sets carry is looked up in each set, in registry order: an
item's hashes of that type (with their variants: PDQ's seven rotations and mirrorings,
the untrimmed picture's, an animation's frames) are searched in the set's index for the
type within the set's threshold (``KnownSet.threshold``), and the nearest wins. A type
without an index (the digests md5, sha1, sha256) is binary-searched in the set's digest
index (``digest_index``), which also finds the rows of every near hit. A video is
compared in the vPDQ way with every known item of the set (the rows sharing an ``id``),
by its frames and by each of their views (mirrored; uncut when bars were cut off): the
share of the shorter one's frames (the video's usable frames, or the item's) near a
frame of the other must reach ``vpdq_threshold`` (frames within the near distance count
too once the close ones anchor the match: the anchored known videos' frames are then
read and compared one by one), and the video's matching frames must include
``min_distinct`` that differ from each other (see ``hashing.frames``). Each (item,
set, match type) yields at most its best match, which names the variant of the item's
hash it was found by (``original``, ``rotate90``, ``untrimmed_flipy``, ``frame@2s`` ...;
none for digests) beside its distance and quality; a match takes the verdict the set
maps the matched row's category to.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from catalog.known_sets.records import MatchRecord, known_row_key
from hashing.errors import KnownSetError
from hashing.frames import (
    FRAME_SIGNAL,
    VPDQ_ANCHOR_SHARE,
    VPDQ_MIN_DISTINCT,
    VPDQ_MIN_QUALITY,
    VPDQ_THRESHOLD,
    VpdqResult,
    distinct_count,
    near_distance,
    pairwise_distances,
)
from hashing.frames import usable as usable_frames
from hashing.image import ImageHashes
from hashing.knownsets.digest_index import open_digest_index
from hashing.knownsets.known_set import KnownSet, open_set_index, set_content
from hashing.knownsets.set_rows import frames_per_id, hashes_per_id, rows_by_hash
from hashing.media import MediaHashes
from hashing.signals import IndexHit, SignalType, known_set_signal_types
from hashing.video import VideoHashes

VPDQ = "vpdq"
"""The match type of a video matched frame by frame; listed after every signal type's."""


@dataclass(frozen=True)
class _Found:
    item: int
    set_index: int
    record: MatchRecord


class Matcher:
    """Matches hashed items against a fixed list of known sets, by the signal types
    registered when it is made.

    ``min_quality`` (default 50, Meta's guidance) skips the hashes whose quality is below
    it (PDQ: images whose ``pdq_quality`` is below it) and leaves video and animation
    frames below it out: the hashes of flat, dark or tiny pictures match each other by
    accident, so no flat hash carries a match. Hashes without a quality (digests) are
    never filtered. ``skipped`` counts, over the matcher's life, the images and frames
    left out so (``pdq_images``, ``frames``).
    """

    def __init__(
        self,
        sets: Sequence[KnownSet],
        *,
        min_quality: int = VPDQ_MIN_QUALITY,
        vpdq_threshold: float = VPDQ_THRESHOLD,
        min_distinct: int = VPDQ_MIN_DISTINCT,
    ) -> None:
        names = [s.name for s in sets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise KnownSetError(
                f"known set names must be unique, repeated: {duplicates!r}"
            )
        self.sets: tuple[KnownSet, ...] = tuple(sets)
        self.min_quality = min_quality
        self.skipped: Counter[str] = Counter()
        self.vpdq_threshold = vpdq_threshold
        self.min_distinct = min_distinct
        self._signals = known_set_signal_types()
        self._order = {name: rank for rank, name in enumerate([*(s.name for s in self._signals), VPDQ])}
        self._indexes = [open_set_index(s) for s in self.sets]
        self._digests = [open_digest_index(s.index_folder, Path(s.path), set_content(s)) for s in self.sets]

    def match(self, items: Sequence[MediaHashes]) -> list[MatchRecord]:
        """Every item's best match per set and match type, in item, set, type order."""
        if not items or not self.sets:
            return []
        self._count_skipped(items)
        found: list[_Found] = []
        for set_index in range(len(self.sets)):
            for signal in self._signals:
                found += self._match_signal(items, set_index, signal)
            found += self._match_videos(items, set_index)
        found.sort(key=lambda f: (f.item, f.set_index, self._order[f.record.match_type]))
        return [f.record for f in found]

    def _record(
        self, item: MediaHashes, set_index: int, match_type: str, distance: int,
        known_id: str | None, category: str | None, *, known_hash: str | None = None,
        quality: int | None = None, variant: str | None = None,
    ) -> MatchRecord:  # fmt: skip
        known = self.sets[set_index]
        return MatchRecord(
            sha256=item.sha256,
            set_name=known.name,
            match_type=match_type,
            distance=distance,
            verdict=known.verdict_for(category),
            known_id=known_id,
            category=category,
            set_version=known.content_sha256,
            category_profile=known.category_profile,
            quality=quality,
            known_hash=known_hash,
            variant=variant,
        )

    def _count_skipped(self, items: Sequence[MediaHashes]) -> None:
        for item in items:
            if isinstance(item, ImageHashes):
                for signal in self._signals:
                    found = item.signals.get(signal.name)
                    if signal.has_quality and found is not None:
                        self.skipped[f"{signal.name}_images"] += (found.quality or 0) < self.min_quality
            self.skipped["frames"] += sum(f.quality < self.min_quality for f in item.frames)

    def _search(self, set_index: int, signal: type[SignalType], queries: list[str]) -> list[IndexHit]:
        """The set's hashes of ``signal`` within its threshold of each query; exact
        lookups in the digest index for a type without an index."""
        index = self._indexes[set_index].get(signal.name)
        if index is not None:
            return index.search(queries, self.sets[set_index].threshold(signal))
        rows = self._digests[set_index].lookup(signal.name, queries)
        return [IndexHit(n, value, 0) for n, (value, found) in enumerate(zip(queries, rows, strict=True)) if len(found)]

    def _match_signal(self, items: Sequence[MediaHashes], set_index: int, signal: type[SignalType]) -> list[_Found]:
        """Each item's nearest hash of ``signal`` in the set, on a row not held out."""
        owners: list[int] = []
        variants: list[str] = []
        queries: list[str] = []
        for n, item in enumerate(items):
            for variant, value in item.named_lookups(signal.name, self.min_quality):
                owners.append(n)
                variants.append(variant)
                queries.append(value)
        if not queries:
            return []
        known = self.sets[set_index]
        hits = [hit for hit in self._search(set_index, signal, queries)
                if known_row_key(signal.name, hit.value) not in known.held]
        rows = {value: [meta for meta in found if not _held_id(known, meta[0])] for value, found in
                rows_by_hash(known, self._digests[set_index], signal.name, {hit.value for hit in hits}).items()}
        best: dict[int, IndexHit] = {}
        for hit in hits:
            owner = owners[hit.query]
            if rows[hit.value] and (owner not in best or (hit.distance, hit.value, hit.query) < (
                    best[owner].distance, best[owner].value, best[owner].query)):
                best[owner] = hit
        return [
            _Found(owner, set_index, self._record(
                items[owner], set_index, signal.name, hit.distance, *rows[hit.value][0], known_hash=hit.value,
                quality=items[owner].signals[signal.name].quality,
                variant=variants[hit.query] if signal.match_threshold else None,
            ))  # fmt: skip
            for owner, hit in best.items()
        ]

    def _match_videos(self, items: Sequence[MediaHashes], set_index: int) -> list[_Found]:
        """Each video's nearest known video of the set, over its frames and their views
        (mirrored, uncut): the view that matches best decides."""
        owners: list[tuple[int, str, int]] = []  # (item, view, frame number among its usable frames)
        queries: list[str] = []
        usable: dict[tuple[int, str], list[str]] = {}
        lowest: dict[int, int] = {}  # the lowest quality among an item's usable frames
        for n, candidate in enumerate(items):
            if not isinstance(candidate, VideoHashes):
                continue
            lowest[n] = min((f.quality for f in candidate.frames if f.quality >= self.min_quality), default=0)
            for view, frames in (("", candidate.frames), *candidate.views.items()):
                pdqs = usable_frames(frames, self.min_quality)
                usable[n, view] = pdqs
                for k, pdq in enumerate(pdqs):
                    owners.append((n, view, k))
                    queries.append(pdq)
        if not queries:
            return []
        known = self.sets[set_index]
        signal = FRAME_SIGNAL.name
        threshold = known.threshold(FRAME_SIGNAL)
        hits = [hit for hit in self._indexes[set_index][signal].search(queries, threshold)
                if known_row_key(signal, hit.value) not in known.held]
        rows = rows_by_hash(known, self._digests[set_index], signal, {hit.value for hit in hits})
        matched_frames: dict[tuple[int, str, str], set[int]] = defaultdict(set)
        matched_known: dict[tuple[int, str, str], set[str]] = defaultdict(set)
        categories: dict[str, str | None] = {}
        for hit in hits:
            item, view, frame = owners[hit.query]
            for known_id, category in rows[hit.value]:
                if known_id is None or _held_id(known, known_id):  # videos are grouped by id
                    continue
                matched_frames[item, view, known_id].add(frame)
                matched_known[item, view, known_id].add(hit.value)
                categories.setdefault(known_id, category)
        sizes = frames_per_id(known, {known_id for _, _, known_id in matched_frames}, signal)
        results: dict[tuple[int, str, str], VpdqResult] = {}
        for (item, view, known_id), numbers in matched_frames.items():
            pdqs = usable[item, view]
            results[item, view, known_id] = VpdqResult(
                len(numbers) / len(pdqs), len(matched_known[item, view, known_id]) / max(1, sizes.get(known_id, 1)),
                len(pdqs), max(1, sizes.get(known_id, 1)), distinct_count([pdqs[k] for k in sorted(numbers)]),
            )  # fmt: skip
        # near frames count only for an anchored clip (``hashing.frames``): those few pairs are
        # compared frame by frame with the known video's hashes, not searched for in the index
        anchored = [key for key, result in results.items() if not result.matches(self.vpdq_threshold, self.min_distinct)
                    and result.shorter_share >= VPDQ_ANCHOR_SHARE and result.distinct >= self.min_distinct]
        known_frames = hashes_per_id(known, {known_id for _, _, known_id in anchored}, signal)
        for item, view, known_id in anchored:
            theirs = [pdq for pdq in known_frames.get(known_id, []) if known_row_key(signal, pdq) not in known.held]
            if theirs:
                near = pairwise_distances(usable[item, view], theirs) <= near_distance(threshold)
                results[item, view, known_id] = replace(
                    results[item, view, known_id], query_near_share=float(near.any(axis=1).mean()),
                    target_near_share=float(near.any(axis=0).sum()) / results[item, view, known_id].target_frames,
                )  # fmt: skip
        best: dict[int, tuple[VpdqResult, str]] = {}
        for (item, _view, known_id), result in results.items():
            if result.matches(self.vpdq_threshold, self.min_distinct) and (
                item not in best or result.distance < best[item][0].distance
            ):
                best[item] = (result, known_id)
        return [
            _Found(item, set_index, self._record(
                items[item], set_index, VPDQ, result.distance, known_id,
                categories.get(known_id), quality=lowest[item],
            ))  # fmt: skip
            for item, (result, known_id) in best.items()
        ]


def _held_id(known: KnownSet, known_id: str | None) -> bool:
    return known_id is not None and known_row_key("id", known_id) in known.held
