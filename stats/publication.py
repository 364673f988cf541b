"""What an installation publishes to the network: its statistics, month by month, media-free.

The statistics database is built as for a snapshot (``stats.build``), then cut by calendar
month into the rows the figure views aggregate: the derived tables (``report_facts``,
``item_facts``, ``report_items``, ``takedowns``, ``illegal_sightings``, ``content_urls``),
the ``items`` and ``matches`` that ``known_set_matches`` counts, and how many locations went
to each destination (``exchanged``). Every row belongs to exactly one month (a report's rows
to the month it was received, an item's to the month it was first seen, a content URL's to
the month it was first seen, an export's to the month it was made), so the months of one
installation put together are its whole snapshot, and the views computed over them (the
network snapshot, ``stats.network``) equal the installation's own.

No hash, reporter or analyst leaves: items, URLs and reports are numbers that mean
something only inside one publication (``FORBIDDEN_COLUMNS`` is checked again). No URL or
host either, unless the options' URL policy keeps them: then ``urls`` (the URLs the month's
rows name) and ``exchanged_urls`` (which content URLs went to each destination) go too, so
that a coordinator can count a URL two hotlines saw once and show figures by host.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from catalog.catalog import Catalog
from stats.build import SnapshotOptions, build, build_connection
from stats.errors import SnapshotError
from stats.extract import extract
from stats.snapshot_versions import FORBIDDEN_COLUMNS

# The month each published row belongs to, by table (``{period}``: the month's first day).
_REPORT_MONTH = "report_id IN (SELECT report_id FROM report_facts WHERE month = {period})"
PERIOD_ROWS: dict[str, str] = {
    "report_facts": "SELECT * FROM report_facts WHERE month = {period}",
    "item_facts": "SELECT * FROM item_facts WHERE month = {period}",
    "items": "SELECT item_id, kind, status, first_seen_at FROM items "
             "WHERE CAST(date_trunc('month', first_seen_at) AS DATE) = {period}",
    "matches": "SELECT item_id, set_name, match_type, verdict, matched_at FROM matches WHERE item_id IN "
               "(SELECT item_id FROM items WHERE CAST(date_trunc('month', first_seen_at) AS DATE) = {period})",
    "report_items": f"SELECT * FROM report_items WHERE {_REPORT_MONTH}",
    "takedowns": f"SELECT * FROM takedowns WHERE {_REPORT_MONTH}",
    "illegal_sightings": f"SELECT * FROM illegal_sightings WHERE {_REPORT_MONTH}",
    "content_urls": "SELECT * FROM content_urls WHERE CAST(date_trunc('month', first_seen_at) AS DATE) = {period}",
    # locations told to INTERPOL and partners (URLs exchanged), by destination
    "exchanged": """
        SELECT e.destination, count(*) AS locations, count(DISTINCT l.media_url_id) AS content_urls,
               count(DISTINCT l.item_id) AS items
        FROM export_locations l JOIN exports e USING (export_id)
        WHERE CAST(date_trunc('month', e.created_at) AS DATE) = {period} GROUP BY ALL ORDER BY 1""",
}
_MONTH_OF = "CAST(date_trunc('month', {column}) AS DATE) = {{period}}"
_EXPORTED = ("FROM export_locations l JOIN exports e USING (export_id) WHERE "
             + _MONTH_OF.format(column="e.created_at") + " AND l.media_url_id IS NOT NULL")
# Only under a URL policy that keeps URLs: the URL rows of the month.
URL_ROWS: dict[str, str] = {
    # every URL the month's rows name, each once
    "urls": f"""
        SELECT url_id, host, site_type, url FROM urls WHERE url_id IN (
          SELECT url_id FROM content_urls WHERE {_MONTH_OF.format(column="first_seen_at")}
          UNION SELECT url_id FROM takedowns WHERE {_REPORT_MONTH}
          UNION SELECT media_url_id FROM illegal_sightings WHERE {_REPORT_MONTH}
          UNION SELECT l.media_url_id {_EXPORTED})
        ORDER BY url_id""",
    # the content URLs told to INTERPOL and partners, by destination
    "exchanged_urls": f"SELECT DISTINCT e.destination, l.media_url_id AS url_id {_EXPORTED} ORDER BY ALL",
}
# Whole in every publication: what the rows above are read against.
CONTEXT_ROWS: dict[str, str] = {
    "jurisdictions": "SELECT * FROM jurisdictions",
    "known_sets": "SELECT set_name, source, verdict, \"rows\", enabled, imported_at FROM known_sets",
}
# The months with rows of any kind.
_MONTHS = """
    SELECT DISTINCT month FROM (
      SELECT month FROM report_facts UNION SELECT month FROM item_facts
      UNION SELECT CAST(date_trunc('month', first_seen_at) AS DATE) FROM content_urls
      UNION SELECT CAST(date_trunc('month', created_at) AS DATE) FROM exports)
    WHERE month IS NOT NULL ORDER BY month"""


@dataclass(frozen=True)
class MonthStatistics:
    """One month of an installation's statistics: the rows of each table, as Parquet."""

    period: str  # YYYY-MM
    as_of: datetime  # the catalog state they describe; a later one replaces this one
    country: str
    urls: bool  # the URL rows (URL_ROWS) are among the files
    files: dict[str, bytes]  # <table>.parquet -> Parquet bytes
    rows: dict[str, int]  # rows per table


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def check_period(period: str) -> date:
    """The first day of ``period`` (YYYY-MM), or ValueError."""
    try:
        year, month = (int(p) for p in period.split("-"))
        if len(period) != 7:
            raise ValueError
        return date(year, month, 1)
    except ValueError:
        raise ValueError(f"a statistics period is a month, YYYY-MM, not {period!r}") from None


def _parquet(table: pa.Table) -> bytes:
    bad = sorted(c for c in table.column_names if c.lower() in FORBIDDEN_COLUMNS)
    if bad:
        raise SnapshotError(f"published statistics may not hold {', '.join(bad)}")
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def month_statistics(catalog: Catalog, options: SnapshotOptions, *, last: int | None = None,
                     periods: list[str] | None = None) -> list[MonthStatistics]:
    """The statistics of the given ``periods`` (YYYY-MM), or of the ``last`` months with rows
    (None: every month), from one consistent read of the catalog; with the URL rows unless
    ``options.urls`` is ``none``."""
    with build_connection() as con:
        build(con, extract(catalog, con), options, version="")
        months = [m for (m,) in con.sql(_MONTHS).fetchall()]
        if periods is not None:
            months = [check_period(p) for p in periods]
        elif last is not None:
            months = months[-last:] if last > 0 else []
        context = {name: con.sql(sql).to_arrow_table() for name, sql in CONTEXT_ROWS.items()}
        as_of = con.sql("SELECT as_of FROM snapshot").fetchall()[0][0]
        with_urls = options.urls != "none"
        queries = {**PERIOD_ROWS, **(URL_ROWS if with_urls else {})}
        out = []
        for month in months:
            tables = {name: con.sql(sql.format(period=f"DATE '{month.isoformat()}'")).to_arrow_table()
                      for name, sql in queries.items()} | context
            out.append(MonthStatistics(
                period=period_of(month), as_of=as_of, country=options.country.upper(), urls=with_urls,
                files={f"{name}.parquet": _parquet(t) for name, t in tables.items()},
                rows={name: t.num_rows for name, t in tables.items()}))
        return out
