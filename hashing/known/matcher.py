"""Match batches of image hashes against known-hash sets.

Exact digests (md5, sha1, sha256) are looked up in one DuckDB query over all the sets'
Parquet files; PDQ near matches go through one ``PdqIndex`` per set, built when the
``Matcher`` is created. Each (item, set, match type) yields at most its best match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from catalog.records import MatchRecord, Verdict
from hashing.errors import KnownSetError
from hashing.image import ImageHashes
from hashing.known.pdq_index import PdqIndex
from hashing.known.schema import COLUMNS, DIGEST_COLUMNS
from hashing.signals.pdq import PDQ_MATCH_THRESHOLD

_MATCH_ORDER = {name: rank for rank, name in enumerate((*DIGEST_COLUMNS, "pdq"))}


@dataclass(frozen=True)
class KnownSet:
    """A normalised set file (see ``import_known_set``) and what a match in it means."""

    name: str
    path: Path
    verdict: Verdict
    pdq_threshold: int = PDQ_MATCH_THRESHOLD

    def __post_init__(self) -> None:
        if not 0 <= self.pdq_threshold <= 256:
            raise KnownSetError(
                f"known set {self.name!r}: pdq_threshold must be 0..256, "
                f"got {self.pdq_threshold!r}"
            )


@dataclass(frozen=True)
class _PdqEntries:
    index: PdqIndex
    ids: list[str | None]
    categories: list[str | None]


class Matcher:
    """Matches ``ImageHashes`` against a fixed list of known sets.

    ``min_quality`` (default 0: no filter) skips PDQ matching for items whose
    ``pdq_quality`` is below it; Meta suggests 50, since low-quality hashes of flat or
    tiny images match each other by accident. Exact digest matches are never filtered.
    """

    def __init__(self, sets: Sequence[KnownSet], *, min_quality: int = 0) -> None:
        names = [s.name for s in sets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise KnownSetError(
                f"known set names must be unique, repeated: {duplicates!r}"
            )
        self.sets: tuple[KnownSet, ...] = tuple(sets)
        self.min_quality = min_quality
        self._pdq = [_load_pdq(s) for s in self.sets]

    def match(self, items: Sequence[ImageHashes]) -> list[MatchRecord]:
        """Every item's best match per set and match type, in item, set, type order."""
        if not items or not self.sets:
            return []
        found = self._match_digests(items) + self._match_pdq(items)
        found.sort(key=lambda hit: (hit[0], hit[1], _MATCH_ORDER[hit[2].match_type]))
        return [record for _, _, record in found]

    def _record(
        self,
        item: ImageHashes,
        set_index: int,
        match_type: str,
        distance: int,
        known_id: str | None,
        category: str | None,
    ) -> MatchRecord:
        known = self.sets[set_index]
        return MatchRecord(
            sha256=item.sha256,
            set_name=known.name,
            match_type=match_type,
            distance=distance,
            verdict=known.verdict,
            known_id=known_id,
            category=category,
        )

    def _match_digests(
        self, items: Sequence[ImageHashes]
    ) -> list[tuple[int, int, MatchRecord]]:
        query = pa.table(
            {
                "item": pa.array(range(len(items)), pa.int64()),
                **{
                    c: pa.array([getattr(i, c) for i in items], pa.string())
                    for c in DIGEST_COLUMNS
                },
            }
        )
        columns = ", ".join((*DIGEST_COLUMNS, "id", "category"))
        known = " UNION ALL ".join(
            f"SELECT {n} AS set_index, {columns} FROM read_parquet($p{n})"
            for n in range(len(self.sets))
        )
        joins = " UNION ALL ".join(
            f"SELECT q.item, k.set_index, '{c}' AS match_type, k.id, k.category "
            f"FROM q JOIN known AS k ON k.{c} = q.{c}"
            for c in DIGEST_COLUMNS
        )
        sql = (
            f"WITH known AS ({known}), hits AS ({joins}) "
            "SELECT item, set_index, match_type, id, category FROM hits "
            "QUALIFY row_number() OVER (PARTITION BY item, set_index, match_type "
            "ORDER BY id NULLS LAST, category NULLS LAST) = 1"
        )
        params = {f"p{n}": str(s.path) for n, s in enumerate(self.sets)}
        with duckdb.connect() as con:
            con.register("q", query)
            try:
                rows = con.execute(sql, params).fetchall()
            except duckdb.Error as exc:
                raise KnownSetError(f"cannot look up known sets: {exc}") from exc
        return [
            (
                item,
                set_index,
                self._record(items[item], set_index, kind, 0, known_id, category),
            )
            for item, set_index, kind, known_id, category in rows
        ]

    def _match_pdq(
        self, items: Sequence[ImageHashes]
    ) -> list[tuple[int, int, MatchRecord]]:
        positions = [
            n for n, i in enumerate(items) if i.pdq_quality >= self.min_quality
        ]
        hashes = [items[n].pdq for n in positions]
        found = []
        for set_index, (known, entries) in enumerate(
            zip(self.sets, self._pdq, strict=True)
        ):
            for position, hits in zip(
                positions, entries.index.query(hashes, known.pdq_threshold), strict=True
            ):
                if hits:
                    best = hits[0]
                    found.append(
                        (
                            position,
                            set_index,
                            self._record(
                                items[position],
                                set_index,
                                "pdq",
                                best.distance,
                                entries.ids[best.index],
                                entries.categories[best.index],
                            ),
                        )
                    )
        return found


def _load_pdq(known: KnownSet) -> _PdqEntries:
    try:
        names = pq.read_schema(known.path).names
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise KnownSetError(
                f"known set {known.name!r}: {str(known.path)!r} is not a normalised "
                f"set (missing {', '.join(missing)}); import it with import_known_set"
            )
        table = pq.read_table(known.path, columns=["pdq", "id", "category"])
    except (OSError, pa.ArrowException) as exc:
        raise KnownSetError(
            f"known set {known.name!r}: cannot read {str(known.path)!r}: {exc}"
        ) from exc
    table = table.filter(pc.is_valid(table.column("pdq")))
    return _PdqEntries(
        index=PdqIndex.build(table.column("pdq").to_pylist()),
        ids=table.column("id").to_pylist(),
        categories=table.column("category").to_pylist(),
    )
