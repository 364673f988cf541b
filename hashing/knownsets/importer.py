"""Import a known-hash list into the normalised Parquet format.

Validation is all-or-nothing: the first bad value stops the import before anything is
written, and the error names its 1-based row, its column and the value. The output is
sorted and deduplicated, so the same input always gives the same bytes and the same
``content_sha256``.

A set is read in batches (formats that can be streamed are: CSV, ICSE, Parquet), each
validated and spilled to a Parquet file beside the known folder; DuckDB then sorts and
deduplicates the spill under a memory limit, spilling to disk itself, and the sorted rows
are written batch by batch. So the memory an import needs does not grow with the list:
hash lists of tens of millions of rows import on an ordinary machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from catalog.duck import connect
from hashing.errors import KnownSetError
from hashing.knownsets.categories import CategoryPlan
from hashing.knownsets.formats import Locate, read_batches
from hashing.knownsets.set_schema import (
    META_COLUMNS,
    METADATA_KEY,
    arrow_schema,
    columns,
    hash_columns,
    validate_set_name,
)
from hashing.signals import get_signal_type

_FORMAT = "hotline-known-set/1"
RowsDone = Callable[[str, int, "int | None"], None]  # step, rows just done, rows in all if known


@dataclass(frozen=True)
class KnownSetFile:
    """A normalised known-hash set on disk. ``content_sha256`` digests the rows, not
    the Parquet bytes, so it identifies the content across Parquet writer versions.
    ``source_format`` is the format the rows were read from."""

    name: str
    path: Path
    rows: int
    content_sha256: str
    source_format: str = "parquet"
    categories: CategoryPlan | None = None  # how its categories map, once an import planned them
    flat_pdq: int = 0  # PDQ hashes of the source left out for a quality below the minimum


@dataclass(frozen=True)
class NormalisedSet:
    """A known-hash list read, validated and normalised into a file not in the known folder
    yet: what the import checks (its categories) before the set is put in place by
    ``write_known_set``; ``discard`` removes the file when the import stops there."""

    name: str
    path: Path  # the normalised rows, sorted and deduplicated, with their metadata
    rows: int
    content_sha256: str
    source_format: str
    flat_pdq: int = 0  # PDQ hashes left out for a quality below the minimum (rows without another hash too)
    categories: dict[str | None, int] = field(default_factory=dict)  # rows per category (None: without one)

    def category_counts(self) -> dict[str | None, int]:
        """Rows per category (``None``: rows without one)."""
        return dict(self.categories)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


_BATCH_ROWS = 65_536
_SORT_MEMORY = "256MB"  # DuckDB's limit while it sorts; beyond it, it spills to disk


def read_known_set(
    source: Path, name: str, *, fmt: str | None = None, min_pdq_quality: int = 0,
    work_dir: Path | None = None, on_rows: RowsDone | None = None,
) -> NormalisedSet:
    """Read ``source`` in one of ``FORMATS`` (``fmt``, or detected from its bytes) and
    validate and normalise it into a file in ``work_dir`` (default: the system's temporary
    folder; pass the known folder so that ``write_known_set`` only renames it). When the
    rows carry their PDQ's ``quality`` (0-100), a PDQ below ``min_pdq_quality`` is not
    imported as a matchable hash (a row left without any hash is dropped): flat hashes
    match by accident. Raises ``KnownSetError`` naming the first bad line or record.
    ``on_rows(step, rows, total)`` hears of the rows read, then of the rows sorted and
    digested (``total`` once known): for a caller's progress display."""
    name = validate_set_name(name)
    folder = Path(work_dir) if work_dir is not None else Path(tempfile.gettempdir())
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        spill = _temp_path(folder, f".{name}.spill.")
    except OSError as exc:
        raise KnownSetError(f"cannot write to {str(folder)!r}: {exc}") from exc
    try:
        rows, flat, source_format = _spill_batches(Path(source), fmt, min_pdq_quality, spill, on_rows)
        if flat and not rows:
            raise KnownSetError(f"{source}: every row's only hash is a PDQ of quality below {min_pdq_quality}: "
                                "nothing matchable to import")
        return _sorted_set(spill, folder, name, source_format, flat, rows, on_rows)
    except BaseException:
        spill.unlink(missing_ok=True)
        if made:  # a refused list leaves nothing behind, not even the folder
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        spill.unlink(missing_ok=True)


