"""What the hashes of any media item share: the hash of each signal type computed for it,
by name, as the catalog stores them and as the matcher looks them up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catalog.media_items.records import HashRecord
from hashing.signals import SignalHash, get_signal_type

ORIGINAL = "original"
"""The variant name of an item's own hash (not turned, mirrored or untrimmed)."""


@dataclass(frozen=True)
class ItemHashes:
    """``signals``: the hash of every signal type computed for the item's kind
    (``signal_types_for``), by name, in registry order."""

    signals: Mapping[str, SignalHash]

    @property
    def sha256(self) -> str:
        """The item's identity everywhere: media, evidence and records are keyed by it."""
        return self.signals["sha256"].value

    @property
    def md5(self) -> str:
        return self.signals["md5"].value

    @property
    def sha1(self) -> str:
        return self.signals["sha1"].value

    def records(self) -> list[HashRecord]:
        """One ``HashRecord`` per signal type (``algorithm``: its name), keyed by this
        file's SHA-256."""
        return [HashRecord(self.sha256, name, h.value, quality=h.quality) for name, h in self.signals.items()]

    def lookups(self, name: str, min_quality: int = 0) -> list[str]:
        """The hashes of signal type ``name`` worth looking up in known sets, without
        repeats: its hash and variants; none when its quality is below ``min_quality``."""
        return [value for _, value in self.named_lookups(name, min_quality)]

    def named_lookups(self, name: str, min_quality: int = 0) -> list[tuple[str, str]]:
        """``lookups`` with the variant each hash is of: ``original`` for the hash
        itself, the signal type's variant names for the others (each hash once, under the
        first variant that gave it), so a match can say which variant it was found by."""
        found = self.signals.get(name)
        if found is None or (found.quality is not None and found.quality < min_quality):
            return []
        names = (ORIGINAL, *getattr(get_signal_type(name), "variant_names", ()))
        return first_name_per_hash(list(zip(names, (found.value, *found.variants), strict=False)))


def first_name_per_hash(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each hash once, under the first variant that gave it, in first-seen order."""
    first: dict[str, str] = {}
    for variant, value in found:
        first.setdefault(value, variant)
    return [(variant, value) for value, variant in first.items()]
