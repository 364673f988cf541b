"""How commands print: one JSON document with ``--json``, otherwise a table for people."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

if TYPE_CHECKING:
    from pydantic import TypeAdapter


@cache
def _records() -> TypeAdapter[Any]:
    """Turns records (dataclasses, however nested) into dicts; built on first use, so that
    ``--help`` does not wait for pydantic."""
    from pydantic import TypeAdapter

    return TypeAdapter(Any)


def _leaf(value: Any) -> Any:
    """A value JSON has no type for: naive datetimes (the catalog's, UTC) as ISO 8601 with Z."""
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot show {type(value).__name__} as JSON")


def _to_json(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON: records (dataclasses) as objects, tuples and sets as arrays,
    datetimes as ISO 8601 (UTC, Z), enums as their values, paths as strings."""
    return json.dumps(_records().dump_python(value), default=_leaf, indent=indent, sort_keys=False)


def emit_json(value: Any) -> None:
    sys.stdout.write(_to_json(value, indent=2) + "\n")


def _cell(value: Any) -> str:
    """A table cell: what the JSON document shows, without quotes around a string."""
    return str(json.loads(_to_json(value)))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else _cell(v) for v in row))
    console.print(t)


def fail(message: str, code: int = 1) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)  # one line
    raise SystemExit(code)
