"""Hashing and matching items that are already in the evidence store and the catalog.

The flows call these with references (SHA-256s); the bytes are read from the evidence
store into memory one item at a time and dropped once hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catalog import Catalog, HashRecord, MatchRecord
from evidence import EvidenceError
from hashing.errors import HashingError
from hashing.image import HashingConfig, ImageHashes, hash_image
from hashing.known import KnownSet, Matcher


@dataclass(frozen=True)
class HashBatch:
    hashed: list[str] = field(default_factory=list)  # SHA-256s hashed
    records: list[HashRecord] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # SHA-256 -> readable reason


def hash_stored_media(
    load: Callable[[str], bytes], sha256s: Sequence[str], config: HashingConfig = HashingConfig()
) -> HashBatch:
    """Hash every item ``load`` returns; an item that cannot be read or decoded is put in
    ``failed`` with its reason and the others go on."""
    batch = HashBatch()
    for sha256 in sha256s:
        try:
            hashes = hash_image(load(sha256), config)
        except (HashingError, EvidenceError) as exc:
            batch.failed[sha256] = str(exc) or type(exc).__name__
            continue
        batch.hashed.append(sha256)
        batch.records.extend(hashes.records())
    return batch


def image_hashes_from_records(records: Mapping[str, HashRecord]) -> ImageHashes:
    """Rebuild the matchable part of ``ImageHashes`` from stored records (size unknown: 0)."""
    pdq = records["pdq"]
    return ImageHashes(
        sha256=records["sha256"].value,
        md5=records["md5"].value,
        sha1=records["sha1"].value,
        pdq=pdq.value,
        pdq_quality=pdq.quality or 0,
        phash=records["phash"].value,
        width=0,
        height=0,
    )


def match_stored_media(catalog: Catalog, sha256s: Sequence[str]) -> list[MatchRecord]:
    """Match hashed items against every enabled known set registered in the catalog."""
    sets = [
        KnownSet(e.name, Path(e.path), e.verdict, e.pdq_threshold)
        for e in catalog.known_sets(enabled_only=True)
    ]
    if not sets or not sha256s:
        return []
    stored = catalog.hashes_of(sha256s)
    return Matcher(sets).match([image_hashes_from_records(stored[s]) for s in sha256s if s in stored])
