"""Multi-index hashing: an exact PDQ range search that does not scan every hash.

The 256 bits are cut into 11 disjoint substrings of 23 or 24 bits. If two hashes are
within ``r`` bits, then by the pigeonhole principle at least one substring pair is
within ``r // 11`` bits (2 for PDQ's 31). So each table sorts the
entries by one substring; a query probes, in every table, the buckets of all substrings
within ``r // 12`` bits of its own, and only those candidates are compared in full.
The result is exactly brute force's: every entry within ``r``, with exact distances.

Small indexes use fewer bucket bits (the substring's low bits): buckets then hold
several substrings, which costs a few extra comparisons and keeps the tables small.

An index is three kinds of NumPy arrays, saved as ``.npy`` files and opened memory-mapped,
so reopening one costs milliseconds whatever its size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Literal

import numpy as np

_LENGTHS = (24, 24, 24, 23, 23, 23, 23, 23, 23, 23, 23)
_SPLITS: tuple[tuple[int, int], ...] = tuple(
    (sum(_LENGTHS[:n]), length) for n, length in enumerate(_LENGTHS)
)
"""(first bit, bit count) of each substring, counting bits of the ``uint64[4]`` form
from the low bit of word 0."""
TABLES = len(_SPLITS)
_MAX_BUCKET_BITS = 23
"""2**23 buckets a table (32 MiB of offsets): about one entry a bucket at 10M hashes."""
_BUILD_CHUNK = 1 << 20
"""Rows whose keys are computed at once while building."""
_CHUNK_CANDIDATES = 1 << 19
"""Candidate comparisons per step: bounds the memory of a query batch."""
_FORMAT = "hotline-pdq-mih/1"


@dataclass(frozen=True)
class Hits:
    """Range-search results as parallel arrays: ``query`` (position in the query
    batch), ``entry`` (row of the index) and ``distance``; sorted by query, then
    distance, then entry."""

    query: np.ndarray
    entry: np.ndarray
    distance: np.ndarray

    @classmethod
    def empty(cls) -> Hits:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none.astype(np.int32))

    def __len__(self) -> int:
        return int(self.query.shape[0])


class MihIndex:
    """An immutable multi-index over packed PDQ hashes (``uint8[N, 32]``)."""

    def __init__(
        self, words: np.ndarray, ids: list[np.ndarray], offsets: list[np.ndarray]
    ) -> None:
        self.words = words  # uint64 [N, 4]
        self._rows = words.view(np.dtype((np.void, 32))).reshape(-1)
        self._ids = ids  # per table: uint32 [N], entry rows sorted by bucket
        self._offsets = offsets  # per table: uint32/uint64 [2**bucket_bits + 1]
        self.bucket_bits = int(np.log2(len(offsets[0]) - 1)) if offsets else 0

    def __len__(self) -> int:
        return int(self.words.shape[0])

    @classmethod
    def build(cls, packed: np.ndarray) -> MihIndex:
        words = _words(packed)
        tables = list(_tables(words))
        return cls(words, [ids for ids, _ in tables], [offsets for _, offsets in tables])

    @classmethod
    def write(cls, packed: np.ndarray, folder: Path) -> None:
        """Build the index into ``folder`` a table at a time, each saved as soon as it is
        made: the memory a build needs is one table's, not all of them (at 10M entries the
        tables together are ~1.1 GB)."""
        words = _words(packed)
        folder.mkdir(parents=True, exist_ok=True)
        _save(folder / "hashes.npy", words)
        for t, (ids, offsets) in enumerate(_tables(words)):
            _save(folder / f"ids-{t}.npy", ids)
            _save(folder / f"offsets-{t}.npy", offsets)
            del ids, offsets
        _write_json(folder / "mih.json", {"format": _FORMAT, "entries": len(words)})

    # --- persistence -----------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the arrays to ``folder`` (created; files replaced atomically)."""
        folder.mkdir(parents=True, exist_ok=True)
        _save(folder / "hashes.npy", self.words)
        for t in range(TABLES):
            _save(folder / f"ids-{t}.npy", self._ids[t])
            _save(folder / f"offsets-{t}.npy", self._offsets[t])
        _write_json(folder / "mih.json", {"format": _FORMAT, "entries": len(self)})

    @classmethod
    def load(cls, folder: Path) -> MihIndex:
        """Open a saved index memory-mapped: nothing is rebuilt or read up front."""
        meta = json.loads((folder / "mih.json").read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{str(folder)!r} is not a {_FORMAT} index")
        mode: Literal["r"] | None = "r" if meta["entries"] else None  # empty: cannot be mapped
        words = np.load(folder / "hashes.npy", mmap_mode=mode)
        ids = [np.load(folder / f"ids-{t}.npy", mmap_mode=mode) for t in range(TABLES)]
        offsets = [
            np.load(folder / f"offsets-{t}.npy", mmap_mode=mode) for t in range(TABLES)
        ]
        if len(words) != meta["entries"]:
            raise ValueError(f"{str(folder)!r}: index is incomplete")
        return cls(words, ids, offsets)

    # --- search ----------------------------------------------------------------------

    def search(self, queries: np.ndarray, radius: int) -> Hits:
        """Every entry within ``radius`` bits of each query (``uint8[Q, 32]``)."""
        if not len(self) or not len(queries):
            return Hits.empty()
        qwords = np.ascontiguousarray(queries).view(np.uint64)
        probe = radius // TABLES
        masks = _masks(probe, self.bucket_bits)
        per_query = len(masks) * TABLES * max(1, len(self) >> self.bucket_bits)
        step = max(1, _CHUNK_CANDIDATES // per_query)
        found = [
            self._search_chunk(qwords[q0 : q0 + step], q0, masks, radius)
            for q0 in range(0, len(qwords), step)
        ]
        query = np.concatenate([f[0] for f in found])
        entry = np.concatenate([f[1] for f in found])
        distance = np.concatenate([f[2] for f in found])
        order = np.lexsort((entry, distance, query))
        return Hits(query[order], entry[order], distance[order])

    def _search_chunk(
        self, qwords: np.ndarray, q0: int, masks: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cand_q, cand_e = [], []
        probe_owner = np.repeat(np.arange(len(qwords), dtype=np.int64), len(masks))
        for t, (start, _bits) in enumerate(_SPLITS):
            keys = _keys(qwords, start, self.bucket_bits)
            probes = (keys[:, None] ^ masks[None, :]).ravel()
            offsets = self._offsets[t]
            starts = np.take(offsets, probes).astype(np.int64)
            lengths = np.take(offsets, probes + np.uint64(1)).astype(np.int64) - starts
            keep = np.flatnonzero(lengths)
            starts, lengths = starts[keep], lengths[keep]
            total = int(lengths.sum())
            if not total:
                continue
            # the rows of every probed bucket, back to back: bucket k's rows run from
            # starts[k], placed after the rows of the buckets before it
            shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
            cand_e.append(np.take(self._ids[t], np.arange(total) + shift))
            cand_q.append(np.repeat(probe_owner[keep], lengths))
        if not cand_e:
            return Hits.empty().query, Hits.empty().entry, Hits.empty().distance
        # Sorting by entry turns the random gather below into a forward sweep over the
        # hashes (several times faster on a large index) and puts repeats side by side.
        width = len(qwords)
        pairs = np.concatenate(cand_e).astype(np.int64) * width + np.concatenate(cand_q)
        pairs.sort()
        if len(pairs) > 1:
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        entries, owners = np.divmod(pairs, width)
        rows = np.take(self._rows, entries).view(np.uint64).reshape(-1, 4)
        xored = rows ^ np.take(qwords, owners, axis=0)
        distances = np.bitwise_count(xored[:, 0]).astype(np.int32)
        for column in range(1, 4):
            distances += np.bitwise_count(xored[:, column])
        near = distances <= radius
        order = np.lexsort((entries[near], owners[near]))
        return (
            owners[near][order] + q0,
            entries[near][order],
            distances[near][order],
        )


def _keys(words: np.ndarray, start: int, bucket_bits: int) -> np.ndarray:
    """The low ``bucket_bits`` of the substring starting at bit ``start`` (uint64)."""
    word, shift = divmod(start, 64)
    keys = words[:, word] >> np.uint64(shift)
    if shift + bucket_bits > 64:
        keys = keys | (words[:, word + 1] << np.uint64(64 - shift))
    return keys & np.uint64((1 << bucket_bits) - 1)


_MASK_CACHE: dict[tuple[int, int], np.ndarray] = {}


def _masks(probe: int, bits: int) -> np.ndarray:
    """Every ``bits``-bit XOR mask with at most ``probe`` bits set (0 first)."""
    key = (probe, bits)
    if key not in _MASK_CACHE:
        values = [
            sum(1 << b for b in chosen)
            for k in range(min(probe, bits) + 1)
            for chosen in combinations(range(bits), k)
        ]
        _MASK_CACHE[key] = np.array(values, dtype=np.uint64)
    return _MASK_CACHE[key]


def _words(packed: np.ndarray) -> np.ndarray:
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != 32:
        raise ValueError(f"expected uint8 [N, 32] packed PDQ hashes, got {packed.shape}")
    return np.ascontiguousarray(packed).view(np.uint64)


def _tables(words: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each table's entry rows sorted by bucket, and its bucket offsets, one table at a time."""
    n = len(words)
    bucket_bits = int(min(_MAX_BUCKET_BITS, max(4, int(np.ceil(np.log2(max(n, 2)))))))
    offset_type = np.uint32 if n < 2**32 else np.uint64
    # Transient memory matters at 10M entries: keys are uint32 and made in chunks, offsets
    # are summed in place.
    keys = np.empty(n, dtype=np.uint32)
    for start, _bits in _SPLITS:
        for r0 in range(0, n, _BUILD_CHUNK):
            keys[r0 : r0 + _BUILD_CHUNK] = _keys(words[r0 : r0 + _BUILD_CHUNK], start, bucket_bits)
        ids = np.argsort(keys, kind="stable").astype(np.uint32)
        table = np.zeros((1 << bucket_bits) + 1, dtype=offset_type)
        np.cumsum(np.bincount(keys, minlength=1 << bucket_bits), out=table[1:])
        yield ids, table


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, sort_keys=True))
    os.replace(tmp, path)
