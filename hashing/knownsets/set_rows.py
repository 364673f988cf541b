"""Reading the rows of a known set's file that a match names: their ``id`` and
``category``, found through the set's digest index and read from only the Parquet row
groups that hold them; and how many frames each known video has, and which."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from catalog.duck import connect
from hashing.errors import KnownSetError
from hashing.knownsets.digest_index import DigestIndex
from hashing.knownsets.known_set import KnownSet

RowMeta = tuple[str | None, str | None]
"""A row's ``(id, category)``."""


def rows_by_hash(known: KnownSet, digests: DigestIndex, column: str, values: set[str]) -> dict[str, list[RowMeta]]:
    """``hash -> [(id, category), ...]`` of the set's rows with these hashes in
    ``column``, each list ordered by id then category (nulls last)."""
    wanted = sorted(values)
    rows = digests.lookup(column, wanted)
    meta = _row_meta(known, {int(r) for found in rows for r in found})
    return {
        value: sorted((meta[int(r)] for r in found), key=_id_order)
        for value, found in zip(wanted, rows, strict=True)
    }


def frames_per_id(known: KnownSet, ids: set[str], column: str) -> dict[str, int]:
    """How many distinct hashes in ``column`` (frames: PDQ) each known item of the set has."""
    named = sorted(ids)
    if not named:
        return {}
    sql = (
        f'SELECT id, count(DISTINCT "{column}") FROM read_parquet($p) WHERE id IN '
        f'(SELECT id FROM wanted) AND "{column}" IS NOT NULL GROUP BY id'
    )
    wanted = pa.table({"id": pa.array(named, pa.string())})
    return dict(_query(sql, {"p": str(known.path)}, {"wanted": wanted}))


def hashes_per_id(known: KnownSet, ids: set[str], column: str) -> dict[str, list[str]]:
    """The distinct hashes in ``column`` (frames: PDQ) of each of these known items."""
    named = sorted(ids)
    if not named:
        return {}
    sql = (
        f'SELECT DISTINCT id, "{column}" FROM read_parquet($p) WHERE id IN '
        f'(SELECT id FROM wanted) AND "{column}" IS NOT NULL ORDER BY 1, 2'
    )
    wanted = pa.table({"id": pa.array(named, pa.string())})
    found: dict[str, list[str]] = {}
    for known_id, value in _query(sql, {"p": str(known.path)}, {"wanted": wanted}):
        found.setdefault(known_id, []).append(value)
    return found


def _query(sql: str, params: dict[str, str], tables: dict[str, pa.Table]) -> list[tuple]:
    with connect() as con:
        for name, table in tables.items():
            con.register(name, table)
        try:
            return con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise KnownSetError(f"cannot look up known sets: {exc}") from exc


def _id_order(meta: RowMeta) -> tuple[bool, str, bool, str]:
    """Rows by id then category, nulls last (which row a match names)."""
    known_id, category = meta
    return (known_id is None, known_id or "", category is None, category or "")


def _row_meta(known: KnownSet, rows: set[int]) -> dict[int, RowMeta]:
    """``row -> (id, category)`` for these rows of the set file, reading only the row
    groups that hold them."""
    if not rows:
        return {}
    out: dict[int, RowMeta] = {}
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


