"""Parquet: columns named like the normalised ones (any subset with a hash column),
plus ``quality``, the PDQ's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hashing.errors import KnownSetError
from hashing.knownsets.formats import base
from hashing.knownsets.formats.base import KnownSetFormat, SourceTable, joined


def parquet_batches(path: Path) -> Iterator[SourceTable]:
    try:
        source = pq.ParquetFile(path)
        batches = source.iter_batches(batch_size=base.BATCH_ROWS)
        start = 0
        for batch in batches:
            yield SourceTable(pa.Table.from_batches([batch]), _rows_from(start), "parquet")
            start += batch.num_rows
        if start == 0:
            yield SourceTable(source.schema_arrow.empty_table(), _rows_from(0), "parquet")
    except (OSError, pa.ArrowException) as exc:
        raise KnownSetError(f"cannot read {str(path)!r} as Parquet: {exc}") from exc


def _rows_from(start: int) -> Callable[[int], str]:
    return lambda row: f"row {start + row + 1}"


PARQUET = KnownSetFormat("parquet", joined(parquet_batches), detect=lambda head: head.startswith(b"PAR1"),
                         batches=parquet_batches)
