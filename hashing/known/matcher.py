"""Match batches of hashed items against known-hash sets.

Exact digests (md5, sha1, sha256) are binary-searched in each set's persisted digest
index (``digest_index``). PDQ near matches go through each set's persisted ``SetIndex`` (opened,
not rebuilt, when the set is unchanged): an image is looked up by its PDQ, the seven
rotations and mirrorings of it, its untrimmed PDQ and its animation frames, and the
nearest wins. A video is compared in the vPDQ way with every known item of the set
(the rows sharing an ``id``): the share of its usable frames near one of the item's
frames, and the share of the item's frames near one of its frames, must both reach
``vpdq_threshold``. Each (item, set, match type) yields at most its best match; a match
takes the verdict the set maps the matched row's category to.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from catalog.decisions.records import Verdict
from catalog.known_sets.records import MatchRecord, known_row_key
from hashing.errors import KnownSetError
from hashing.frames import VPDQ_MIN_QUALITY, VPDQ_THRESHOLD, VpdqResult
from hashing.image import ImageHashes
from hashing.known.digest_index import DigestIndex
from hashing.known.schema import COLUMNS, DIGEST_COLUMNS
from hashing.known.set_index import PdqMatch, SetIndex, open_digest_index
from hashing.signals.pdq import PDQ_MATCH_THRESHOLD
from hashing.video import VideoHashes

_MATCH_ORDER = {name: rank for rank, name in enumerate((*DIGEST_COLUMNS, "pdq", "vpdq"))}
Hashes = ImageHashes | VideoHashes


@dataclass(frozen=True)
class KnownSet:
    """A normalised set file (see ``import_known_set``) and what a match in it means.

    ``category_verdicts`` maps the set's own categories to verdicts, or to ``None``:
    review. A category it does not map never produces a verdict: the match only goes to
    review as a hint. ``verdict`` applies to the rows of a set whose rows carry no
    category (``categorized`` False); in a categorised set a row without a category goes
    to review too. ``categorized`` None (a set registered before the catalog recorded
    it) counts a set with a category mapping as categorised. A ``benign`` set lists known
    harmless material (logos, emoji, site furniture): its matches keep items out of
    review as not illegal. ``category_profile`` names the profile the categories follow;
    ``held`` rows (quarantined, contested) match nothing.
    ``index_dir`` holds the set's persisted PDQ index (default: ``index/<name>`` beside
    the set file); ``content_sha256`` identifies the content the index must reflect
    (default: read from the file's metadata).
    """

    name: str
    path: Path
    verdict: Verdict | None
    pdq_threshold: int = PDQ_MATCH_THRESHOLD
    category_verdicts: Mapping[str, Verdict | None] = field(default_factory=dict)
    benign: bool = False
    content_sha256: str | None = None
    index_dir: Path | None = None
    categorized: bool | None = None
    category_profile: str | None = None
    held: frozenset[str] = frozenset()  # row keys held out of matching (see ``row_key``)

    def __post_init__(self) -> None:
        if not 0 <= self.pdq_threshold <= 256:
            raise KnownSetError(
                f"known set {self.name!r}: pdq_threshold must be 0..256, "
                f"got {self.pdq_threshold!r}"
            )

    def verdict_for(self, category: str | None) -> Verdict | None:
        """The verdict a match on a row of ``category`` gives; ``None``: review."""
        if self.benign:
            return Verdict.NOT_ILLEGAL
        if category is None:
            categorized = bool(self.category_verdicts) if self.categorized is None else self.categorized
            return None if categorized else self.verdict
        return self.category_verdicts.get(category)

    @property
    def index_folder(self) -> Path:
        return self.index_dir or Path(self.path).parent / "index" / self.name


@dataclass(frozen=True)
class _Found:
    item: int
    set_index: int
    record: MatchRecord


class Matcher:
    """Matches hashed items against a fixed list of known sets.

    ``min_quality`` (default 50, Meta's guidance) skips PDQ matching for images whose
    ``pdq_quality`` is below it, and leaves video and animation frames below it out: the
    hashes of flat, dark or tiny pictures match each other by accident, so no flat hash
    carries a match. Exact digest matches are never filtered. ``skipped`` counts, over
    the matcher's life, the images and frames left out so (``pdq_images``, ``frames``).
    """

    def __init__(
        self,
        sets: Sequence[KnownSet],
        *,
        min_quality: int = VPDQ_MIN_QUALITY,
        vpdq_threshold: float = VPDQ_THRESHOLD,
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
        self._indexes = [open_set_index(s) for s in self.sets]
        self._digests = [open_digest_index(s.index_folder, Path(s.path), _content(s)) for s in self.sets]

    def match(self, items: Sequence[Hashes]) -> list[MatchRecord]:
        """Every item's best match per set and match type, in item, set, type order."""
        if not items or not self.sets:
            return []
        self._count_skipped(items)
        found = self._match_digests(items)
        for set_index in range(len(self.sets)):
            found += self._match_images(items, set_index)
            found += self._match_videos(items, set_index)
        found.sort(key=lambda f: (f.item, f.set_index, _MATCH_ORDER[f.record.match_type]))
        return [f.record for f in found]

    def _record(
        self, item: Hashes, set_index: int, match_type: str, distance: int,
        known_id: str | None, category: str | None, *, known_hash: str | None = None,
        quality: int | None = None,
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
        )

    def _count_skipped(self, items: Sequence[Hashes]) -> None:
        for item in items:
            if isinstance(item, ImageHashes):
                self.skipped["pdq_images"] += item.pdq_quality < self.min_quality
            self.skipped["frames"] += sum(f.quality < self.min_quality for f in item.frames)

    def _match_digests(self, items: Sequence[Hashes]) -> list[_Found]:
        found = []
        for set_index, (known, digests) in enumerate(zip(self.sets, self._digests, strict=True)):
            hits: dict[tuple[int, str], np.ndarray] = {}
            for column in DIGEST_COLUMNS:
                rows = digests.lookup(column, [getattr(item, column) for item in items])
                hits.update({(n, column): r for n, r in enumerate(rows)
                             if len(r) and known_row_key(column, getattr(items[n], column)) not in known.held})
            meta = _row_meta(known, {int(r) for found_rows in hits.values() for r in found_rows})
            for (n, column), found_rows in sorted(hits.items(), key=lambda h: h[0]):
                free = [meta[int(r)] for r in found_rows if not _held_id(known, meta[int(r)][0])]
                if not free:
                    continue
                known_id, category = min(free, key=_id_order)
                record = self._record(items[n], set_index, column, 0, known_id, category,
                                      known_hash=getattr(items[n], column))
                found.append(_Found(n, set_index, record))
        return found

    def _match_images(self, items: Sequence[Hashes], set_index: int) -> list[_Found]:
        owners: list[int] = []
        queries: list[str] = []
        for n, item in enumerate(items):
            if isinstance(item, ImageHashes) and item.pdq_quality >= self.min_quality:
                for pdq in item.pdq_queries(self.min_quality):
                    owners.append(n)
                    queries.append(pdq)
        if not queries:
            return []
        known = self.sets[set_index]
        hits = [hit for hit in self._indexes[set_index].search(queries, known.pdq_threshold)
                if known_row_key("pdq", hit.pdq) not in known.held]
        rows = {pdq: [meta for meta in found if not _held_id(known, meta[0])] for pdq, found in
                _rows_by_pdq(known, self._digests[set_index], {hit.pdq for hit in hits}).items()}
        best: dict[int, PdqMatch] = {}
        for hit in hits:
            owner = owners[hit.query]
            if rows[hit.pdq] and (owner not in best or (hit.distance, hit.pdq) < (best[owner].distance,
                                                                                    best[owner].pdq)):
                best[owner] = hit
        return [
            _Found(owner, set_index, self._record(
                items[owner], set_index, "pdq", hit.distance, *rows[hit.pdq][0], known_hash=hit.pdq,
                quality=_image_quality(items[owner]),
            ))  # fmt: skip
            for owner, hit in best.items()
        ]

    def _match_videos(self, items: Sequence[Hashes], set_index: int) -> list[_Found]:
        owners: list[tuple[int, int]] = []  # (item, frame number among its usable frames)
        queries: list[str] = []
        usable: dict[int, int] = {}
        lowest: dict[int, int] = {}  # the lowest quality among an item's usable frames
        for n, candidate in enumerate(items):
            if not isinstance(candidate, VideoHashes):
                continue
            pdqs = list(dict.fromkeys(
                f.pdq for f in candidate.frames if f.quality >= self.min_quality
            ))  # fmt: skip
            usable[n] = len(pdqs)
            lowest[n] = min((f.quality for f in candidate.frames if f.quality >= self.min_quality), default=0)
            for k, pdq in enumerate(pdqs):
                owners.append((n, k))
                queries.append(pdq)
        if not queries:
            return []
        known = self.sets[set_index]
        hits = [hit for hit in self._indexes[set_index].search(queries, known.pdq_threshold)
                if known_row_key("pdq", hit.pdq) not in known.held]
        rows = _rows_by_pdq(known, self._digests[set_index], {hit.pdq for hit in hits})
        matched_frames: dict[tuple[int, str], set[int]] = defaultdict(set)
        matched_known: dict[tuple[int, str], set[str]] = defaultdict(set)
        categories: dict[str, str | None] = {}
        for hit in hits:
            item, frame = owners[hit.query]
            for known_id, category in rows[hit.pdq]:
                if known_id is None or _held_id(known, known_id):  # videos are grouped by id
                    continue
                matched_frames[item, known_id].add(frame)
                matched_known[item, known_id].add(hit.pdq)
                categories.setdefault(known_id, category)
        sizes = _frames_per_id(known, {known_id for _, known_id in matched_frames})
        best: dict[int, tuple[VpdqResult, str]] = {}
        for (item, known_id), frames in matched_frames.items():
            result = VpdqResult(
                len(frames) / usable[item],
                len(matched_known[item, known_id]) / max(1, sizes.get(known_id, 1)),
            )
            if result.matches(self.vpdq_threshold) and (
                item not in best or result.distance < best[item][0].distance
            ):
                best[item] = (result, known_id)
        return [
            _Found(item, set_index, self._record(
                items[item], set_index, "vpdq", result.distance, known_id,
                categories.get(known_id), quality=lowest[item],
            ))  # fmt: skip
            for item, (result, known_id) in best.items()
        ]


def _held_id(known: KnownSet, known_id: str | None) -> bool:
    return known_id is not None and known_row_key("id", known_id) in known.held


def _image_quality(item: Hashes) -> int | None:
    return item.pdq_quality if isinstance(item, ImageHashes) else None


def open_set_index(known: KnownSet) -> SetIndex:
    """Bring the set's persisted indexes up to date and return the PDQ one: opened when
    current, else updated (incrementally from the previous version's index) or built,
    and saved. The exact digest index is built too when this content has none, so an
    import pays for both and the first match pays for neither."""
    content = _content(known)
    index = SetIndex.open(known.index_folder, Path(known.path), content)
    open_digest_index(known.index_folder, Path(known.path), content)
    return index


def _content(known: KnownSet) -> str:
    """The set's content digest, after checking its file is a normalised set."""
    try:
        names = pq.read_schema(known.path).names
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise KnownSetError(
                f"known set {known.name!r}: {str(known.path)!r} is not a normalised "
                f"set (missing {', '.join(missing)}); import it with import_known_set"
            )
        return known.content_sha256 or _content_of(known.path)
    except (OSError, pa.ArrowException) as exc:
        raise KnownSetError(
            f"known set {known.name!r}: cannot read {str(known.path)!r}: {exc}"
        ) from exc


def _id_order(meta: tuple[str | None, str | None]) -> tuple[bool, str, bool, str]:
    """Rows by id then category, nulls last (which row a match names)."""
    known_id, category = meta
    return (known_id is None, known_id or "", category is None, category or "")


def _row_meta(known: KnownSet, rows: set[int]) -> dict[int, tuple[str | None, str | None]]:
    """``row -> (id, category)`` for these rows of the set file, reading only the row
    groups that hold them."""
    if not rows:
        return {}
    out: dict[int, tuple[str | None, str | None]] = {}
    try:
        parquet = pq.ParquetFile(known.path)
        first = 0
        for group in range(parquet.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            wanted = sorted(r - first for r in rows if first <= r < first + size)
            if wanted:
                table = parquet.read_row_group(group, columns=["id", "category"]).take(wanted)
                for r, known_id, category in zip(
                    wanted, table.column("id").to_pylist(), table.column("category").to_pylist(), strict=True
                ):
                    out[first + r] = (known_id, category)
            first += size
    except (OSError, pa.ArrowException) as exc:
        raise KnownSetError(f"known set {known.name!r}: cannot read {str(known.path)!r}: {exc}") from exc
    return out


def _content_of(path: Path) -> str:
    from hashing.known.importer import stored_content_sha256

    return stored_content_sha256(path)


def _rows_by_pdq(
    known: KnownSet, digests: DigestIndex, pdqs: set[str]
) -> dict[str, list[tuple[str | None, str | None]]]:
    """``pdq -> [(id, category), ...]`` of the set's rows with these PDQ hashes, each
    list ordered by id then category (nulls last)."""
    wanted = sorted(pdqs)
    rows = digests.lookup("pdq", wanted)
    meta = _row_meta(known, {int(r) for found in rows for r in found})
    return {
        pdq: sorted((meta[int(r)] for r in found), key=_id_order)
        for pdq, found in zip(wanted, rows, strict=True)
    }


def _frames_per_id(known: KnownSet, ids: set[str]) -> dict[str, int]:
    """How many distinct PDQ hashes (frames) each known item of the set has."""
    named = sorted(ids)
    if not named:
        return {}
    sql = (
        "SELECT id, count(DISTINCT pdq) FROM read_parquet($p) WHERE id IN "
        "(SELECT id FROM wanted) AND pdq IS NOT NULL GROUP BY id"
    )
    wanted = pa.table({"id": pa.array(named, pa.string())})
    return dict(_query(sql, {"p": str(known.path)}, {"wanted": wanted}))


def _query(sql: str, params: dict[str, str], tables: dict[str, pa.Table]) -> list[tuple]:
    with duckdb.connect() as con:
        for name, table in tables.items():
            con.register(name, table)
        try:
            return con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise KnownSetError(f"cannot look up known sets: {exc}") from exc
