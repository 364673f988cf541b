"""CrawlResult to and from JSON (the worker's stdout), by a pydantic ``TypeAdapter`` over the
record dataclasses: tuples and datetimes come back as they went.

The adapter is built on first use, not on import: a crawl worker starts once per report, and
pydantic is imported and the adapter built only when the worker writes its result.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from catalog.reports.records import CrawlResult
from spiders.errors import InvalidCrawlResult

if TYPE_CHECKING:
    from pydantic import TypeAdapter


@cache
def _adapter() -> TypeAdapter[CrawlResult]:
    from pydantic import TypeAdapter

    return TypeAdapter(CrawlResult)


def _datetime(value: object) -> Any:
    # ``isoformat`` keeps an aware UTC time as "+00:00", as the worker has always written it
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def result_to_json(result: CrawlResult) -> str:
    """One line of JSON."""
    return json.dumps(_adapter().dump_python(result), default=_datetime, separators=(",", ":"))


def result_from_json(text: str) -> CrawlResult:
    """Parse ``result_to_json`` output: strictly (no coercion, no unknown fields); raises
    InvalidCrawlResult (a ValueError) otherwise."""
    from pydantic import ValidationError

    try:
        return _adapter().validate_json(text, strict=True, extra="forbid")
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}"
                    for e in exc.errors(include_url=False, include_input=False)]
        raise InvalidCrawlResult(f"not a crawl result ({len(problems)} problem(s)): {'; '.join(problems[:3])}") from None