def _spill_batches(source: Path, fmt: str | None, min_pdq_quality: int, spill: Path,
                   on_rows: RowsDone | None) -> tuple[int, int, str]:
    """Validate each batch of ``source`` and append it, normalised but unsorted, to
    ``spill``; returns the rows written, the PDQs left out as flat and the source's format."""
    rows = flat = 0
    source_format = fmt or "parquet"
    with pq.ParquetWriter(spill, arrow_schema(), compression="zstd") as writer:
        for read in read_batches(source, fmt):
            source_format = read.format
            table, left_out, locate = _without_flat_pdq(read.table, min_pdq_quality, str(source), read.locate)
            table = normalise_rows(table, str(source), locate)
            writer.write_table(table)
            rows, flat = rows + table.num_rows, flat + left_out
            if on_rows is not None:
                on_rows("reading", read.table.num_rows, None)
    return rows, flat, source_format


def _sorted_set(spill: Path, folder: Path, name: str, source_format: str, flat: int, spilled: int,
                on_rows: RowsDone | None) -> NormalisedSet:
    """Sort and deduplicate ``spill`` (DuckDB, bounded memory) into a normalised set file in
    ``folder``, digesting and counting its rows on the way."""
    import duckdb  # only an import needs it; matching processes never load it here

    names = list(columns())
    order = ", ".join(f'"{c}" ASC NULLS LAST' for c in names)
    quoted = ", ".join(f'"{c}"' for c in names)
    digest = _digest_start()
    categories: Counter[str | None] = Counter()
    rows = 0
    try:
        out = _temp_path(folder, f".{name}.sorted.")
        scratch = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}.sort."))
    except OSError as exc:
        raise KnownSetError(f"cannot write to {str(folder)!r}: {exc}") from exc
    try:
        con = connect(memory_limit=_SORT_MEMORY, spill_to=scratch, preserve_insertion_order=False, threads=2)
        try:
            reader = con.sql(
                f"SELECT DISTINCT {quoted} FROM read_parquet(?) ORDER BY {order}", params=[str(spill)]
            ).to_arrow_reader(_BATCH_ROWS)
            with pq.ParquetWriter(out, arrow_schema(), compression="zstd") as writer:
                for batch in reader:
                    table = pa.Table.from_batches([batch]).cast(arrow_schema())
                    _digest_update(digest, table)
                    categories.update(table.column("category").to_pylist())
                    rows += table.num_rows
                    writer.write_table(table, row_group_size=_BATCH_ROWS * 8)
                    if on_rows is not None:
                        on_rows("sorting", table.num_rows, spilled)
                if on_rows is not None and rows < spilled:  # the repeated rows, dropped
                    on_rows("sorting", spilled - rows, spilled)
                content = digest.hexdigest()
                writer.add_key_value_metadata({METADATA_KEY: json.dumps({
                    "format": _FORMAT, "name": name, "rows": rows, "content_sha256": content,
                    "source_format": source_format,
                }, sort_keys=True)})
        finally:
            con.close()
    except (OSError, duckdb.Error, pa.ArrowException) as exc:
        out.unlink(missing_ok=True)
        raise KnownSetError(f"cannot sort the rows of {name!r} in {str(folder)!r}: {exc}") from exc
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed batches otherwise
    return NormalisedSet(name, out, rows, content, source_format, flat, dict(categories))


