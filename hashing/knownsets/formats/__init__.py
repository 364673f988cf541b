"""Readers for the known-hash list formats hotline imports, one module per format.

Each module defines one ``KnownSetFormat`` (name, detection, reader; see ``base``) and
``FORMATS`` lists them once: adding a format is adding its module and its line there.
Shipped: ``parquet``, ``csv`` (also any file no other format recognises), ``vics``
(Project VIC VICS JSON), ``icse`` (the ICSE-style semicolon export), ``vpdq`` (Meta's
vPDQ text output: one known video a file).
"""

from __future__ import annotations

from collections.abc import Iterator
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
    """The format of ``path`` from its first bytes (only those are read). A file no format
    recognises is taken for the text format (CSV) only when it begins as text: junk is
    refused here, before a reader loads the whole of it."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD)
    except OSError as exc:
        raise KnownSetError(f"cannot read {str(path)!r}: {exc}") from exc
    for fmt in FORMATS.values():
        if fmt.detect is not None and fmt.detect(head):
            return fmt.name
    if not _is_text(head):
        raise KnownSetError(f"{str(path)!r} is no known-hash set: its first bytes are neither Parquet, JSON nor "
                            f"UTF-8 text ({', '.join(FORMATS)}; --format names one)")
    return next(f.name for f in FORMATS.values() if f.detect is None)


def _is_text(head: bytes) -> bool:
    """Whether ``head`` is UTF-8 text without NUL bytes (a character cut at its end aside)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return len(head) == _HEAD and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def get_format(name: str) -> KnownSetFormat:
    if name not in FORMATS:
        raise KnownSetError(f"unknown known-set format {name!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS[name]


def read_source(path: Path, fmt: str | None = None) -> SourceTable:
    """Read ``path`` in ``fmt`` (detected when ``None``). Raises ``KnownSetError``
    naming the line or record that is wrong."""
    return get_format(fmt or detect_format(path)).read(Path(path))


def read_batches(path: Path, fmt: str | None = None) -> Iterator[SourceTable]:
    """Read ``path`` in ``fmt`` (detected when ``None``) a batch of rows at a time."""
    return get_format(fmt or detect_format(path)).read_batches(Path(path))


__all__ = [
    "FORMATS",
    "KnownSetFormat",
    "Locate",
    "SourceTable",
    "detect_format",
    "get_format",
    "read_batches",
    "read_source",
]
