"""PDQ: the signal type, its hex packing, and the indexes that search known sets for it
(brute force as the reference, multi-index hashing, and the persisted per-set index)."""

from hashing.signals.pdq.brute_force import PdqHit, PdqIndex
from hashing.signals.pdq.mih import MihIndex
from hashing.signals.pdq.packing import bits_to_hex, pdq_to_packed
from hashing.signals.pdq.set_index import SetIndex
from hashing.signals.pdq.signal import DIHEDRAL_NAMES, PDQ_MATCH_THRESHOLD, PdqSignal, pdq_distance

__all__ = [
    "DIHEDRAL_NAMES",
    "PDQ_MATCH_THRESHOLD",
    "MihIndex",
    "PdqHit",
    "PdqIndex",
    "PdqSignal",
    "SetIndex",
    "bits_to_hex",
    "pdq_distance",
    "pdq_to_packed",
]
