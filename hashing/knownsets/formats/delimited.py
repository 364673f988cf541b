"""CSV: a header line, comma, semicolon or tab separated. Hash columns are named like the
signal types or one of their aliases (any case: ``SHA-1``); ``MediaID`` is read as id;
``quality`` or ``pdq_quality`` is the PDQ's quality; other columns are ignored. A file no
other format recognises is read as CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from hashing.errors import KnownSetError
from hashing.knownsets.formats.base import (
    KnownSetFormat,
    SourceTable,
    delimited_batches,
    hash_column_names,
    joined,
    string_table,
)
from hashing.knownsets.set_schema import hash_columns

_OTHER_COLUMNS = {
    "id": "id", "mediaid": "id", "category": "category", "quality": "quality", "pdq_quality": "quality",
}  # fmt: skip


def csv_batches(path: Path) -> Iterator[SourceTable]:
    header, batches = delimited_batches(path, None)
    names = hash_column_names() | _OTHER_COLUMNS
    wanted = {n: names[h.lower()] for n, h in enumerate(header) if h.lower() in names}
    targets = list(wanted.values())
    if len(set(targets)) != len(targets):
        raise KnownSetError(f"{str(path)!r}: header names a column twice: {header!r}")
    if not any(t in hash_columns() for t in targets):
        raise KnownSetError(
            f"{str(path)!r}: no hash column in the header {header!r}; need one of "
            f"{', '.join(hash_columns())}"
        )
    for rows in batches:
        columns = {target: [fields[n] for _, fields in rows] for n, target in wanted.items()}
        yield SourceTable(string_table(columns, len(rows)), _lines([line for line, _ in rows]), "csv")


def _lines(lines: list[int]) -> Callable[[int], str]:
    return lambda row: f"line {lines[row]}"


CSV = KnownSetFormat("csv", joined(csv_batches), detect=None, batches=csv_batches)
