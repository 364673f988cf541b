"""Candidate retrieval for review clustering: which open clusters (or decided items) a new
item may be the same picture as, without comparing it with every one of them.

``PdqIndex`` is a multi-index over 256-bit PDQ hashes: each hash is filed under its sixteen
16-bit words; a hash within distance 31 of a query has, by the pigeonhole principle, a word
at most one bit away from the query's, so probing each word and its sixteen one-bit
neighbours finds every hash within 31 (then the exact distance decides, over all the
candidates at once). Its table is flat (one bucket per word value, addressed directly), so a
look-up is the same few array operations at 10,000 hashes or at 1 million. ``WordIndex``
files pictures under 28-bit keys taken from the leading bytes of their local feature
descriptors (a binary descriptor's leading bits are its most telling; keys this wide keep
each one's list short however many pictures are filed) and ranks the pictures that share the
most keys with a query; geometric verification then decides. It keeps its lists as sorted
arrays (``_Postings``), not one Python list per key: a queue of 200,000 pictures files some
60 million descriptor keys.

Both are built once per clustering run and grow as items are placed; a run never rebuilds
them per batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

_FLIPS = np.array([0] + [1 << b for b in range(16)], dtype=np.uint32)
_CHUNKS = np.arange(16, dtype=np.uint32) << 16
_BUCKETS = 16 << 16  # (substring, value) of a PDQ's sixteen 16-bit substrings


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort is quicker than ``np.unique``'s hashing on these sizes)."""
    ordered = np.sort(values, axis=None)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