def _temp_path(folder: Path, prefix: str) -> Path:
    """A new owner-only file name in ``folder``: hash lists are usually licensed data."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".parquet")
    os.close(fd)
    return Path(name)


def _without_flat_pdq(
    table: pa.Table, minimum: int, source: str, where: Locate
) -> tuple[pa.Table, int, Locate]:
    """``table`` without its ``quality`` column, PDQs below ``minimum`` nulled, and rows left
    without any hash dropped; how many PDQs were left out; and ``where`` for the rows kept."""
    if "quality" not in table.column_names:
        return table, 0, where
    raw = table.column("quality")
    try:
        quality = pc.cast(pc.utf8_trim_whitespace(raw) if pa.types.is_string(raw.type) else raw, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise KnownSetError(f"{source}: column 'quality' must hold whole numbers 0-100: {exc}") from exc
    bad = pc.or_(pc.less(quality, 0), pc.greater(quality, 100))
    first = pc.index(pc.fill_null(bad, False), True).as_py()
    if first != -1:
        raise KnownSetError(f"{source}: {where(first)}: column 'quality': {raw[first].as_py()!r} is not 0-100")
    table = table.drop_columns(["quality"])
    if "pdq" not in table.column_names:
        return table, 0, where
    pdq = table.column("pdq")
    flat = pc.fill_null(pc.and_(pc.is_valid(pdq), pc.less(quality, minimum)), False)
    count = pc.sum(flat).as_py() or 0
    if not count:
        return table, 0, where
    table = table.set_column(table.column_names.index("pdq"), "pdq",
                             pc.if_else(flat, pa.scalar(None, pdq.type), pdq))
    others = [c for c in hash_columns() if c in table.column_names and c != "pdq"]
    keep = pc.invert(flat)
    for column in others:  # a hash present (empty text is no hash, as ``normalise`` reads it)
        text = _as_string(table, column, source)
        keep = pc.or_(keep, pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(text), ""), False))
    kept = pc.indices_nonzero(keep).to_pylist()
    return table.filter(keep), count, lambda row: where(kept[row])


def write_known_set(normalised: NormalisedSet, dest_dir: Path) -> KnownSetFile:
    """Put ``normalised`` in place as ``dest_dir/<name>-<first 16 digits of content_sha256>.parquet``
    (when that file exists, same name and same content, it is kept and the new one discarded)."""
    digest = normalised.content_sha256
    path = Path(dest_dir) / f"{normalised.name}-{digest[:16]}.parquet"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            normalised.discard()
        else:
            with open(normalised.path, "rb") as handle:
                os.fsync(handle.fileno())
            shutil.move(normalised.path, path)  # a rename when it was made in ``dest_dir``
    except OSError as exc:
        raise KnownSetError(f"cannot write {str(path)!r}: {exc}") from exc
    return KnownSetFile(
        name=normalised.name, path=path, rows=normalised.rows, content_sha256=digest,
        source_format=normalised.source_format, flat_pdq=normalised.flat_pdq,
    )


def import_known_set(
    source: Path, dest_dir: Path, name: str, *, fmt: str | None = None
) -> KnownSetFile:
    """Validate ``source`` and write it normalised to
    ``dest_dir/<name>-<first 16 digits of content_sha256>.parquet``.

    ``source`` is in one of ``FORMATS`` (``fmt``, or detected from its bytes): Parquet
    or CSV with any non-empty subset of the hash columns (one per known-set signal type:
    md5, sha1, sha256, pdq; hex, any case, surrounding whitespace ignored, empty means
    null) plus optional ``id`` and ``category``; Project VIC VICS JSON; an ICSE-style
    semicolon export. The file name
    carries the content digest, so a new version never overwrites the one the catalog
    still names, and importing the same content again writes nothing. Raises
    ``KnownSetError`` naming the first bad line or record; nothing is written then.
    """
    return write_known_set(read_known_set(source, name, fmt=fmt, work_dir=dest_dir), dest_dir)


def stored_content_sha256(path: Path) -> str:
    """The content digest recorded in a normalised set file's metadata."""
    try:
        raw = (pq.ParquetFile(path).metadata.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise KeyError(METADATA_KEY)
        return str(json.loads(raw)["content_sha256"])
    except (OSError, pa.ArrowException, TypeError, KeyError, ValueError) as exc:
        raise KnownSetError(
            f"{str(path)!r} carries no content digest; import it with import_known_set"
        ) from exc


def normalise(
    table: pa.Table, source: str = "known set", locate: Locate | None = None
) -> pa.Table:
    """Validate ``table`` and return it in the normalised schema, deduplicated and sorted
    (in memory: for a table at hand; files go through ``read_known_set``)."""
    names = list(columns())
    out = normalise_rows(table, source, locate).group_by(names, use_threads=False).aggregate([]).select(names)
    return out.sort_by([(c, "ascending") for c in names]).combine_chunks()


def normalise_rows(
    table: pa.Table, source: str = "known set", locate: Locate | None = None
) -> pa.Table:
    """Validate ``table`` and return its rows in the normalised schema, in their order.
    ``locate`` names a 0-based row for error messages (default "row N", 1-based)."""
    where = locate or (lambda row: f"row {row + 1}")
    names, hashes = columns(), hash_columns()
    unknown = [c for c in table.column_names if c not in names]
    if unknown:
        raise KnownSetError(
            f"{source}: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(names)}"
        )
    if len(set(table.column_names)) != len(table.column_names):
        raise KnownSetError(f"{source}: duplicate column names {table.column_names!r}")
    present = [c for c in hashes if c in table.column_names]
    if not present:
        raise KnownSetError(
            f"{source}: no hash column; need at least one of {', '.join(hashes)}"
        )
    values = {c: _hex_column(table, c, source) for c in present}
    problems = [_first_bad_hex(table, c, values[c], source, where) for c in present]
    problems.append(_first_row_without_hash(values, source, where))
    found = [p for p in problems if p is not None]
    if found:
        raise KnownSetError(min(found, key=lambda p: p[0])[1])
    for column in META_COLUMNS:
        if column in table.column_names:
            values[column] = _text_column(table, column, source)
    return pa.table(
        {c: values.get(c, pa.nulls(table.num_rows, pa.string())) for c in names},
        schema=arrow_schema(),
    )


def content_sha256(table: pa.Table) -> str:
    """SHA-256 of a normalised table: one JSON array per row, in table order."""
    digest = _digest_start()
    _digest_update(digest, table)
    return digest.hexdigest()


def _digest_start() -> hashlib._Hash:
    return hashlib.sha256(f"{_FORMAT}\n{json.dumps(list(columns()))}\n".encode())


def _digest_update(digest: hashlib._Hash, table: pa.Table) -> None:
    names = list(columns())
    for batch in table.select(names).to_batches(max_chunksize=65536):
        for row in zip(*(batch.column(c).to_pylist() for c in names), strict=True):
            digest.update(json.dumps(row, ensure_ascii=False).encode() + b"\n")


def _hex_column(table: pa.Table, column: str, source: str) -> pa.ChunkedArray:
    """The column stripped and lowercased, with empty strings as nulls."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(_as_string(table, column, source)))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _first_bad_hex(
    table: pa.Table, column: str, text: pa.ChunkedArray, source: str, where: Locate
) -> tuple[int, str] | None:
    length = get_signal_type(column).hex_length
    pattern = f"^[0-9a-f]{{{length}}}$"
    bad = pc.and_kleene(
        pc.is_valid(text), pc.invert(pc.match_substring_regex(text, pattern))
    )
    first = pc.index(pc.fill_null(bad, False), True).as_py()
    if first == -1:
        return None
    value = table.column(column)[first].as_py()
    return first, (
        f"{source}: {where(first)}: column {column!r}: {value!r} is not a {column} "
        f"hash ({length} hex digits)"
    )


def _first_row_without_hash(
    hashes: dict[str, pa.ChunkedArray], source: str, where: Locate
) -> tuple[int, str] | None:
    has_hash: pa.ChunkedArray | None = None
    for values in hashes.values():
        valid = pc.is_valid(values)
        has_hash = valid if has_hash is None else pc.or_(has_hash, valid)
    first = (
        -1
        if has_hash is None or len(has_hash) == 0
        else pc.index(has_hash, False).as_py()
    )
    if first == -1:
        return None
    return first, (
        f"{source}: {where(first)}: no hash; every row needs one of "
        f"{', '.join(hashes)}"
    )


def _text_column(table: pa.Table, column: str, source: str) -> pa.ChunkedArray:
    values = table.column(column)
    if pa.types.is_integer(values.type):
        return pc.cast(values, pa.string())
    return _as_string(table, column, source)


def _as_string(table: pa.Table, column: str, source: str) -> pa.ChunkedArray:
    values = table.column(column)
    kind = values.type
    if pa.types.is_null(kind):
        return pa.chunked_array([pa.nulls(len(values), pa.string())])
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or _is_string_view(kind)
    ):
        return pc.cast(values, pa.string())
    raise KnownSetError(
        f"{source}: column {column!r} has type {kind}, expected strings"
    )


def _is_string_view(kind: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(kind))
