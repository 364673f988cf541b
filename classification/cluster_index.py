"""Candidate retrieval for review clustering: which open clusters (or decided items) a new
item may be the same picture as, without comparing it with every one of them.

``PdqIndex`` is a multi-index over 256-bit PDQ hashes: each hash is filed under its sixteen
16-bit words; a hash within distance 31 of a query has, by the pigeonhole principle, a word
at most one bit away from the query's, so probing each word and its sixteen one-bit
neighbours finds every hash within 31 (then the exact distance decides, over all the
candidates at once). Its table is flat (one bucket per word value, addressed directly), so a
look-up is the same few array operations at 10,000 hashes or at 1 million; what grows is the
candidates, 17 x 16 / 65,536 of the hashes filed for each query. ``WordIndex``
files pictures under 28-bit keys taken from the leading bytes of their local feature
descriptors (a binary descriptor's leading bits are its most telling; keys this wide keep
each one's list short however many pictures are filed) and ranks the pictures that share the
most keys with a query; geometric verification then decides. It keeps its lists in one
flat table (``_Postings``), not one Python list per key: a queue of 200,000 pictures files
some 60 million descriptor keys.

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
    """Row numbers filed under keys below ``2 ** bits``, as a flat table like ``PdqIndex``'s:
    the sealed part is one array of (key, row) sorted by key with the offset of each bucket
    (a bucket being the key's top bits), addressed directly; entries added since the last seal
    wait in per-bucket chains. A look-up reads each key's bucket (a few entries, contiguous)
    and its chain: no binary search over growing arrays, whose cache misses made a look-up
    grow with the index. When the chained part reaches a quarter of the sealed part, all is
    sealed again (a merge of two sorted arrays), with about one bucket for every four entries
    (the table grows with them, so buckets and chains stay a few entries long)."""

    _SEAL = 1 << 16
    _PER_ENTRY = 4  # entries a bucket holds, about, when sealed

    def __init__(self, bits: int = 30) -> None:
        self._bits = bits
        self._shift = 0  # key bits below the bucket
        self._offsets: np.ndarray | None = None  # made on the first add
        self._heads = np.zeros(0, dtype=np.int32)
        self._keys = np.zeros(0, dtype=np.uint32)  # the sealed part, by key
        self._rows = np.zeros(0, dtype=np.int32)
        self._chained_keys = np.zeros(1 << 12, dtype=np.uint32)
        self._chained_rows = np.zeros(1 << 12, dtype=np.int32)
        self._links = np.zeros(1 << 12, dtype=np.int32)
        self._chained = 0

    def add(self, keys: np.ndarray, row: int) -> None:
        if self._offsets is None:
            self._size_table(self._SEAL)
        keys = keys.astype(np.uint32)
        end = self._chained + len(keys)
        if end > len(self._chained_keys):
            grown = max(end, 2 * len(self._chained_keys))
            self._chained_keys = np.resize(self._chained_keys, grown)
            self._chained_rows = np.resize(self._chained_rows, grown)
            self._links = np.resize(self._links, grown)
        entries = np.arange(self._chained, end, dtype=np.int32)
        buckets = keys >> self._shift
        self._chained_keys[self._chained:end] = keys
        self._chained_rows[self._chained:end] = row
        # a picture's keys are distinct, but two may share a bucket: those are linked in turn
        order = np.argsort(buckets, kind="stable")
        entries, buckets = entries[order], buckets[order]
        first = np.r_[True, buckets[1:] != buckets[:-1]]
        last = np.r_[buckets[1:] != buckets[:-1], True]
        self._links[entries] = np.where(first, self._heads[buckets], np.r_[-1, entries[:-1]])
        self._heads[buckets[last]] = entries[last]
        self._chained = end
        if self._chained >= max(self._SEAL, len(self._keys) // 4):
            self._seal()

    def _size_table(self, entries: int) -> None:
        """Buckets (a power of two, at most one a key) for about ``entries`` entries."""
        buckets = 1 << min(max(entries // self._PER_ENTRY, 1 << 12).bit_length(), self._bits)
        self._shift = self._bits - (buckets.bit_length() - 1)
        self._offsets = np.zeros(buckets + 1, dtype=np.int64)
        self._heads = np.full(buckets, -1, dtype=np.int32)

    def _seal(self) -> None:
        new_keys, new_rows = self._chained_keys[:self._chained], self._chained_rows[:self._chained]
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_rows = new_keys[order], new_rows[order]
        at = np.searchsorted(self._keys, new_keys, "right") + np.arange(len(new_keys))
        keys = np.zeros(len(self._keys) + len(new_keys), dtype=np.uint32)
        rows = np.zeros(len(keys), dtype=np.int32)
        old = np.ones(len(keys), dtype=bool)
        old[at] = False
        keys[at], rows[at] = new_keys, new_rows
        keys[old], rows[old] = self._keys, self._rows
        self._keys, self._rows = keys, rows
        self._size_table(len(keys))
        assert self._offsets is not None
        self._offsets[1:] = np.cumsum(np.bincount(keys >> self._shift, minlength=len(self._heads)))
        self._chained = 0

    def lookup(self, keys: np.ndarray, most: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The rows filed under ``keys`` (distinct) and, for each, the index in ``keys`` of the
        key that found it; keys filed more than ``most`` times are left out."""
        none = np.zeros(0, dtype=np.int64)
        if self._offsets is None or not len(keys):
            return none.astype(np.int32), none
        keys = keys.astype(np.uint32)
        buckets = keys >> self._shift
        lo, hi = self._offsets[buckets], self._offsets[buckets + 1]
        size = hi - lo
        which = np.repeat(np.arange(len(keys)), size)
        at = np.arange(len(which)) - np.repeat(np.cumsum(size) - size, size) + np.repeat(lo, size)
        match = self._keys[at] == keys[which]
        rows_out, which_out = [self._rows[at[match]]], [which[match]]
        at, which = self._heads[buckets], np.arange(len(keys))
        while True:  # the chains: as long as the longest one read, short since the last seal
            live = at >= 0
            if not live.any():
                break
            at, which = at[live], which[live]
            match = self._chained_keys[at] == keys[which]
            rows_out.append(self._chained_rows[at[match]])
            which_out.append(which[match])
            at = self._links[at]
        # by key, as the keys were given: a picture's shares of the rank then add up in one
        # order wherever its keys are filed (sums of floats depend on their order)
        order = np.argsort(np.concatenate(which_out), kind="stable")
        rows, which = np.concatenate(rows_out)[order], np.concatenate(which_out)[order]
        if most is not None and len(which):
            keep = np.bincount(which, minlength=len(keys)) <= most
            rows, which = rows[keep[which]], which[keep[which]]
        return rows, which


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
        self._postings = _Postings(28 + max(1, (words_per_descriptor - 1).bit_length()))
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
