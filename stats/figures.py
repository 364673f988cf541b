"""The figures, read from a statistics database: live (built in memory from the catalog)
or from the current snapshot. Both run the same views (``stats.views``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from catalog.catalog import Catalog
from stats.build import SnapshotOptions, build, build_connection
from stats.extract import extract
from stats.snapshot_versions import open_snapshot
from stats.views import VIEWS


@dataclass(frozen=True)
class Figures:
    """The headline counts for one jurisdiction, and the rows of every figure view."""

    as_of: datetime  # the catalog state the figures describe
    version: str | None  # the snapshot's version; None when computed live
    jurisdiction: str  # the figures below are for this jurisdiction
    jurisdictions: list[str]  # every jurisdiction the database has verdicts for, home first
    reports: int
    reports_by_status: dict[str, int]
    items: int
    items_by_status: dict[str, int]
    known_items: int  # matched a known set
    new_items: int  # in no known set
    known_by_set: dict[str, int]
    verdicts: dict[str, int]  # current verdict per item
    verdicts_by_source: dict[str, int]
    overview: dict[str, Any]  # the jurisdiction's row of the ``overview`` view
    views: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # every view: this jurisdiction's rows

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rel = con.sql(sql)
    names = rel.columns
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def _pairs(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in con.sql(sql).fetchall()}


def read_figures(con: duckdb.DuckDBPyConnection, jurisdiction: str | None = None) -> Figures:
    """The figures of the statistics database ``con`` for ``jurisdiction`` (default: ours)."""
    snapshot = _rows(con, "SELECT version, as_of, country FROM snapshot")[0]
    known = [str(j) for (j,) in con.sql("SELECT jurisdiction FROM jurisdictions ORDER BY NOT own, 1").fetchall()]
    where = (jurisdiction or snapshot["country"]).upper()
    if where not in known:
        raise ValueError(f"no figures for jurisdiction {where!r}; there are figures for {', '.join(known)}")
    views = {name: [row for row in _rows(con, f"SELECT * FROM {name}") if row.get("jurisdiction", where) == where]
             for name in VIEWS}
    o = views["overview"][0]
    quoted = "'" + where.replace("'", "''") + "'"
    return Figures(
        as_of=snapshot["as_of"],
        version=snapshot["version"] or None,
        jurisdiction=where,
        jurisdictions=known,
        reports=o["reports_received"],
        reports_by_status=_pairs(con, "SELECT status, count(*) FROM reports GROUP BY 1 ORDER BY 1"),
        items=o["items"],
        items_by_status=_pairs(con, "SELECT status, count(*) FROM items GROUP BY 1 ORDER BY 1"),
        known_items=o["items_known"],
        new_items=o["items_new"],
        known_by_set=_pairs(con, "SELECT set_name, count(DISTINCT item_id) FROM matches GROUP BY 1 ORDER BY 1"),
        verdicts=_pairs(con, f"SELECT verdict, count(*) FROM item_facts WHERE jurisdiction = {quoted} "
                             "AND verdict IS NOT NULL GROUP BY 1 ORDER BY 1"),
        verdicts_by_source=_pairs(con, f"SELECT verdict_source, count(*) FROM item_facts WHERE jurisdiction = "
                                       f"{quoted} AND verdict IS NOT NULL GROUP BY 1 ORDER BY 1"),
        overview=o,
        views=views,
    )


def compute_figures(catalog: Catalog, options: SnapshotOptions | None = None,
                    jurisdiction: str | None = None) -> Figures:
    """The figures of the catalog as it is now, built in memory from one consistent read."""
    with build_connection() as con:
        build(con, extract(catalog, con), options or SnapshotOptions(), version="")
        return read_figures(con, jurisdiction)


def snapshot_figures(folder: Path, jurisdiction: str | None = None) -> Figures:
    """The figures of the current snapshot in ``folder``."""
    con = open_snapshot(folder)
    try:
        return read_figures(con, jurisdiction)
    finally:
        con.close()
