"""The catalog: hotline's operational state and the records that cross package boundaries.

One job: remember reports, crawls, pages, media, sightings, hashes, known-set matches,
verdicts, exports and the append-only audit log, for several writing processes at once
(SQLite in WAL mode by default, PostgreSQL by URL). The schema is versioned with Alembic.

May import: the standard library, SQLAlchemy, Alembic. Imported by every other package;
it imports none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.catalog import Catalog
    from catalog.errors import Ambiguous, CatalogError, InvalidState, NotFound
    from catalog.records import (
        CrawlError,
        CrawlResult,
        HashRecord,
        MatchRecord,
        MediaRecord,
        PageRecord,
        SightingRecord,
        Verdict,
    )

# Names load on first use, so that a process that needs only the records (a crawl worker,
# which starts once per report) does not import SQLAlchemy and Alembic.
_HOMES = {
    "Catalog": "catalog.catalog",
    **dict.fromkeys(("Ambiguous", "CatalogError", "InvalidState", "NotFound"), "catalog.errors"),
    **dict.fromkeys(("CrawlError", "CrawlResult", "HashRecord", "MatchRecord", "MediaRecord", "PageRecord",
                     "SightingRecord", "Verdict"), "catalog.records"),
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'catalog' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "Ambiguous",
    "Catalog",
    "CatalogError",
    "InvalidState",
    "NotFound",
    "CrawlError",
    "CrawlResult",
    "HashRecord",
    "MatchRecord",
    "MediaRecord",
    "PageRecord",
    "SightingRecord",
    "Verdict",
]
