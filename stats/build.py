"""Build the statistics database in DuckDB from one extract of the catalog.

The same build serves a snapshot file (``stats.snapshot_versions``) and the figures computed live
in memory (``hotline stats``): base tables (pseudonymised rows), derived tables (one row per
item, report and tracked URL), then the figure views. The extract is staged as temporary
tables (``src_*``, see ``stats.extract``) and temporary lookup tables, all dropped at the end,
so no SHA-256 and no URL beyond the URL policy reaches the database file. Staging casts every
column to the DuckDB type of its catalog column, so the snapshot's schema does not depend
on the data (nor on SQLite or PostgreSQL).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb

from catalog.duck import connect
from stats.extract import Extract, drop_staged
from stats.facts import FACTS
from stats.tables import OWN_SOURCES, URL_POLICIES, base_tables_sql, staging_sql
from stats.views import VIEWS

# DuckDB's own memory while it builds a statistics database: with the process's other needs
# (Python, the libraries, a batch of rows in flight) it keeps the build under 1 GB, whatever
# the catalog's size. What does not fit is spilled to disk.
MEMORY_LIMIT = "600MB"


@dataclass(frozen=True)
class SnapshotOptions:
    """What a statistics database holds: whose jurisdiction the verdicts are for, and how
    much of each URL (``none``, ``host`` or ``full``)."""

    country: str = "XX"
    urls: str = "host"

    def __post_init__(self) -> None:
        if self.urls not in URL_POLICIES:
            raise ValueError(f"URL policy must be one of {', '.join(URL_POLICIES)}, not {self.urls!r}")
        if not (len(self.country) == 2 and self.country.isalpha()):
            raise ValueError(f"country must be an ISO 3166 two-letter code, not {self.country!r}")


def _software() -> str:
    try:
        return f"hotline {version('hotline')}"
    except PackageNotFoundError:  # running from a checkout that was not installed
        return "hotline"


@contextmanager
def build_connection(database: Path | None = None, **config: Any) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to build a statistics database in: the file ``database``, or memory (the
    figures computed live, a month's publication). Its memory is bounded by ``MEMORY_LIMIT``;
    sorts, joins and aggregates beyond it spill to temporary files, next to the file (never
    into it) or in a temporary folder of their own, which DuckDB empties when it closes."""
    with ExitStack() as stack:
        if database is None:
            spill = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-stats-")))
        else:
            spill = database.with_name(database.name + ".tmp")
        con = connect(database or ":memory:", memory_limit=MEMORY_LIMIT, spill_to=spill, **config)
        stack.callback(con.close)
        yield con


def build(con: duckdb.DuckDBPyConnection, extract: Extract, options: SnapshotOptions, *, version: str) -> None:
    """Create the base tables, derived tables and views of the statistics database in ``con``
    from the rows ``extract`` staged there, and drop those rows."""
    con.execute("SET preserve_insertion_order = false")  # tables are sets; lets DuckDB write in parallel
    try:
        for sql in staging_sql():
            con.execute(sql)
        con.execute(
            "CREATE TABLE snapshot AS SELECT ? AS version, CAST(? AS TIMESTAMP) AS as_of, ? AS catalog_revision, "
            "? AS country, ? AS url_policy, CAST(? AS VARCHAR[]) AS own_sources, ? AS software",
            [version, extract.as_of, extract.catalog_revision, options.country.upper(), options.urls,
             list(OWN_SOURCES), _software()],
        )
        for name, sql in base_tables_sql(country=options.country.upper(), url_policy=options.urls).items():
            con.execute(f"CREATE TABLE {name} AS {sql}")
        _drop_staging(con)  # the derived tables read the base tables only: give their memory to them
        # Their aggregates (arg_max of text, windows over millions of rows) keep per-thread
        # state that DuckDB cannot spill: one thread holds half of it, within the memory limit.
        threads = con.sql("SELECT current_setting('threads')").fetchall()[0][0]
        con.execute("SET threads = 1")
        try:
            for name, sql in FACTS.items():
                con.execute(f"CREATE TABLE {name} AS {sql}")
        finally:
            con.execute(f"SET threads = {int(threads)}")
        for name, sql in VIEWS.items():
            con.execute(f"CREATE VIEW {name} AS {sql}")
    finally:
        _drop_staging(con)


def _drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    drop_staged(con)
    con.execute("DROP TABLE IF EXISTS temp.item_map")
    con.execute("DROP TABLE IF EXISTS temp.url_map")


def relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every table and view of a statistics database: ``{name: 'table' | 'view'}``."""
    rows = con.sql(
        "SELECT table_name, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_type, table_name"
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}