class _Postings:
    """Row numbers filed under uint32 keys. Added keys wait in a small buffer, which is
    sorted into a run when full; runs merge as they reach the size of the one before
    (a log-structured merge), so adding stays cheap and a lookup is one binary search per
    run (about log2 of the size over the buffer's)."""

    _BUFFER = 1 << 12

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted keys, rows), largest first
        self._pending_keys = np.zeros(self._BUFFER, dtype=np.uint32)
        self._pending_rows = np.zeros(self._BUFFER, dtype=np.int32)
        self._pending = 0

    def add(self, keys: np.ndarray, row: int) -> None:
        if self._pending + len(keys) > self._BUFFER:
            self._seal()
        if len(keys) > self._BUFFER:
            self._pending_keys = np.zeros(len(keys), dtype=np.uint32)
            self._pending_rows = np.zeros(len(keys), dtype=np.int32)
        end = self._pending + len(keys)
        self._pending_keys[self._pending:end] = keys
        self._pending_rows[self._pending:end] = row
        self._pending = end

    def _seal(self) -> None:
        keys, rows = self._pending_keys[:self._pending].copy(), self._pending_rows[:self._pending].copy()
        self._pending = 0
        while self._runs and len(self._runs[-1][0]) <= 2 * len(keys):
            older_keys, older_rows = self._runs.pop()
            keys, rows = np.concatenate([older_keys, keys]), np.concatenate([older_rows, rows])
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], rows[order]))

    def lookup(self, keys: np.ndarray, most: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The rows filed under ``keys`` (distinct, best sorted) and, for each, the index in ``keys`` of
        the key that found it; keys filed more than ``most`` times are left out."""
        keys = keys.astype(np.uint32)
        spans = [(run_keys, run_rows, np.searchsorted(run_keys, keys, "left"), np.searchsorted(run_keys, keys, "right"))
                 for run_keys, run_rows in self._runs]
        pending_keys, pending_rows = self._pending_keys[:self._pending], self._pending_rows[:self._pending]
        order = np.argsort(keys)
        at = np.searchsorted(keys[order], pending_keys) if len(keys) else np.zeros(0, np.int64)
        hit = at < len(keys)
        hit[hit] = keys[order][at[hit]] == pending_keys[hit]
        pending_which = order[at[hit]]
        counts = np.bincount(pending_which, minlength=len(keys))
        for _, _, lo, hi in spans:
            counts += hi - lo
        keep = np.ones(len(keys), dtype=bool) if most is None else counts <= most
        rows_out, which_out = [pending_rows[hit][keep[pending_which]]], [pending_which[keep[pending_which]]]
        for _, run_rows, lo, hi in spans:
            size = np.where(keep, hi - lo, 0)
            total = int(size.sum())
            if total == 0:
                continue
            which = np.repeat(np.arange(len(keys)), size)
            offset = np.arange(total) - np.repeat(np.cumsum(size) - size, size)
            rows_out.append(run_rows[lo[which] + offset])
            which_out.append(which)
        return np.concatenate(rows_out), np.concatenate(which_out)


class PdqIndex:
    """PDQ hashes with a key each, searched for all those within a distance of at most 31.

    A flat multi-index: each hash is filed under its sixteen 16-bit substrings, as entries of
    one table addressed by (substring, value) (65,536 buckets a substring), so a look-up is a
    fixed number of array operations however many hashes are filed. Entries of hashes added
    since the last seal wait in per-bucket chains (a head per bucket, a link per entry: adding
    costs one store a substring); when the chained part reaches a quarter of the sealed part
    (at least 4,096 hashes) everything is sealed again into the flat table, bucket offsets
    and rows sorted by bucket, so the chains stay short and sealing costs, over a run, a few
    sorts of the whole index. Hashes can be withdrawn (a cluster decided meanwhile): their
    rows stay filed but are passed over."""

    _SEAL = 1 << 12

    def __init__(self) -> None:
        self._keys: list[Hashable] = []
        self._row_of: dict[Hashable, int] = {}
        self._hashes = np.zeros((1024, 4), dtype=np.uint64)
        self._live = np.zeros(1024, dtype=bool)
        self._offsets = np.zeros(_BUCKETS + 1, dtype=np.int64)  # the sealed part, by bucket
        self._sealed_rows = np.zeros(0, dtype=np.int32)
        self._sealed = 0  # rows sealed
        self._heads = np.full(_BUCKETS, -1, dtype=np.int32)  # last chained entry of each bucket
        self._links = np.full(1024 * 16, -1, dtype=np.int32)  # entry (row x 16 + substring) -> previous

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable, pdq: str) -> None:
        row = len(self._keys)
        if row == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
            self._live = np.concatenate([self._live, np.zeros_like(self._live)])
            self._links = np.concatenate([self._links, np.full_like(self._links, -1)])
        raw = bytes.fromhex(pdq)
        self._keys.append(key)
        self._row_of[key] = row
        self._hashes[row] = np.frombuffer(raw, dtype=np.uint64)
        self._live[row] = True
        buckets = _CHUNKS | np.frombuffer(raw, dtype=">u2").astype(np.uint32)
        entries = row * 16 + np.arange(16, dtype=np.int32)
        self._links[entries] = self._heads[buckets]
        self._heads[buckets] = entries
        if row + 1 - self._sealed >= max(self._SEAL, self._sealed // 4):
            self._seal()

    def discard(self, key: Hashable) -> None:
        """Withdraw ``key``'s hash from look-ups (no-op when it was never filed)."""
        row = self._row_of.pop(key, None)
        if row is not None:
            self._live[row] = False

    def _seal(self) -> None:
        rows = len(self._keys)
        words = self._hashes[:rows].view(">u2").astype(np.uint32)  # (rows, 16) substrings, in order
        buckets = (_CHUNKS | words).ravel()
        order = np.argsort(buckets, kind="stable")  # rows within a bucket stay oldest first
        self._sealed_rows = (order >> 4).astype(np.int32)
        self._offsets[1:] = np.cumsum(np.bincount(buckets, minlength=_BUCKETS))
        self._sealed = rows
        self._heads.fill(-1)

    def _candidates(self, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, probe index) of every entry filed under the ``probes`` buckets."""
        lo, hi = self._offsets[probes], self._offsets[probes + 1]
        size = hi - lo
        which = np.repeat(np.arange(len(probes)), size)
        offset = np.arange(len(which)) - np.repeat(np.cumsum(size) - size, size)
        rows_out, which_out = [np.take(self._sealed_rows, np.take(lo, which) + offset)], [which]
        at = self._heads[probes]
        which = np.arange(len(probes))
        while True:  # the chains: as long as the longest one probed, short since the last seal
            hit = at >= 0
            if not hit.any():
                break
            which, at = which[hit], at[hit]
            rows_out.append(at >> 4)
            which_out.append(which)
            at = self._links[at]
        return np.concatenate(rows_out).astype(np.int64), np.concatenate(which_out)

    def within(self, queries: Sequence[str], threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every filed hash within ``threshold`` (at most 31) of each query, as arrays of (row,
        query index, distance); a pair may repeat (found through several words)."""
        if threshold > 31:
            raise ValueError(f"the PDQ multi-index finds hashes within 31 bits, not {threshold!r}")
        none = np.zeros(0, dtype=np.int64)
        if not queries or not self._keys:
            return none, none, none
        raw = b"".join(bytes.fromhex(q) for q in queries)
        words = np.frombuffer(raw, dtype=">u2").astype(np.uint32).reshape(len(queries), 16)
        probes = ((_CHUNKS | words)[:, :, None] ^ _FLIPS).reshape(-1)
        rows, probe = self._candidates(probes)
        query = probe // (16 * len(_FLIPS))
        keep = np.take(self._live, rows)
        rows, query = rows[keep], query[keep]
        # each candidate against the query that probed it: a hash within 31 of a query is
        # found by that query's own probes, so no other pairing can be missed
        query_words = np.frombuffer(raw, dtype=np.uint64).reshape(len(queries), 4)
        # np.take and a sum of the four columns: several times quicker than fancy indexing
        # and a sum along a short axis
        bits = np.bitwise_count(np.take(self._hashes, rows, axis=0) ^ np.take(query_words, query, axis=0))
        distances = bits[:, 0].astype(np.int64) + bits[:, 1] + bits[:, 2] + bits[:, 3]
        near = distances <= threshold
        return rows[near], query[near], distances[near]

    def nearest(self, queries: Sequence[str], threshold: int) -> tuple[Hashable, int, int] | None:
        """The nearest hash to any of ``queries`` within ``threshold`` (at most 31), as
        (key, distance, which query); ties go to the earliest query, then the oldest hash."""
        rows, query, distances = self.within(queries, threshold)
        if not len(rows):
            return None
        best = np.lexsort((rows, query, distances))[0]
        return self._keys[int(rows[best])], int(distances[best]), int(query[best])


class WordIndex:
    """Pictures filed under keys from their descriptors' leading bytes, ranked by keys
    shared (each weighted by how rare it is)."""

    def __init__(self, words_per_descriptor: int = 2, common: int = 2000) -> None:
        self.width = words_per_descriptor  # 4-byte words per descriptor, each a 28-bit key
        self.common = common  # a key filed more often than this is passed over when ranking
        self._postings = _Postings()
        self._keys: list[Hashable] = []
        self._row_of: dict[Hashable, int] = {}
        self._withdrawn = np.zeros(0, dtype=bool)  # by row, as long as the last row withdrawn

    def __len__(self) -> int:
        return len(self._keys)

    def discard(self, key: Hashable) -> None:
        """Withdraw ``key``'s picture from rankings (no-op when it was never filed)."""
        row = self._row_of.pop(key, None)
        if row is None:
            return
        if row >= len(self._withdrawn):
            self._withdrawn = np.concatenate([self._withdrawn, np.zeros(len(self._keys) - len(self._withdrawn), bool)])
        self._withdrawn[row] = True

    def words(self, descriptors: bytes) -> np.ndarray:
        rows = np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, 32)
        lead = rows[:, : 4 * self.width].copy().view(">u4").astype(np.uint32)
        # the word's leading 28 bits, the word's place in the top 4 (a key per place)
        return _distinct((lead >> 4) | (np.arange(self.width, dtype=np.uint32) << 28))

    def add(self, key: Hashable, descriptors: bytes) -> None:
        if not descriptors:
            return
        row = len(self._keys)
        self._keys.append(key)
        self._row_of[key] = row
        self._postings.add(self.words(descriptors), row)

    def ranked(self, descriptors: bytes, limit: int = 4, min_shared: int = 3) -> list[Hashable]:
        """Up to ``limit`` keys sharing at least ``min_shared`` words with ``descriptors``, most first."""
        if not descriptors or not self._keys:
            return []
        rows, which = self._postings.lookup(self.words(descriptors), most=self.common)
        if not len(rows):
            return []
        # a word many pictures share (a caption's letters, a site's logo) tells little
        weights = 1.0 / np.bincount(which)[which]
        found, inverse, counts = np.unique(rows, return_inverse=True, return_counts=True)
        score = np.bincount(inverse, weights=weights)
        if len(self._withdrawn):
            live = found >= len(self._withdrawn)
            live[~live] = ~self._withdrawn[found[~live]]
            found, score, counts = found[live], score[live], counts[live]
        top = np.argsort(-score, kind="stable")[:limit]
        return [self._keys[int(found[i])] for i in top if counts[i] >= min_shared]
