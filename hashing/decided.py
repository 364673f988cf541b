"""Match hashed items against the items this hotline already decided.

The same lookups and rules as for a known set's PDQ rows (``knownsets.matcher``): every
hash an item is looked up by (the picture's PDQ and its seven rotations and mirrorings,
the untrimmed picture's, an animation's frames, the edit variants) at or above the PDQ
quality minimum, within the PDQ threshold of a decided picture's PDQ (its quality at or
above the minimum too). Digests need no lookup here: an item is its SHA-256, so a byte
copy of a decided item is that item, decided already.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.catalog import Catalog
from catalog.decisions.records import OwnMatch
from hashing.frames import VPDQ_MIN_QUALITY
from hashing.image import ImageHashes
from hashing.media import hashes_from_records
from hashing.signals.pdq.mih import MihIndex
from hashing.signals.pdq.packing import pdq_to_packed
from hashing.signals.pdq.signal import PDQ_MATCH_THRESHOLD, PdqSignal


def match_decided(
    catalog: Catalog, sha256s: Sequence[str], *, threshold: int = PDQ_MATCH_THRESHOLD,
    min_quality: int = VPDQ_MIN_QUALITY,
) -> list[OwnMatch]:
    """For each hashed picture among ``sha256s``, its nearest hash to every decided picture
    within ``threshold`` (one match per item and decided item, the variant it was found by
    named), in item order, nearest first."""
    asked = set(sha256s)
    sources = [s for s in catalog.decided_sources(min_quality) if s.sha256 not in asked]
    if not sources or not sha256s:
        return []
    stored = catalog.hashes_of(sha256s)
    owners: list[tuple[str, str, int | None]] = []  # (item, variant, quality) per query
    queries: list[str] = []
    for sha256 in sha256s:
        if sha256 not in stored:
            continue
        item = hashes_from_records(stored[sha256])
        found = item.signals.get(PdqSignal.name)
        if not isinstance(item, ImageHashes) or found is None:
            continue
        for variant, value in item.named_lookups(PdqSignal.name, min_quality):
            owners.append((sha256, variant, found.quality))
            queries.append(value)
    if not queries:
        return []
    hits = MihIndex.build(pdq_to_packed([s.pdq for s in sources])).search(pdq_to_packed(queries), threshold)
    best: dict[tuple[str, int], tuple[int, int]] = {}  # (item, source row) -> (distance, query)
    for query, entry, distance in zip(hits.query.tolist(), hits.entry.tolist(), hits.distance.tolist(), strict=True):
        key = (owners[query][0], entry)
        if key not in best or (distance, query) < best[key]:
            best[key] = (distance, query)
    order = {sha256: n for n, sha256 in enumerate(sha256s)}
    return [
        OwnMatch(sha256=item, source=sources[entry], match_type=PdqSignal.name, distance=distance,
                 variant=owners[query][1], quality=owners[query][2])
        for (item, entry), (distance, query) in sorted(best.items(), key=lambda kv: (order[kv[0][0]], kv[1]))
    ]
