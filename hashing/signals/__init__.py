"""Signal types: one hash algorithm per module, all behind ``SignalType``.

Adding a hash is adding one module with one class and listing it in ``SIGNAL_TYPES``.
"""

from __future__ import annotations

from hashing.errors import InvalidHashError
from hashing.signals.base import BytesHasher, ImageHasher, SignalHash, SignalType
from hashing.signals.digests import Md5Signal, Sha1Signal, Sha256Signal
from hashing.signals.pdq import PDQ_MATCH_THRESHOLD, PdqSignal, pdq_distance
from hashing.signals.phash import PhashSignal

SIGNAL_TYPES: dict[str, type[SignalType]] = {
    cls.name: cls
    for cls in (Md5Signal, Sha1Signal, Sha256Signal, PdqSignal, PhashSignal)
}


def get_signal_type(name: str) -> type[SignalType]:
    """The signal type called ``name`` (md5, sha1, sha256, pdq, phash)."""
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise InvalidHashError(
            f"unknown signal type {name!r}; known: {', '.join(SIGNAL_TYPES)}"
        ) from None


__all__ = [
    "PDQ_MATCH_THRESHOLD",
    "SIGNAL_TYPES",
    "BytesHasher",
    "ImageHasher",
    "Md5Signal",
    "PdqSignal",
    "PhashSignal",
    "Sha1Signal",
    "Sha256Signal",
    "SignalHash",
    "SignalType",
    "get_signal_type",
    "pdq_distance",
]
