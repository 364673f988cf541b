"""Import a known-hash list into the normalised Parquet format.

Validation is all-or-nothing: the first bad value stops the import before anything is
written, and the error names its 1-based row, its column and the value. The output is
sorted and deduplicated, so the same input always gives the same bytes and the same
``content_sha256``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashing.errors import KnownSetError
from hashing.knownsets.categories import CategoryPlan
from hashing.knownsets.formats import Locate, read_source
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
RowsDone = Callable[[int, int], None]  # rows just done, rows in all: for a caller's progress display


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
    """A known-hash list read, validated and normalised, not written yet: what the import
    checks (its categories) before anything reaches the known folder."""

    name: str
    table: pa.Table
    content_sha256: str
    source_format: str
    flat_pdq: int = 0  # PDQ hashes left out for a quality below the minimum (rows without another hash too)

    def category_counts(self) -> dict[str | None, int]:
        """Rows per category (``None``: rows without one)."""
        counts = self.table.group_by("category", use_threads=False).aggregate([([], "count_all")])
        return dict(zip(counts.column("category").to_pylist(), counts.column("count_all").to_pylist(), strict=True))


def read_known_set(
    source: Path, name: str, *, fmt: str | None = None, min_pdq_quality: int = 0,
    on_rows: RowsDone | None = None,
) -> NormalisedSet:
    """Read ``source`` in one of ``FORMATS`` (``fmt``, or detected from its bytes) and
    validate and normalise it. When the rows carry their PDQ's ``quality`` (0-100), a PDQ
    below ``min_pdq_quality`` is not imported as a matchable hash (a row left without any
    hash is dropped): flat hashes match by accident. Raises ``KnownSetError`` naming the
    first bad line or record. ``on_rows`` hears of the rows digested (the longest step)."""
    name = validate_set_name(name)
    read = read_source(Path(source), fmt)
    table, flat, locate = _without_flat_pdq(read.table, min_pdq_quality, str(source), read.locate)
    if flat and not table.num_rows:
        raise KnownSetError(f"{source}: every row's only hash is a PDQ of quality below {min_pdq_quality}: "
                            "nothing matchable to import")
    table = normalise(table, str(source), locate)
    return NormalisedSet(name, table, content_sha256(table, on_rows), read.format, flat)


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
    """Write ``normalised`` to ``dest_dir/<name>-<first 16 digits of content_sha256>.parquet``
    (nothing is written when that file exists: same name, same content)."""
    table, digest = normalised.table, normalised.content_sha256
    metadata = {
        "format": _FORMAT,
        "name": normalised.name,
        "rows": table.num_rows,
        "content_sha256": digest,
        "source_format": normalised.source_format,
    }
    table = table.replace_schema_metadata(
        {METADATA_KEY: json.dumps(metadata, sort_keys=True)}
    )
    path = Path(dest_dir) / f"{normalised.name}-{digest[:16]}.parquet"
    if not path.exists():
        _write_atomically(table, path)
    return KnownSetFile(
        name=normalised.name, path=path, rows=table.num_rows, content_sha256=digest,
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
    return write_known_set(read_known_set(source, name, fmt=fmt), dest_dir)


def stored_content_sha256(path: Path) -> str:
    """The content digest recorded in a normalised set file's metadata."""
    try:
        raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
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
    """Validate ``table`` and return it in the normalised schema, deduplicated and sorted.
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
    out = pa.table(
        {c: values.get(c, pa.nulls(table.num_rows, pa.string())) for c in names},
        schema=arrow_schema(),
    )
    out = (
        out.group_by(list(names), use_threads=False)
        .aggregate([])
        .select(list(names))
    )
    return out.sort_by([(c, "ascending") for c in names]).combine_chunks()


def content_sha256(table: pa.Table, on_rows: RowsDone | None = None) -> str:
    """SHA-256 of a normalised table: one JSON array per row, in table order."""
    names = list(columns())
    digest = hashlib.sha256(f"{_FORMAT}\n{json.dumps(names)}\n".encode())
    for batch in table.select(names).to_batches(max_chunksize=65536):
        for row in zip(*(batch.column(c).to_pylist() for c in names), strict=True):
            digest.update(json.dumps(row, ensure_ascii=False).encode() + b"\n")
        if on_rows is not None:
            on_rows(batch.num_rows, table.num_rows)
    return digest.hexdigest()


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


def _write_atomically(table: pa.Table, path: Path) -> None:
    """Temp file in the same folder, fsync, ``os.replace``. The file keeps
    ``mkstemp``'s owner-only permissions: hash lists are usually licensed data."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise KnownSetError(f"cannot write to {str(path.parent)!r}: {exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError | pa.ArrowException):
            raise KnownSetError(f"cannot write {str(path)!r}: {exc}") from exc
        raise
