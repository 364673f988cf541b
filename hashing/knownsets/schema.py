"""The normalised known-hash set format, and the rules for set names.

A set is one Parquet file with exactly these string columns, in this order; every hash
is lowercase hex or null and every row has at least one hash.
"""

from __future__ import annotations

import re

import pyarrow as pa

from hashing.errors import KnownSetError
from hashing.signals import SIGNAL_TYPES

HASH_COLUMNS: tuple[str, ...] = ("md5", "sha1", "sha256", "pdq")
DIGEST_COLUMNS: tuple[str, ...] = ("md5", "sha1", "sha256")
META_COLUMNS: tuple[str, ...] = ("id", "category")
COLUMNS: tuple[str, ...] = HASH_COLUMNS + META_COLUMNS
SCHEMA = pa.schema([pa.field(name, pa.string()) for name in COLUMNS])
HEX_LENGTHS: dict[str, int] = {
    name: SIGNAL_TYPES[name].hex_length for name in HASH_COLUMNS
}
METADATA_KEY = b"hotline.known_set"

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}", re.IGNORECASE)


def validate_set_name(name: str) -> str:
    """Return the set name lowercased, or raise ``KnownSetError``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise KnownSetError(
            f"invalid known-set name {name!r}: use 1-64 letters, digits, '_', '.' "
            "or '-', starting with a letter or digit"
        )
    return name.lower()
