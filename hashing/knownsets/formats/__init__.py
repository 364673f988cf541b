"""Readers for the known-hash list formats hotline imports, one module per format.

Each module defines one ``KnownSetFormat`` (name, detection, reader; see ``base``) and
``FORMATS`` lists them once: adding a format is adding its module and its line there.
Shipped: ``parquet``, ``csv`` (also any file no other format recognises), ``vics``
(Project VIC VICS JSON), ``icse`` (the ICSE-style semicolon export), ``vpdq`` (Meta's
vPDQ text output: one known video a file).
"""

from __future__ import annotations

from pathlib import Path

from hashing.errors import KnownSetError
from hashing.knownsets.formats.base import KnownSetFormat, Locate, SourceTable
from hashing.knownsets.formats.delimited import CSV
from hashing.knownsets.formats.icse import ICSE
from hashing.knownsets.formats.parquet import PARQUET
from hashing.knownsets.formats.vics import VICS
from hashing.knownsets.formats.vpdq import VPDQ

FORMATS: dict[str, KnownSetFormat] = {f.name: f for f in (PARQUET, CSV, VICS, ICSE, VPDQ)}
"""Every format by name; detection asks them in this order, the one without ``detect``
last."""

_HEAD = 4096


def detect_format(path: Path) -> str:
    """The format of ``path`` from its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD)
    except OSError as exc:
        raise KnownSetError(f"cannot read {str(path)!r}: {exc}") from exc
    for fmt in FORMATS.values():
        if fmt.detect is not None and fmt.detect(head):
            return fmt.name
    return next(f.name for f in FORMATS.values() if f.detect is None)


def get_format(name: str) -> KnownSetFormat:
    if name not in FORMATS:
        raise KnownSetError(f"unknown known-set format {name!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS[name]


def read_source(path: Path, fmt: str | None = None) -> SourceTable:
    """Read ``path`` in ``fmt`` (detected when ``None``). Raises ``KnownSetError``
    naming the line or record that is wrong."""
    return get_format(fmt or detect_format(path)).read(Path(path))


__all__ = [
    "FORMATS",
    "KnownSetFormat",
    "Locate",
    "SourceTable",
    "detect_format",
    "get_format",
    "read_source",
]
