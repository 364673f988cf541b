"""The catalog: hotline's operational state and the records that cross package boundaries.

One job: remember reports, crawls, pages, media, sightings, hashes, known-set matches,
verdicts, exports and the append-only audit log, for several writing processes at once
(SQLite in WAL mode by default, PostgreSQL by URL). The schema is versioned with Alembic.

May import: the standard library, SQLAlchemy, Alembic. Imported by every other package;
it imports none of them.
"""

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
