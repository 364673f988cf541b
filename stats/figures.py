"""The headline counts, computed with DuckDB over Arrow copies of the catalog's tables.

Only the columns the figures need are read (no URLs, no media); DuckDB never opens the
operational database, so running the figures cannot block a writer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from catalog import Catalog
from catalog.review import current_verdicts
from catalog.schema import matches, media, reports

_COLUMNS: dict[str, list[sa.Column[Any]]] = {
    "reports": [reports.c.id, reports.c.status, reports.c.source],
    "media": [media.c.sha256, media.c.kind, media.c.status],
    "matches": [matches.c.sha256, matches.c.set_name],
}


@dataclass(frozen=True)
class Figures:
    reports: int
    reports_by_status: dict[str, int]
    items: int
    items_by_status: dict[str, int]
    known_items: int  # matched a known set: analyst views spared
    new_items: int  # not in any known set
    known_by_set: dict[str, int]
    verdicts: dict[str, int] = field(default_factory=dict)  # current verdict per item
    verdicts_by_source: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _arrow(conn: sa.Connection, query: sa.Select[Any]) -> pa.Table:
    result = conn.execute(query)
    names = list(result.keys())
    rows = result.all()
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})


def _pairs(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in con.execute(sql).fetchall()}


def compute_figures(catalog: Catalog) -> Figures:
    """Counts of reports, items, known vs new items and verdicts, from one consistent read."""
    cv = current_verdicts()
    with catalog.read() as conn:
        tables = {name: _arrow(conn, sa.select(*cols)) for name, cols in _COLUMNS.items()}
        tables["verdicts"] = _arrow(conn, sa.select(cv.c.sha256, cv.c.verdict, cv.c.source))
    con = duckdb.connect()
    try:
        for name, table in tables.items():
            con.register(name, table)
        one = lambda sql: int(con.execute(sql).fetchone()[0])  # noqa: E731
        known = one("SELECT count(DISTINCT sha256) FROM matches")
        items = one("SELECT count(*) FROM media")
        return Figures(
            reports=one("SELECT count(*) FROM reports"),
            reports_by_status=_pairs(con, "SELECT status, count(*) FROM reports GROUP BY 1 ORDER BY 1"),
            items=items,
            items_by_status=_pairs(con, "SELECT status, count(*) FROM media GROUP BY 1 ORDER BY 1"),
            known_items=known,
            new_items=items - known,
            known_by_set=_pairs(
                con, "SELECT set_name, count(DISTINCT sha256) FROM matches GROUP BY 1 ORDER BY 1"
            ),
            verdicts=_pairs(con, "SELECT verdict, count(*) FROM verdicts GROUP BY 1 ORDER BY 1"),
            verdicts_by_source=_pairs(con, "SELECT source, count(*) FROM verdicts GROUP BY 1 ORDER BY 1"),
        )
    finally:
        con.close()
