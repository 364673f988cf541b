"""PDQ hashes between their hex form and the packed bytes the indexes compare.

The hex form is Meta's reference one: the ``pdqhash`` binding's bit vector read most
significant bit first, so these hashes compare directly with ThreatExchange and NCMEC lists.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hashing.signals.base import normalise_hex

PDQ_HEX_LENGTH = 64


def bits_to_hex(bits: np.ndarray) -> str:
    """The 256-entry 0/1 vector from ``pdqhash`` as 64 hex digits, MSB first."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def pdq_to_packed(hashes: Sequence[str]) -> np.ndarray:
    """Validated PDQ hex strings as a ``uint8`` array of shape ``[N, 32]``."""
    if not hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    joined = "".join(normalise_hex(h, "pdq", PDQ_HEX_LENGTH) for h in hashes)
    return np.frombuffer(bytes.fromhex(joined), dtype=np.uint8).reshape(len(hashes), 32)
