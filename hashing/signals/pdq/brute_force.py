"""Exact brute-force PDQ index: every entry within a Hamming threshold of a query.

Hashes are packed to ``uint64[N, 4]`` and compared with a vectorised XOR + popcount,
in blocks so memory stays bounded whatever the index size. ``build`` / ``query`` are
the seam: a FAISS or multi-index implementation can replace this class later, with
these results (all hits, exact distances) as the reference it must reproduce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hashing.signals.pdq.packing import pdq_to_packed
from hashing.signals.pdq.signal import PDQ_MATCH_THRESHOLD

_BLOCK_WORDS = 1 << 22
"""uint64 words per XOR block (32 MiB): bounds memory per comparison step."""


@dataclass(frozen=True, slots=True)
class PdqHit:
    """Entry ``index`` (its position in the ``build`` input) at ``distance`` bits."""

    index: int
    distance: int


class PdqIndex:
    """Brute-force index over PDQ hashes; exact results for any threshold."""

    def __init__(self, packed: np.ndarray) -> None:
        if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != 32:
            raise ValueError(
                f"expected uint8 [N, 32] packed PDQ hashes, got {packed.shape}"
            )
        self._words = np.ascontiguousarray(packed).view(np.uint64)

    @classmethod
    def build(cls, hashes: Sequence[str]) -> PdqIndex:
        """Index PDQ hex strings; raises ``InvalidHashError`` on a malformed one."""
        return cls(pdq_to_packed(hashes))

    def __len__(self) -> int:
        return int(self._words.shape[0])

    def query(
        self, hashes: Sequence[str], threshold: int = PDQ_MATCH_THRESHOLD
    ) -> list[list[PdqHit]]:
        """For each query hash, every entry within ``threshold`` bits, nearest first
        (ties by entry index)."""
        queries = pdq_to_packed(hashes).view(np.uint64)
        results: list[list[PdqHit]] = [[] for _ in range(len(queries))]
        if not len(self) or not len(queries):
            return results
        entry_block = max(1, min(len(self), _BLOCK_WORDS // 4))
        query_block = max(1, _BLOCK_WORDS // (4 * entry_block))
        for e0 in range(0, len(self), entry_block):
            entries = self._words[e0 : e0 + entry_block]
            for q0 in range(0, len(queries), query_block):
                block = queries[q0 : q0 + query_block]
                distances = _popcount(block[:, None, :] ^ entries[None, :, :]).sum(
                    axis=2, dtype=np.int32
                )
                for q, e in zip(*np.nonzero(distances <= threshold), strict=True):
                    results[q0 + q].append(PdqHit(e0 + int(e), int(distances[q, e])))
        for hits in results:
            hits.sort(key=lambda hit: (hit.distance, hit.index))
        return results


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per uint64 (``np.bitwise_count`` on NumPy 2, a byte table before)."""
    if hasattr(np, "bitwise_count"):
        counts: np.ndarray = np.bitwise_count(words)
        return counts
    return _popcount_by_table(words)


def _popcount_by_table(words: np.ndarray) -> np.ndarray:
    per_byte: np.ndarray = _BYTE_BITS[words.view(np.uint8)]
    summed: np.ndarray = per_byte.reshape(*words.shape, 8).sum(axis=-1, dtype=np.uint8)
    return summed
