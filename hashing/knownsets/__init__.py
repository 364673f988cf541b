"""Known-hash sets: import them into a normalised Parquet format, index them, match
against them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashing.knownsets.formats import FORMATS, detect_format
    from hashing.knownsets.importer import KnownSetFile, import_known_set
    from hashing.knownsets.known_set import KnownSet, delete_set_index, open_set_index
    from hashing.knownsets.matcher import Matcher
    from hashing.knownsets.set_schema import columns, hash_columns, validate_set_name

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
_SUBMODULE_OF = {
    "FORMATS": "hashing.knownsets.formats",
    "detect_format": "hashing.knownsets.formats",
    "KnownSetFile": "hashing.knownsets.importer",
    "import_known_set": "hashing.knownsets.importer",
    "KnownSet": "hashing.knownsets.known_set",
    "delete_set_index": "hashing.knownsets.known_set",
    "open_set_index": "hashing.knownsets.known_set",
    "Matcher": "hashing.knownsets.matcher",
    "columns": "hashing.knownsets.set_schema",
    "hash_columns": "hashing.knownsets.set_schema",
    "validate_set_name": "hashing.knownsets.set_schema",
}


def __getattr__(name: str) -> Any:
    module = _SUBMODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it without this hook
    return value


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
