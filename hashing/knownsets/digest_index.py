"""Exact lookups in a known set without scanning it: per hash column (the digests, and the
near-matched ones such as pdq, to find the rows of a near match), the set's values as
sorted fixed-width bytes with their row numbers, saved as ``.npy`` files and opened
memory-mapped; a lookup is a binary search. Built once per set content (a changed set
gets a new one), beside the set's other indexes. A column the set file lacks (written
before its signal type was added) is empty."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashing.errors import KnownSetError
from hashing.knownsets.set_schema import hash_columns
from hashing.signals import get_signal_type
from hashing.signals.base import hex_column_bytes
from hashing.signals.index import folder_lock

_PREFIX = "digests-"
_CHUNK = 1 << 20


class DigestIndex:
    """Sorted digests per column (``S16``/``S20``/``S32``) and their Parquet rows."""

    def __init__(self, keys: dict[str, np.ndarray], rows: dict[str, np.ndarray]) -> None:
        self._keys = keys
        self._rows = rows

    @classmethod
    def open(cls, folder: Path, parquet: Path, content_sha256: str) -> DigestIndex:
        """Load the index of this set content, building it first when missing. The
        caller holds the set folder's lock when it may build."""
        target = folder / f"{_PREFIX}{content_sha256[:16]}"
        if not (target / "complete").exists():
            _build(target, parquet)
            for old in folder.glob(f"{_PREFIX}*"):
                if old != target:
                    shutil.rmtree(old, ignore_errors=True)
        return cls.open_existing(folder, content_sha256)

    @classmethod
    def open_existing(cls, folder: Path, content_sha256: str) -> DigestIndex:
        """Load a complete index; ``FileNotFoundError`` when there is none."""
        target = folder / f"{_PREFIX}{content_sha256[:16]}"
        if not (target / "complete").exists():
            raise FileNotFoundError(target / "complete")
        keys = {c: _load(target / f"{c}.npy", _width(c)) for c in hash_columns()}
        rows = {c: _load(target / f"{c}-rows.npy", np.uint32) for c in hash_columns()}
        return cls(keys, rows)

    def lookup(self, column: str, values: Sequence[str | None]) -> list[np.ndarray]:
        """For each value (lowercase hex, or None), the rows holding it."""
        keys, rows = self._keys[column], self._rows[column]
        found = [np.zeros(0, dtype=np.uint32) for _ in values]
        present = [n for n, v in enumerate(values) if v is not None]
        if not present or not len(keys):
            return found
        wanted = _packed([values[n] for n in present], column)  # type: ignore[misc]
        lo = np.searchsorted(keys, wanted, side="left")
        hi = np.searchsorted(keys, wanted, side="right")
        for n, a, b in zip(present, lo.tolist(), hi.tolist(), strict=True):
            found[n] = np.asarray(rows[a:b])
        return found


def open_digest_index(folder: Path, parquet: Path, content_sha256: str) -> DigestIndex:
    """The set's exact digest index, built under the folder's lock when this content has
    none yet."""
    try:
        return DigestIndex.open_existing(folder, content_sha256)
    except FileNotFoundError:
        with folder_lock(folder):
            return DigestIndex.open(folder, parquet, content_sha256)


def _load(path: Path, dtype: np.dtype | str | type) -> np.ndarray:
    """The saved array; empty (of ``dtype``) when the index has no such column."""
    if not path.exists():
        return np.zeros(0, dtype=dtype)
    try:
        return np.load(path, mmap_mode="r")
    except ValueError:  # an empty array cannot be memory-mapped
        return np.load(path)


def _width(column: str) -> str:
    """The fixed-width bytes type of a column's hashes."""
    return f"S{get_signal_type(column).hex_length // 2}"


def _packed(values: Sequence[str], column: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=_width(column))


def _build(target: Path, parquet: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        source = pq.ParquetFile(parquet)
        names = [c for c in hash_columns() if c in source.schema_arrow.names]
        for column in names:  # a column at a time, read in batches: memory for one column's keys
            keys, rows = _column_keys(source, column)
            order = np.argsort(keys, kind="stable")
            _save_ordered(tmp / f"{column}.npy", keys, order)
            _save_ordered(tmp / f"{column}-rows.npy", rows, order)
            del keys, rows, order
            pa.default_memory_pool().release_unused()  # the column's batches, kept by Arrow's allocator
    except (OSError, ValueError, pa.ArrowException) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise KnownSetError(f"cannot read digests from {str(parquet)!r}: {exc}") from exc
    (tmp / "complete").write_text("")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def _column_keys(source: pq.ParquetFile, column: str) -> tuple[np.ndarray, np.ndarray]:
    """The column's present values packed, and their rows, filled into arrays made once."""
    total = source.metadata.num_rows
    keys = np.empty(total, dtype=_width(column))
    rows = np.empty(total, dtype=np.uint32)
    filled = start = 0
    for batch in source.iter_batches(batch_size=_CHUNK, columns=[column]):
        values = batch.column(0)
        valid = np.flatnonzero(pc.is_valid(values).to_numpy(zero_copy_only=False))
        keys[filled : filled + len(valid)] = hex_column_bytes(values, np.dtype(_width(column)).itemsize).view(
            _width(column)).reshape(-1)
        rows[filled : filled + len(valid)] = valid + start
        filled += len(valid)
        start += len(values)
    return keys[:filled], rows[:filled]


def _save_ordered(path: Path, values: np.ndarray, order: np.ndarray) -> None:
    """``values[order]`` saved as ``.npy``, gathered and written a chunk at a time: no second
    full copy, and no mapped pages (which would count as the process's memory)."""
    with open(path, "wb") as out:
        np.lib.format.write_array_header_1_0(out, {
            "descr": np.lib.format.dtype_to_descr(values.dtype), "fortran_order": False, "shape": values.shape})
        for start in range(0, len(order), _CHUNK):
            out.write(values[order[start : start + _CHUNK]].tobytes())
