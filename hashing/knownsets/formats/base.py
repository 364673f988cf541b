"""What a known-set format is, and what the readers share.

A format is one ``KnownSetFormat``: its name (``--format``), how to recognise a file from
its first bytes, and a reader that turns a file into a PyArrow table of string columns
named like the normalised schema (any hash column, ``id``, ``category``; ``quality`` for
the PDQ's), plus a function that names a row the way a person finds it in the file
("line 7", "record 3 (MediaID 12)"), for error messages. A format whose files can be read
a part at a time also gives ``batches``, which yields such tables one batch of rows after
another, so that a list of any length imports in bounded memory.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
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
    batches: Callable[[Path], Iterator[SourceTable]] | None = None

    def read_batches(self, path: Path) -> Iterator[SourceTable]:
        """The file's rows a batch at a time (one batch for a format that cannot stream)."""
        if self.batches is None:
            yield self.read(path)
        else:
            yield from self.batches(path)


BATCH_ROWS = 100_000


def joined(batches: Callable[[Path], Iterator[SourceTable]]) -> Callable[[Path], SourceTable]:
    """A reader of the whole file from a reader of its batches."""

    def read(path: Path) -> SourceTable:
        parts = list(batches(path))
        starts = [0]
        for part in parts:
            starts.append(starts[-1] + part.table.num_rows)

        def locate(row: int) -> str:
            n = max(k for k in range(len(parts)) if starts[k] <= row)
            return parts[n].locate(row - starts[n])

        table = pa.concat_tables([p.table for p in parts], promote_options="default")
        return SourceTable(table, locate, parts[0].format)

    return read


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


def delimited_batches(
    path: Path, delimiter: str | None
) -> tuple[list[str], Iterator[list[tuple[int, list[str]]]]]:
    """The header, then ``(line number, fields)`` rows ``BATCH_ROWS`` at a time, read as the
    file is streamed; a row with the wrong number of fields is refused with its line number."""
    size = BATCH_ROWS
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise KnownSetError(f"cannot read {str(path)!r}: {exc}") from exc
    try:
        first = handle.readline(1 << 16)
        handle.seek(0)
    except UnicodeDecodeError as exc:
        handle.close()
        raise KnownSetError(f"{str(path)!r} is not UTF-8 text: {exc}") from exc
    if delimiter is None:
        delimiter = max(",;\t", key=first.count)
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise KnownSetError(f"{str(path)!r}: empty file, expected a header line") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        handle.close()
        raise KnownSetError(f"{str(path)!r}: line 1: {exc}") from exc

    def rows() -> Iterator[list[tuple[int, list[str]]]]:
        batch: list[tuple[int, list[str]]] = []
        try:
            for fields in reader:
                if not fields or all(not f.strip() for f in fields):
                    continue
                if len(fields) != len(header):
                    raise KnownSetError(
                        f"{str(path)!r}: line {reader.line_num}: {len(fields)} fields, the "
                        f"header has {len(header)}: {delimiter.join(fields)[:200]!r}"
                    )
                batch.append((reader.line_num, fields))
                if len(batch) >= size:
                    yield batch
                    batch = []
        except csv.Error as exc:
            raise KnownSetError(f"{str(path)!r}: line {reader.line_num}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise KnownSetError(f"{str(path)!r} is not UTF-8 text: {exc}") from exc
        finally:
            handle.close()
        yield batch

    return [h.strip() for h in header], rows()


def string_table(columns: dict[str, list[Any]], count: int) -> pa.Table:
    """String columns; with no hash values at all, an all-null first hash column so that
    the validation names the first row as having no hash."""
    if not columns:
        return pa.table({hash_columns()[0]: pa.nulls(count, pa.string())})
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
