"""Candidate retrieval for review clustering: which open clusters (or decided items) a new
item may be the same picture as, without comparing it with every one of them.

``PdqIndex`` is a multi-index over 256-bit PDQ hashes: each hash is filed under its sixteen
16-bit words; a hash within distance 31 of a query has, by the pigeonhole principle, a word
at most one bit away from the query's, so probing each word and its sixteen one-bit
neighbours finds every hash within 31 (then the exact distance decides). ``WordIndex`` files
pictures under the leading 16-bit words of their local feature descriptors (a binary
descriptor's leading bits are its most telling) and ranks the pictures that share the most
words with a query; geometric verification then decides.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np

_FLIPS = np.array([0] + [1 << b for b in range(16)], dtype=np.uint32)
_CHUNKS = np.arange(16, dtype=np.uint32) << 16


def _words(pdq: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(pdq), dtype=">u2").astype(np.uint32)


def _distance(a: bytes, b: bytes) -> int:
    return int(np.bitwise_count(np.frombuffer(a, dtype=np.uint64) ^ np.frombuffer(b, dtype=np.uint64)).sum())


class PdqIndex:
    """PDQ hashes with a key each, searched for all those within a distance of at most 31."""

    def __init__(self) -> None:
        self._buckets: dict[int, list[int]] = {}
        self._keys: list[Hashable] = []
        self._hashes: list[bytes] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable, pdq: str) -> None:
        row = len(self._keys)
        self._keys.append(key)
        self._hashes.append(bytes.fromhex(pdq))
        for word in (_CHUNKS | _words(pdq)).tolist():
            self._buckets.setdefault(word, []).append(row)

    def nearest(self, queries: Iterable[str], threshold: int) -> tuple[Hashable, int, int] | None:
        """The nearest hash to any of ``queries`` within ``threshold`` (at most 31), as
        (key, distance, which query); ties go to the earliest query, then the oldest hash."""
        best: tuple[int, int, int] | None = None  # distance, query, row
        for n, query in enumerate(queries):
            probes = ((_CHUNKS | _words(query))[:, None] ^ _FLIPS[None, :]).ravel().tolist()
            rows = {r for p in probes for r in self._buckets.get(p, ())}
            raw = bytes.fromhex(query)
            for row in rows:
                d = _distance(raw, self._hashes[row])
                if d <= threshold and (best is None or (d, n, row) < best):
                    best = (d, n, row)
        return (self._keys[best[2]], best[0], best[1]) if best else None


class WordIndex:
    """Pictures filed under their descriptors' leading words, ranked by words shared
    (each weighted by how rare it is)."""

    def __init__(self, words_per_descriptor: int = 2) -> None:
        self.width = words_per_descriptor
        self._buckets: dict[int, list[int]] = {}
        self._keys: list[Hashable] = []

    def __len__(self) -> int:
        return len(self._keys)

    def words(self, descriptors: bytes) -> list[int]:
        rows = np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, 32)
        lead = rows[:, : 2 * self.width].copy().view(">u2").astype(np.uint32)
        return sorted(set((lead | (np.arange(self.width, dtype=np.uint32) << 16)).ravel().tolist()))

    def add(self, key: Hashable, descriptors: bytes) -> None:
        if not descriptors:
            return
        row = len(self._keys)
        self._keys.append(key)
        for word in self.words(descriptors):
            self._buckets.setdefault(word, []).append(row)

    def ranked(self, descriptors: bytes, limit: int = 4, min_shared: int = 3) -> list[Hashable]:
        """Up to ``limit`` keys sharing at least ``min_shared`` words with ``descriptors``, most first."""
        if not descriptors or not self._keys:
            return []
        buckets = [b for w in self.words(descriptors) if (b := self._buckets.get(w))]
        if not buckets:
            return []
        hits = np.fromiter((r for b in buckets for r in b), dtype=np.int64)
        # a word many pictures share (a caption's letters, a site's logo) tells little
        weights = np.repeat([1.0 / len(b) for b in buckets], [len(b) for b in buckets])
        rows, inverse, counts = np.unique(hits, return_inverse=True, return_counts=True)
        score = np.bincount(inverse, weights=weights)
        top = np.argsort(-score, kind="stable")[:limit]
        return [self._keys[int(rows[i])] for i in top if counts[i] >= min_shared]
