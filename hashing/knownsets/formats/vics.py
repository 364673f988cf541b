"""VICS: Project VIC VICS JSON, 1.x (``odata.metadata``) or 2.0 (``@odata.context``).
``value`` is a list of Media records (1.x case records holding a ``Media`` list are
flattened) whose hash fields are the signal types' names in capitals (``MD5``, ``SHA1``,
``SHA256``, ``PDQ``), with ``MediaID`` and ``Category``; other fields are ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hashing.errors import KnownSetError
from hashing.knownsets.formats.base import KnownSetFormat, SourceTable, read_text, string_table
from hashing.knownsets.set_schema import hash_columns


def is_json(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"["))


def read_vics(path: Path) -> SourceTable:
    records = _media_records(path)
    fields = {c.upper(): c for c in hash_columns()} | {"MediaID": "id", "Category": "category"}
    columns: dict[str, list[Any]] = {target: [] for target in fields.values()}
    for where, record in records:
        for field_name, target in fields.items():
            raw = record.get(field_name)
            if raw is not None and not isinstance(raw, str | int):
                raise KnownSetError(
                    f"{str(path)!r}: {where}: {field_name!r} must be a string or number, got {raw!r:.80}"
                )
            columns[target].append(None if raw is None else str(raw))
    labels = [
        f"{where} (MediaID {record['MediaID']})" if "MediaID" in record else where
        for where, record in records
    ]
    first = hash_columns()[0]  # stays, so a file without any hash is refused naming its first record
    columns = {k: v for k, v in columns.items() if k == first or any(x is not None for x in v)}
    return SourceTable(string_table(columns, len(records)), lambda row: labels[row], "vics")


def _media_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every Media record with where it is ("record 3", "record 2, media 1")."""
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise KnownSetError(
            f"{str(path)!r}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError:  # Python's parser recurses per level; a VICS record is a few levels deep
        raise KnownSetError(f"{str(path)!r}: JSON nested too deeply to be a VICS document") from None
    if not isinstance(document, dict) or not (
        "odata.metadata" in document or "@odata.context" in document
    ):
        raise KnownSetError(
            f"{str(path)!r}: not a VICS document (no 'odata.metadata' or '@odata.context')"
        )
    value = document.get("value")
    if not isinstance(value, list):
        raise KnownSetError(f"{str(path)!r}: VICS 'value' must be a list of Media records")
    records: list[tuple[str, dict[str, Any]]] = []
    for n, record in enumerate(value, start=1):
        if not isinstance(record, dict):
            raise KnownSetError(f"{str(path)!r}: record {n}: expected an object, got {record!r:.80}")
        media = record.get("Media")
        if isinstance(media, list):  # 1.x: a case with its media
            for k, item in enumerate(media, start=1):
                if not isinstance(item, dict):
                    raise KnownSetError(f"{str(path)!r}: record {n}, media {k}: expected an object")
                records.append((f"record {n}, media {k}", item))
        else:
            records.append((f"record {n}", record))
    return records


VICS = KnownSetFormat("vics", read_vics, detect=is_json)
