"""What a known-set format is, and what the readers share.

A format is one ``KnownSetFormat``: its name (``--format``), how to recognise a file from
its first bytes, and a reader that turns a file into a PyArrow table of string columns
named like the normalised schema (any hash column, ``id``, ``category``; ``quality`` for
the PDQ's), plus a function that names a row the way a person finds it in the file
("line 7", "record 3 (MediaID 12)"), for error messages.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from hashing.errors import KnownSetError
from hashing.knownsets.set_schema import hash_columns
from hashing.signals import known_set_signal_types

Locate = Callable[[int], str]


@dataclass(frozen=True)
class SourceTable:
    table: pa.Table
    locate: Locate
    format: str


@dataclass(frozen=True)
class KnownSetFormat:
    """``detect`` is given the file's first 4 KiB; ``None`` makes this the format of a
    file no other format recognises (CSV). ``category_profile`` names the profile its
    categories follow when the import names none."""

    name: str
    read: Callable[[Path], SourceTable]
    detect: Callable[[bytes], bool] | None
    category_profile: str | None = None


def hash_column_names() -> dict[str, str]:
    """Lowercase header name -> hash column, from the signal types' names and aliases."""
    return {n: s.name for s in known_set_signal_types() for n in (s.name, *s.column_aliases)}


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise KnownSetError(f"cannot read {str(path)!r}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise KnownSetError(f"{str(path)!r} is not UTF-8 text: {exc}") from exc


def delimited_rows(path: Path, delimiter: str | None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` rows; a row with the wrong number of
    fields is refused with its line number."""
    text = read_text(path)
    if delimiter is None:
        first = text.split("\n", 1)[0]
        delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise KnownSetError(f"{str(path)!r}: empty file, expected a header line") from None
    rows = []
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise KnownSetError(
                    f"{str(path)!r}: line {reader.line_num}: {len(fields)} fields, the "
                    f"header has {len(header)}: {delimiter.join(fields)[:200]!r}"
                )
            rows.append((reader.line_num, fields))
    except csv.Error as exc:
        raise KnownSetError(f"{str(path)!r}: line {reader.line_num}: {exc}") from exc
    return [h.strip() for h in header], rows


def string_table(columns: dict[str, list[Any]], count: int) -> pa.Table:
    """String columns; with no hash values at all, an all-null first hash column so that
    the validation names the first row as having no hash."""
    if not columns:
        return pa.table({hash_columns()[0]: pa.nulls(count, pa.string())})
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
