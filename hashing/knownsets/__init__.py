"""Known-hash sets: import them into a normalised Parquet format, index them, match
against them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from hashing.knownsets.formats import FORMATS, detect_format
    from hashing.knownsets.importer import KnownSetFile, import_known_set
    from hashing.knownsets.known_set import KnownSet, delete_set_index, open_set_index
    from hashing.knownsets.matcher import Matcher
    from hashing.knownsets.set_schema import columns, hash_columns, validate_set_name

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "formats": ["FORMATS", "detect_format"],
    "importer": ["KnownSetFile", "import_known_set"],
    "known_set": ["KnownSet", "delete_set_index", "open_set_index"],
    "matcher": ["Matcher"],
    "set_schema": ["columns", "hash_columns", "validate_set_name"],
})[0]


__all__ = [
    "FORMATS",
    "KnownSet",
    "KnownSetFile",
    "Matcher",
    "columns",
    "delete_set_index",
    "detect_format",
    "hash_columns",
    "import_known_set",
    "open_set_index",
    "validate_set_name",
]
