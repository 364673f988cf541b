"""ICSE: the ICSE-style semicolon export ``MD5;SHA1;PhotoDNA;...;Baseline``. MD5 and SHA1
are read, the ``Baseline`` flag becomes category ``baseline`` or ``non-baseline`` (the
``icse`` category profile); PhotoDNA and the other columns are ignored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hashing.errors import KnownSetError
from hashing.knownsets.formats.base import KnownSetFormat, SourceTable, delimited_batches, joined, string_table

_TRUE = {"1", "true", "yes", "y", "x"}
_FALSE = {"0", "false", "no", "n", ""}


def is_icse(head: bytes) -> bool:
    """A semicolon header naming PhotoDNA and MD5."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace").strip().lower()
    fields = [f.strip() for f in first.split(";")]
    return len(fields) > 2 and "photodna" in fields and "md5" in fields


def icse_batches(path: Path) -> Iterator[SourceTable]:
    header, batches = delimited_batches(path, ";")
    lower = [h.lower() for h in header]
    if "md5" not in lower and "sha1" not in lower:
        raise KnownSetError(f"{str(path)!r}: not an ICSE export: no MD5 or SHA1 column in {header!r}")
    for rows in batches:
        columns: dict[str, list[Any]] = {}
        for name in ("md5", "sha1"):
            if name in lower:
                n = lower.index(name)
                columns[name] = [fields[n] for _, fields in rows]
        if "baseline" in lower:
            columns["category"] = _categories(path, rows, lower.index("baseline"))
        yield SourceTable(string_table(columns, len(rows)), _lines([line for line, _ in rows]), "icse")


def _categories(path: Path, rows: list[tuple[int, list[str]]], n: int) -> list[str]:
    categories = []
    for line, fields in rows:
        flag = fields[n].strip().lower()
        if flag not in _TRUE | _FALSE:
            raise KnownSetError(
                f"{str(path)!r}: line {line}: column 'Baseline': {fields[n]!r} is "
                "not a flag (1/0, true/false, yes/no)"
            )
        categories.append("baseline" if flag in _TRUE else "non-baseline")
    return categories


def _lines(lines: list[int]) -> Callable[[int], str]:
    return lambda row: f"line {lines[row]}"


ICSE = KnownSetFormat("icse", joined(icse_batches), detect=is_icse, category_profile="icse", batches=icse_batches)
