"""The index seam: how a signal type's near matches are found in one known set.

A signal type with a ``match_threshold`` names an ``index_cls``: opened on the set's file
(a normalised Parquet file with one string column per signal type), it returns every
distinct hash of its column within a radius of each query. ``LinearIndex`` compares them
all, which suits small sets and new signal types; PDQ brings a persisted multi-index
(``hashing.signals.pdq.set_index``). A set's indexes share one folder
(``<known>/index/<set>/``), and writers take the folder's file lock, so two processes
never build the same index at once.
"""

from __future__ import annotations

import fcntl
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashing.errors import KnownSetError


@dataclass(frozen=True)
class IndexHit:
    """Query ``query`` (its position in the batch) is ``distance`` from the set's hash
    ``value``."""

    query: int
    value: str
    distance: int


class SignalIndex(ABC):
    """Near-match search over the distinct hashes of one signal type in one known set."""

    @classmethod
    @abstractmethod
    def open(cls, folder: Path, parquet: Path, content_sha256: str, column: str) -> SignalIndex:
        """The index of ``column`` in the set file ``parquet`` whose content digest is
        ``content_sha256``. ``folder`` is the set's index folder, shared with its other
        indexes: one that persists keeps its files under names of its own there and
        writes them under ``folder_lock``."""

    @abstractmethod
    def search(self, queries: list[str], radius: int) -> list[IndexHit]:
        """Every hash within ``radius`` of each query, by query, then distance, then hash."""


class LinearIndex(SignalIndex):
    """Every distinct hash of the column, compared with each query by the Hamming distance
    of their bits (the ``SignalType`` default distance); read into memory when opened."""

    def __init__(self, values: list[str]) -> None:
        self._values = values
        self._packed = _packed(values)

    @classmethod
    def open(cls, folder: Path, parquet: Path, content_sha256: str, column: str) -> LinearIndex:
        try:
            if column not in pq.read_schema(parquet).names:  # a set written before the signal type
                return cls([])
            values = pq.read_table(parquet, columns=[column]).column(column)
        except (OSError, pa.ArrowException) as exc:
            raise KnownSetError(f"cannot read {column} hashes from {str(parquet)!r}: {exc}") from exc
        return cls(sorted(pc.unique(values.drop_null()).to_pylist()))

    def search(self, queries: list[str], radius: int) -> list[IndexHit]:
        if not queries or not self._values:
            return []
        distances = np.bitwise_count(_packed(queries)[:, None, :] ^ self._packed[None, :, :]).sum(axis=2)
        hits = [
            IndexHit(int(q), self._values[e], int(distances[q, e]))
            for q, e in zip(*np.nonzero(distances <= radius), strict=True)
        ]
        return sorted(hits, key=lambda h: (h.query, h.distance, h.value))


def _packed(values: list[str]) -> np.ndarray:
    """Equal-length hex strings as a ``uint8 [N, bytes]`` array."""
    width = len(values[0]) // 2 if values else 0
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), width)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of a set's index folder (created when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
