"""Signal types: one hash algorithm per module, all behind ``SignalType``.

``SIGNAL_TYPES`` is the registry the hasher, the catalog records, the known-set importer
and the matcher read: adding a hash is adding one module with one class and listing it
there.
"""

from __future__ import annotations

from hashing.errors import InvalidHashError
from hashing.signals.base import BytesHasher, ImageHasher, Picture, SignalHash, SignalType
from hashing.signals.digests import Md5Signal, Sha1Signal, Sha256Signal
from hashing.signals.index import IndexHit, LinearIndex, SignalIndex
from hashing.signals.pdq import PDQ_MATCH_THRESHOLD, PdqSignal, pdq_distance
from hashing.signals.phash import PhashSignal

SIGNAL_TYPES: dict[str, type[SignalType]] = {
    cls.name: cls
    for cls in (Md5Signal, Sha1Signal, Sha256Signal, PdqSignal, PhashSignal)
}
"""Every signal type by name, in match order: an item's matches in one set are listed in
this order (then ``vpdq``)."""


def get_signal_type(name: str) -> type[SignalType]:
    """The signal type called ``name`` (md5, sha1, sha256, pdq, phash)."""
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise InvalidHashError(
            f"unknown signal type {name!r}; known: {', '.join(SIGNAL_TYPES)}"
        ) from None


def signal_types_for(content_type: str) -> list[type[SignalType]]:
    """The signal types computed for ``content_type`` (``image`` or ``video``)."""
    return [s for s in SIGNAL_TYPES.values() if content_type in s.content_types]


def known_set_signal_types() -> list[type[SignalType]]:
    """The signal types known sets carry, in the order of their columns."""
    return [s for s in SIGNAL_TYPES.values() if s.known_set_column]


__all__ = [
    "PDQ_MATCH_THRESHOLD",
    "SIGNAL_TYPES",
    "BytesHasher",
    "ImageHasher",
    "IndexHit",
    "LinearIndex",
    "Md5Signal",
    "PdqSignal",
    "PhashSignal",
    "Picture",
    "Sha1Signal",
    "Sha256Signal",
    "SignalHash",
    "SignalIndex",
    "SignalType",
    "get_signal_type",
    "known_set_signal_types",
    "pdq_distance",
    "signal_types_for",
]
