"""Known-hash sets: import them into a normalised Parquet format, match against them."""

from __future__ import annotations

from hashing.known.importer import KnownSetFile, import_known_set
from hashing.known.matcher import KnownSet, Matcher
from hashing.known.pdq_index import PdqHit, PdqIndex
from hashing.known.schema import COLUMNS, HASH_COLUMNS, validate_set_name

__all__ = [
    "COLUMNS",
    "HASH_COLUMNS",
    "KnownSet",
    "KnownSetFile",
    "Matcher",
    "PdqHit",
    "PdqIndex",
    "import_known_set",
    "validate_set_name",
]
