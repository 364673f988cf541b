"""Known-hash sets: import them into a normalised Parquet format, index their PDQ hashes,
match against them."""

from __future__ import annotations

from hashing.knownsets.formats import FORMATS, detect_format
from hashing.knownsets.importer import KnownSetFile, import_known_set
from hashing.knownsets.matcher import KnownSet, Matcher, open_set_index
from hashing.knownsets.mih import MihIndex
from hashing.knownsets.pdq_index import PdqHit, PdqIndex
from hashing.knownsets.schema import COLUMNS, HASH_COLUMNS, validate_set_name
from hashing.knownsets.set_index import SetIndex, delete_set_index

__all__ = [
    "COLUMNS",
    "FORMATS",
    "HASH_COLUMNS",
    "KnownSet",
    "KnownSetFile",
    "Matcher",
    "MihIndex",
    "PdqHit",
    "PdqIndex",
    "SetIndex",
    "delete_set_index",
    "detect_format",
    "import_known_set",
    "open_set_index",
    "validate_set_name",
]
