"""Hashing and matching items that are already in the evidence store and the catalog.

The flows call these with references (SHA-256s); the bytes are read from the evidence
store into memory one item at a time and dropped once hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catalog.catalog import Catalog
from catalog.known_sets.records import MatchRecord
from catalog.media_items.records import FrameHashRecord, HashRecord
from evidence import EvidenceError
from hashing.errors import HashingError
from hashing.frames import VPDQ_MIN_QUALITY, VPDQ_THRESHOLD
from hashing.knownsets import KnownSet, Matcher
from hashing.media import MediaConfig, hash_media, hashes_from_records
from hashing.video import VideoHashes


@dataclass(frozen=True)
class HashBatch:
    hashed: list[str] = field(default_factory=list)  # SHA-256s hashed
    records: list[HashRecord] = field(default_factory=list)
    frames: list[FrameHashRecord] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # SHA-256 -> readable reason
    # hashed, but not wholly: SHA-256 -> readable reason (a video only partly decoded)
    incomplete: dict[str, str] = field(default_factory=dict)


def hash_stored_media(
    load: Callable[[str], bytes], sha256s: Sequence[str], config: MediaConfig = MediaConfig()
) -> HashBatch:
    """Hash every item ``load`` returns, as an image or a video by its bytes; an item
    that cannot be read or decoded is put in ``failed`` with its reason and the others
    go on; one hashed only in part (a damaged video) is in ``incomplete`` too."""
    batch = HashBatch()
    for sha256 in sha256s:
        try:
            hashes = hash_media(load(sha256), config)
        except (HashingError, EvidenceError) as exc:
            batch.failed[sha256] = str(exc) or type(exc).__name__
            continue
        batch.hashed.append(sha256)
        if isinstance(hashes, VideoHashes) and hashes.incomplete:
            batch.incomplete[sha256] = hashes.incomplete
        batch.records.extend(hashes.records())
        batch.frames.extend(hashes.frame_records())
    return batch


def known_sets_of(catalog: Catalog) -> list[KnownSet]:
    """The enabled known sets registered in the catalog, as the matcher takes them."""
    held = catalog.held_rows()
    return [
        KnownSet(
            e.name, Path(e.path), e.verdict, e.pdq_threshold,
            category_verdicts=e.category_verdicts, benign=e.benign,
            content_sha256=e.content_sha256, categorized=e.categorized,
            category_profile=e.category_profile, held=held.get(e.name, frozenset()),
        )  # fmt: skip
        for e in catalog.known_sets(enabled_only=True)
    ]


def match_stored_media(
    catalog: Catalog,
    sha256s: Sequence[str],
    *,
    min_quality: int = VPDQ_MIN_QUALITY,
    vpdq_threshold: float = VPDQ_THRESHOLD,
) -> list[MatchRecord]:
    """Match hashed items (images and videos) against every enabled known set."""
    sets = known_sets_of(catalog)
    if not sets or not sha256s:
        return []
    stored = catalog.hashes_of(sha256s)
    frames = catalog.frame_hashes_of(sha256s, views=True)
    items = [hashes_from_records(stored[s], frames.get(s)) for s in sha256s if s in stored]
    return Matcher(sets, min_quality=min_quality, vpdq_threshold=vpdq_threshold).match(items)
