"""Readers for the known-hash list formats hotline imports.

Each reader turns a file into a PyArrow table of string columns named like the
normalised schema (any of md5, sha1, sha256, pdq, id, category), plus a function that
names a row the way a person finds it in the file ("line 7", "record 3 (MediaID 12)"),
for error messages. Formats:

- ``parquet``: columns md5, sha1, sha256, pdq, id, category (any subset with a hash).
- ``csv``: a header line, comma, semicolon or tab separated; columns named like the
  Parquet ones (any case; ``MediaID`` is read as id; ``quality`` or ``pdq_quality`` is the
  PDQ's quality); other columns are ignored.
- ``vics``: Project VIC VICS JSON, 1.x (``odata.metadata``) or 2.0 (``@odata.context``):
  ``value`` is a list of Media records with ``MD5``, ``SHA1``, ``SHA256``, ``Category``,
  ``MediaID`` (1.x case records holding a ``Media`` list are flattened).
- ``icse``: the ICSE-style semicolon export ``MD5;SHA1;PhotoDNA;...;Baseline``: MD5 and
  SHA1 are read, the ``Baseline`` flag becomes category ``baseline`` or
  ``non-baseline``; PhotoDNA and the other columns are ignored.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hashing.errors import KnownSetError

FORMATS = ("parquet", "csv", "vics", "icse")
Locate = Callable[[int], str]
_CSV_ALIASES = {
    "md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256",
    "sha-256": "sha256", "pdq": "pdq", "id": "id", "mediaid": "id",
    "category": "category", "quality": "quality", "pdq_quality": "quality",
}  # fmt: skip
_VICS_FIELDS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "PDQ": "pdq",
                "MediaID": "id", "Category": "category"}  # fmt: skip
_TRUE = {"1", "true", "yes", "y", "x"}
_FALSE = {"0", "false", "no", "n", ""}


@dataclass(frozen=True)
class SourceTable:
    table: pa.Table
    locate: Locate
    format: str


def detect_format(path: Path) -> str:
    """The format of ``path`` from its first bytes (and its name for CSV flavours)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise KnownSetError(f"cannot read {str(path)!r}: {exc}") from exc
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")):
        return "vics"
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace").strip().lower()
    fields = [f.strip() for f in first.split(";")]
    if len(fields) > 2 and "photodna" in fields and "md5" in fields:
        return "icse"
    return "csv"


def read_source(path: Path, fmt: str | None = None) -> SourceTable:
    """Read ``path`` in ``fmt`` (detected when ``None``). Raises ``KnownSetError``
    naming the line or record that is wrong."""
    fmt = fmt or detect_format(path)
    readers: dict[str, Callable[[Path], SourceTable]] = {
        "parquet": _read_parquet, "csv": _read_csv, "vics": _read_vics, "icse": _read_icse,
    }  # fmt: skip
    if fmt not in readers:
        raise KnownSetError(f"unknown known-set format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return readers[fmt](Path(path))


def _read_parquet(path: Path) -> SourceTable:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise KnownSetError(f"cannot read {str(path)!r} as Parquet: {exc}") from exc
    return SourceTable(table, lambda row: f"row {row + 1}", "parquet")


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise KnownSetError(f"cannot read {str(path)!r}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise KnownSetError(f"{str(path)!r} is not UTF-8 text: {exc}") from exc


def _csv_rows(path: Path, delimiter: str | None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` rows; a row with the wrong number of
    fields is refused with its line number."""
    text = _text(path)
    if delimiter is None:
        first = text.split("\n", 1)[0]
        delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise KnownSetError(f"{str(path)!r}: empty file, expected a header line") from None
    rows = []
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise KnownSetError(
                    f"{str(path)!r}: line {reader.line_num}: {len(fields)} fields, the "
                    f"header has {len(header)}: {delimiter.join(fields)[:200]!r}"
                )
            rows.append((reader.line_num, fields))
    except csv.Error as exc:
        raise KnownSetError(f"{str(path)!r}: line {reader.line_num}: {exc}") from exc
    return [h.strip() for h in header], rows


def _table(columns: dict[str, list[Any]], count: int) -> pa.Table:
    """String columns; with no hash values at all, an all-null md5 column so that the
    validation names the first row as having no hash."""
    if not columns:
        return pa.table({"md5": pa.nulls(count, pa.string())})
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


def _read_csv(path: Path) -> SourceTable:
    header, rows = _csv_rows(path, None)
    wanted = {n: _CSV_ALIASES[h.lower()] for n, h in enumerate(header) if h.lower() in _CSV_ALIASES}
    targets = list(wanted.values())
    if len(set(targets)) != len(targets):
        raise KnownSetError(f"{str(path)!r}: header names a column twice: {header!r}")
    if not any(t in ("md5", "sha1", "sha256", "pdq") for t in targets):
        raise KnownSetError(
            f"{str(path)!r}: no hash column in the header {header!r}; need one of md5, "
            "sha1, sha256, pdq"
        )
    columns = {target: [fields[n] for _, fields in rows] for n, target in wanted.items()}
    lines = [line for line, _ in rows]
    return SourceTable(_table(columns, len(rows)), lambda row: f"line {lines[row]}", "csv")


def _read_icse(path: Path) -> SourceTable:
    header, rows = _csv_rows(path, ";")
    lower = [h.lower() for h in header]
    if "md5" not in lower and "sha1" not in lower:
        raise KnownSetError(f"{str(path)!r}: not an ICSE export: no MD5 or SHA1 column in {header!r}")
    columns: dict[str, list[Any]] = {}
    for name in ("md5", "sha1"):
        if name in lower:
            n = lower.index(name)
            columns[name] = [fields[n] for _, fields in rows]
    if "baseline" in lower:
        n = lower.index("baseline")
        categories = []
        for line, fields in rows:
            flag = fields[n].strip().lower()
            if flag not in _TRUE | _FALSE:
                raise KnownSetError(
                    f"{str(path)!r}: line {line}: column 'Baseline': {fields[n]!r} is "
                    "not a flag (1/0, true/false, yes/no)"
                )
            categories.append("baseline" if flag in _TRUE else "non-baseline")
        columns["category"] = categories
    lines = [line for line, _ in rows]
    return SourceTable(_table(columns, len(rows)), lambda row: f"line {lines[row]}", "icse")


def _read_vics(path: Path) -> SourceTable:
    try:
        document = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise KnownSetError(
            f"{str(path)!r}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
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
    columns: dict[str, list[Any]] = {target: [] for target in _VICS_FIELDS.values()}
    for where, record in records:
        for field_name, target in _VICS_FIELDS.items():
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
    columns = {
        k: v for k, v in columns.items() if k == "md5" or any(x is not None for x in v)
    }  # md5 stays, so a file without any hash is refused naming its first record
    return SourceTable(_table(columns, len(records)), lambda row: labels[row], "vics")
