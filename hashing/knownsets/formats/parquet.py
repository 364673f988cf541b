"""Parquet: columns named like the normalised ones (any subset with a hash column),
plus ``quality``, the PDQ's."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hashing.errors import KnownSetError
from hashing.knownsets.formats.base import KnownSetFormat, SourceTable


def read_parquet(path: Path) -> SourceTable:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise KnownSetError(f"cannot read {str(path)!r} as Parquet: {exc}") from exc
    return SourceTable(table, lambda row: f"row {row + 1}", "parquet")


PARQUET = KnownSetFormat("parquet", read_parquet, detect=lambda head: head.startswith(b"PAR1"))
