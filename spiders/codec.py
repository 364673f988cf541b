"""CrawlResult to and from JSON (the worker's stdout), restoring tuples and datetimes."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from typing import Any, TypeVar

from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlError, CrawlResult, PageRecord, PendingMedia
from spiders.errors import InvalidCrawlResult

T = TypeVar("T")

_NESTED: dict[str, type] = {
    "pages": PageRecord,
    "media": MediaRecord,
    "sightings": SightingRecord,
    "errors": CrawlError,
    "pending": PendingMedia,
}


def _default(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _plain(value: Any) -> Any:
    """A record as JSON-ready values (``dataclasses.asdict`` without its deep copies,
    which cost seconds on a crawl of thousands of items)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def result_to_json(result: CrawlResult) -> str:
    """One line of JSON."""
    return json.dumps(_plain(result), default=_default, separators=(",", ":"))


def _allows(hint: Any, kind: type) -> bool:
    if hint is kind:
        return True
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return kind in typing.get_args(hint)
    return False


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """``cls``'s field types, resolved once per class."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _record(cls: type[T], data: Any) -> T:
    if not isinstance(data, dict):
        raise InvalidCrawlResult(f"{cls.__name__} must be a JSON object, got {data!r}")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in hints:
            raise InvalidCrawlResult(f"unknown {cls.__name__} field {name!r}")
        hint = hints[name]
        if isinstance(value, str) and _allows(hint, datetime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list) and typing.get_origin(hint) is tuple:
            value = tuple(value)
        values[name] = value
    return cls(**values)


def result_from_json(text: str) -> CrawlResult:
    """Parse ``result_to_json`` output; raises InvalidCrawlResult (a ValueError) otherwise."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise InvalidCrawlResult("a crawl result must be a JSON object with a 'url'")
    values: dict[str, Any] = {"url": data.pop("url")}
    for name, cls in _NESTED.items():
        items = data.pop(name, [])
        if not isinstance(items, list):
            raise InvalidCrawlResult(f"{name!r} must be a list")
        values[name] = tuple(_record(cls, item) for item in items)
    stats = data.pop("stats", {})
    if not isinstance(stats, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in stats.items()
    ):
        raise InvalidCrawlResult("'stats' must map names to integers")
    if data:
        raise InvalidCrawlResult(f"unknown crawl result fields: {sorted(data)!r}")
    return CrawlResult(**values, stats=stats)
