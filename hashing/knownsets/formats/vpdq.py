"""vPDQ: the text output of Meta's vPDQ (and of Hasher-Matcher-Actioner's video signal),
one known video per file, one line a frame: ``frame_number,quality,pdq_hex,seconds``. Every
frame becomes a row of the video, whose ``id`` is the file's name without its extension;
``quality`` is the frame's PDQ quality."""

from __future__ import annotations

import re
from pathlib import Path

from hashing.errors import KnownSetError
from hashing.knownsets.formats.base import KnownSetFormat, SourceTable, read_text, string_table

_LINE = re.compile(r"\s*(\d+)\s*,\s*(\d{1,3})\s*,\s*([0-9a-fA-F]{64})\s*,\s*(\d+(?:\.\d*)?)\s*")


def is_vpdq(head: bytes) -> bool:
    """The first line is a vPDQ frame line."""
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].decode("utf-8", "replace")
    return _LINE.fullmatch(first.strip()) is not None


def read_vpdq(path: Path) -> SourceTable:
    lines: list[int] = []
    pdqs: list[str] = []
    qualities: list[str] = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        found = _LINE.fullmatch(line)
        if found is None:
            raise KnownSetError(
                f"{str(path)!r}: line {number}: not a vPDQ frame line "
                f"(frame_number,quality,pdq_hex,seconds): {line[:200]!r}"
            )
        lines.append(number)
        qualities.append(found.group(2))
        pdqs.append(found.group(3).lower())
    if not pdqs:
        raise KnownSetError(f"{str(path)!r}: no vPDQ frame lines")
    video = Path(path).stem
    table = string_table({"pdq": pdqs, "quality": qualities, "id": [video] * len(pdqs)}, len(pdqs))
    return SourceTable(table, lambda row: f"line {lines[row]}", "vpdq")


VPDQ = KnownSetFormat("vpdq", read_vpdq, detect=is_vpdq)
