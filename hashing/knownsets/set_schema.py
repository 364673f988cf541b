"""The normalised known-hash set format, and the rules for set names.

A set is one Parquet file with exactly these string columns, in this order: one per
signal type known sets carry (``known_set_signal_types``: md5, sha1, sha256, pdq), then
``id`` and ``category``. Every hash is lowercase hex or null and every row has at least
one hash. A set written before a signal type was added lacks its column; readers take
the missing column as empty.
"""

from __future__ import annotations

import re

import pyarrow as pa

from hashing.errors import KnownSetError
from hashing.signals import known_set_signal_types

META_COLUMNS: tuple[str, ...] = ("id", "category")
METADATA_KEY = b"hotline.known_set"

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}", re.IGNORECASE)


def hash_columns() -> tuple[str, ...]:
    """The hash columns of a normalised set, in order."""
    return tuple(s.name for s in known_set_signal_types())


def columns() -> tuple[str, ...]:
    """Every column of a normalised set, in order."""
    return hash_columns() + META_COLUMNS


def arrow_schema() -> pa.Schema:
    return pa.schema([pa.field(name, pa.string()) for name in columns()])


def validate_set_name(name: str) -> str:
    """Return the set name lowercased, or raise ``KnownSetError``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise KnownSetError(
            f"invalid known-set name {name!r}: use 1-64 letters, digits, '_', '.' "
            "or '-', starting with a letter or digit"
        )
    return name.lower()
