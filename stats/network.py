"""The network snapshot: every publishing hotline's monthly statistics in one DuckDB file.

A coordinator keeps the newest statistics of each (hotline, month) it received in
``<received>/<hotline>/<YYYY-MM>/`` (``manifest.json`` and the Parquet files of
``stats.publication``). The network snapshot is built from them: per hotline, the months
are put together and the figure views of ``stats.views`` computed over them, exactly as the
hotline's own snapshot computes them; each view's rows are kept with a ``hotline`` column
(the publisher; the column a view already called ``hotline``, whose report it was, becomes
``reported_by``). The network figures (``NETWORK_TITLES``) sum and compare across hotlines;
where hotlines publish their URL rows, a URL two of them saw counts once in the figures per
URL. It is written as a versioned snapshot (``stats.snapshot_versions``), read like the local one.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from catalog.db import utcnow
from catalog.duck import connect
from stats.errors import NoSnapshot
from stats.facts import working_days
from stats.figures import Figures
from stats.publication import CONTEXT_ROWS, PERIOD_ROWS, check_period
from stats.snapshot_versions import (
    DATABASE,
    STORAGE_VERSION,
    _check_media_free,
    _fsync,
    _write_parquet,
    current_database,
    publish_version,
)
from stats.views import VIEWS

ITEM_KEYED = ("item_facts", "items", "matches", "report_items", "takedowns", "illegal_sightings")
# URL numbers are numbers of one publication too: the columns that carry them, by table
URL_KEYED = {"content_urls": "url_id", "takedowns": "url_id", "illegal_sightings": "media_url_id"}
URL_TABLES = {"urls": "url_id BIGINT, host VARCHAR, site_type VARCHAR, url VARCHAR",
              "exchanged_urls": "destination VARCHAR, url_id BIGINT"}
MANIFEST = "manifest.json"
THREE_DAYS_H = 72


@dataclass(frozen=True)
class Received:
    """One month of one hotline's statistics, as the coordinator keeps it."""

    hotline: str
    period: str
    as_of: datetime
    country: str
    bundle_id: str
    path: Path
    urls_included: bool  # the month's URL rows came (the publisher's HOTLINE_STATS_PUBLISH_URLS)
    partner_countries: tuple[str, ...]  # the countries the publisher's partner hotlines handle


@dataclass(frozen=True)
class NetworkInfo:
    version: str
    path: Path
    hotlines: list[str]
    periods: int
    seconds: float
    rows: dict[str, int]


def read_received(folder: Path) -> list[Received]:
    """Every (hotline, month) kept in ``folder``, ordered by hotline and month."""
    out: list[Received] = []
    if not folder.is_dir():
        return out
    for hotline in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for month in sorted(p for p in hotline.iterdir() if not p.name.startswith(".")):
            m = json.loads((month / MANIFEST).read_text())
            # bundles from before URL rows and partner countries were published have neither
            out.append(Received(hotline=hotline.name, period=m["period"], as_of=_instant(m["as_of"]),
                                country=m["sender_country"], bundle_id=m["bundle_id"], path=month.resolve(),
                                urls_included=bool(m.get("urls_included", False)),
                                partner_countries=tuple(m.get("partner_countries", ()))))
    return out


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z"))


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _hotline_tables(months: list[Received]) -> duckdb.DuckDBPyConnection:
    """An in-memory database of one hotline's months put together, with its figure views.
    Item and URL numbers are numbers of one publication: each month's are moved to a range of
    its own. The URL rows come from the months that carry them; the others add none."""
    con = connect()
    for name in [*PERIOD_ROWS, *URL_TABLES]:
        parts = []
        for k, m in enumerate(months):
            if name in URL_TABLES and not m.urls_included:
                continue
            moved = [f"item_id + {k << 32} AS item_id"] if name in ITEM_KEYED else []
            url_column = "url_id" if name in URL_TABLES else URL_KEYED.get(name)
            if url_column:
                moved.append(f"{url_column} + {k << 32} AS {url_column}")
            rekey = f" REPLACE ({', '.join(moved)})" if moved else ""
            parts.append(f"SELECT *{rekey}, DATE '{check_period(m.period).isoformat()}' AS period "
                         f"FROM read_parquet({_quote(m.path / f'{name}.parquet')})")
        if parts:
            con.execute(f"CREATE TABLE {name} AS " + " UNION ALL BY NAME ".join(parts))
        else:  # no month of this hotline carries URL rows: views by host show it as unknown
            con.execute(f"CREATE TABLE {name} ({URL_TABLES[name]}, period DATE)")
    newest = max(months, key=lambda m: m.as_of)
    every = ", ".join(_quote(m.path / "jurisdictions.parquet") for m in months)
    con.execute(f"CREATE TABLE jurisdictions AS SELECT jurisdiction, bool_or(own) AS own FROM read_parquet([{every}]) "
                "GROUP BY ALL ORDER BY 2 DESC, 1")
    con.execute(f"CREATE TABLE known_sets AS SELECT * FROM read_parquet({_quote(newest.path / 'known_sets.parquet')})")
    # the views read the state's moment (what is overdue) and the home country here
    con.execute("CREATE TABLE snapshot AS SELECT CAST(? AS TIMESTAMP) AS as_of, ? AS country",
                [newest.as_of, newest.country])
    for name, sql in VIEWS.items():
        con.execute(f"CREATE VIEW {name} AS {sql}")
    return con


def _with_hotline(table: pa.Table, hotline: str) -> pa.Table:
    if "hotline" in table.column_names:
        table = table.rename_columns(["reported_by" if c == "hotline" else c for c in table.column_names])
    return table.add_column(0, "hotline", pa.array([hotline] * table.num_rows, pa.string()))


def _scoped(table: str) -> str:
    """``table``'s rows under each jurisdiction, and again as ``home``: each hotline's own."""
    return f"""(SELECT * FROM {table}
                UNION ALL BY NAME
                SELECT * REPLACE ('home' AS jurisdiction) FROM {table}
                WHERE (hotline, jurisdiction) IN (SELECT (hotline, jurisdiction) FROM jurisdictions WHERE own))"""


# A content URL's identity in the network: its URL where its hotline published URL rows, else
# its number, which is unique within its hotline (numbers are moved apart per month; a hotline's
# snapshot has at most one row without a URL number, so its -1 is one too).
_URL_KEY = "coalesce(u.url, c.hotline || '#' || coalesce(c.url_id, -1))"
_WITH_URL = "LEFT JOIN urls u ON u.hotline = c.hotline AND u.url_id = c.url_id"


def _network_views(overview_counts: list[str]) -> dict[str, str]:
    sums = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in overview_counts)
    in_network = "country IN (SELECT country FROM network_countries)"
    return {
        # the overview summed over hotlines, shares computed again from the sums; content URLs
        # are counted once per URL, however many hotlines saw one
        "network_overview": f"""
            WITH o AS (SELECT jurisdiction, count(*) AS hotlines, {sums} FROM {_scoped('overview')} GROUP BY ALL),
            u AS (SELECT c.jurisdiction, count(DISTINCT {_URL_KEY}) AS content_urls,
                         count(DISTINCT {_URL_KEY}) FILTER (WHERE c.illegal) AS content_urls_illegal
                  FROM {_scoped('content_urls')} c {_WITH_URL} GROUP BY ALL),
            t AS (SELECT jurisdiction,
                         sum(within_3_days) / nullif(sum(reached + overdue), 0) AS share_removed_within_3_days,
                         sum(within_3_working_days) / nullif(sum(reached + overdue_3_working_days), 0)
                           AS share_removed_within_3_working_days
                  FROM {_scoped('time_to')} WHERE stage = 'removal' GROUP BY ALL)
            SELECT o.* REPLACE (coalesce(u.content_urls, 0) AS content_urls,
                                coalesce(u.content_urls_illegal, 0) AS content_urls_illegal),
                   reports_illegal / nullif(reports_assessed, 0) AS share_reports_illegal,
                   items_illegal / nullif(items_assessed, 0) AS share_items_illegal,
                   items_known / nullif(items, 0) AS share_items_known,
                   items_new / nullif(items, 0) AS share_items_new,
                   t.share_removed_within_3_days, t.share_removed_within_3_working_days
            FROM o LEFT JOIN t USING (jurisdiction) LEFT JOIN u USING (jurisdiction)
            ORDER BY jurisdiction = 'home' DESC, jurisdiction""",
        # locations told to INTERPOL and partners, and reports partners' bundles brought in
        "urls_exchanged": """
            SELECT hotline, period, 'sent' AS direction, destination AS counterpart, CAST(locations AS BIGINT) AS urls,
                   CAST(content_urls AS BIGINT) AS content_urls
            FROM exchanged
            UNION ALL
            SELECT hotline, period, 'received', reported_by, count(*), NULL
            FROM report_facts WHERE partner AND jurisdiction IN (SELECT jurisdiction FROM jurisdictions j
                                                                 WHERE j.own AND j.hotline = report_facts.hotline)
            GROUP BY ALL ORDER BY hotline, period, direction, counterpart""",
        # the content URLs of the hotlines that publish URL rows, each URL once
        "network_urls": f"""
            WITH c AS (SELECT c.jurisdiction, c.hotline, c.illegal, u.url, u.host
                       FROM {_scoped('content_urls')} c {_WITH_URL} WHERE u.url IS NOT NULL),
            per_url AS (SELECT jurisdiction, url, any_value(host) AS host, bool_or(illegal) AS illegal,
                               count(DISTINCT hotline) AS hotlines FROM c GROUP BY ALL),
            sent AS (SELECT count(DISTINCT u.url) AS urls_exchanged,
                            count(DISTINCT u.url) FILTER (WHERE x.destination = 'interpol') AS urls_sent_to_interpol,
                            count(DISTINCT u.url) FILTER (WHERE x.destination LIKE 'partner:%') AS urls_sent_to_partners
                     FROM exchanged_urls x JOIN urls u ON u.hotline = x.hotline AND u.url_id = x.url_id),
            h AS (SELECT count(DISTINCT hotline) AS hotlines FROM periods WHERE urls_included)
            SELECT p.jurisdiction, any_value(h.hotlines) AS hotlines, count(*) AS content_urls,
                   count(*) FILTER (WHERE p.illegal) AS content_urls_illegal,
                   count(*) FILTER (WHERE p.hotlines > 1) AS content_urls_seen_by_several,
                   count(DISTINCT p.host) AS hosts, any_value(sent.urls_exchanged) AS urls_exchanged,
                   any_value(sent.urls_sent_to_interpol) AS urls_sent_to_interpol,
                   any_value(sent.urls_sent_to_partners) AS urls_sent_to_partners
            FROM per_url p CROSS JOIN h CROSS JOIN sent
            GROUP BY p.jurisdiction ORDER BY p.jurisdiction = 'home' DESC, p.jurisdiction""",
        # by host, each URL once: where illegal content is hosted and how much of it came down
        "network_hosts": f"""
            WITH c AS (SELECT c.jurisdiction, c.hotline, c.illegal, coalesce(c.country, 'unknown') AS country,
                              u.url, coalesce(u.host, 'unknown') AS host
                       FROM {_scoped('content_urls')} c {_WITH_URL} WHERE u.url IS NOT NULL),
            t AS (SELECT t.jurisdiction, u.url, bool_or(t.removed) AS removed
                  FROM {_scoped('takedowns')} t JOIN urls u ON u.hotline = t.hotline AND u.url_id = t.url_id
                  WHERE t.illegal GROUP BY ALL)
            SELECT c.jurisdiction, c.host, array_sort(list(DISTINCT c.country)) AS countries,
                   count(DISTINCT c.url) AS content_urls,
                   count(DISTINCT c.url) FILTER (WHERE c.illegal) AS content_urls_illegal,
                   count(DISTINCT c.hotline) AS hotlines, count(DISTINCT t.url) AS tracked,
                   count(DISTINCT t.url) FILTER (WHERE t.removed) AS removed
            FROM c LEFT JOIN t ON t.jurisdiction = c.jurisdiction AND t.url = c.url
            GROUP BY c.jurisdiction, c.host ORDER BY c.jurisdiction, content_urls_illegal DESC, content_urls DESC, c.host""",
        "reports_by_hosting_country": f"""
            SELECT jurisdiction, country, {in_network} AS in_network,
                   count(DISTINCT (hotline, report_id)) AS reports, count(DISTINCT hotline) AS hotlines,
                   count(*) FILTER (WHERE first_of_item_in_country) AS illegal_items
            FROM {_scoped('illegal_sightings')} GROUP BY ALL ORDER BY jurisdiction, reports DESC, country""",
        # takedown inside the network (hosted in a country one of its hotlines, or a partner
        # hotline of one of them, handles) and outside. A URL tracked by several hotlines (or in
        # several reports of one) counts once: its clock starts at the earliest notice any of
        # them sent and stops at the earliest removal any of them confirmed; its hosting
        # country is the one the first to notify found. URLs are told apart by their URL where
        # the hotlines publish URL rows, else by each hotline's URL number.
        "removal_in_network": f"""
            WITH t AS (
              SELECT t.jurisdiction, coalesce(u.url, t.hotline || '#' || coalesce(t.url_id, -1)) AS url_key,
                     t.hotline, t.country, t.notice_at, t.removed_at, h.as_of
              FROM {_scoped('takedowns')} t JOIN hotlines h USING (hotline)
              LEFT JOIN urls u ON u.hotline = t.hotline AND u.url_id = t.url_id
              WHERE t.illegal),
            per_url AS (
              SELECT jurisdiction, url_key, arg_min(country, (notice_at, hotline)) AS country,
                     min(notice_at) AS notice_at, min(removed_at) AS removed_at, max(as_of) AS as_of
              FROM t GROUP BY ALL),
            timed AS (
              SELECT *, CASE WHEN removed_at IS NOT NULL
                             THEN greatest(epoch(removed_at - notice_at) / 3600.0, 0) END AS hours_to_removal,
                        CASE WHEN removed_at IS NOT NULL
                             THEN greatest({working_days('notice_at', 'removed_at')}, 0) END AS working_days_to_removal
              FROM per_url)
            SELECT *, within_3_days / nullif(reached + overdue, 0) AS share_within_3_days FROM (
              SELECT jurisdiction, {in_network} AS in_network, count(*) AS eligible,
                     count(hours_to_removal) AS reached, median(hours_to_removal) AS median_hours,
                     quantile_cont(hours_to_removal, 0.9) AS p90_hours,
                     count(*) FILTER (WHERE hours_to_removal <= {THREE_DAYS_H}) AS within_3_days,
                     count(*) FILTER (WHERE hours_to_removal IS NULL
                                      AND notice_at <= as_of - INTERVAL {THREE_DAYS_H} HOUR) AS overdue,
                     median(working_days_to_removal) AS median_working_days
              FROM timed GROUP BY ALL)
            ORDER BY jurisdiction, in_network DESC""",
        # new material: items first seen that matched no known set, by month
        "new_material": f"""
            SELECT *, items_new / nullif(items, 0) AS share_items_new FROM (
              SELECT jurisdiction, month, count(DISTINCT hotline) AS hotlines, count(*) AS items,
                     count(*) FILTER (WHERE NOT known) AS items_new
              FROM {_scoped('item_facts')} GROUP BY ALL)
            ORDER BY jurisdiction, month""",
    }


def build_network(con: duckdb.DuckDBPyConnection, received: list[Received], *, version: str) -> None:
    """Create the network snapshot's tables and views in ``con``."""
    by_hotline: dict[str, list[Received]] = defaultdict(list)
    for r in received:
        by_hotline[r.hotline].append(r)
    tables: dict[str, list[pa.Table]] = defaultdict(list)
    for hotline, months in sorted(by_hotline.items()):
        h = _hotline_tables(months)
        try:
            for name in [*PERIOD_ROWS, *URL_TABLES, *CONTEXT_ROWS, *VIEWS]:
                tables[name].append(_with_hotline(h.sql(f"SELECT * FROM {name}").to_arrow_table(), hotline))
        finally:
            h.close()
    con.execute("CREATE TABLE snapshot AS SELECT ? AS version, CAST(? AS TIMESTAMP) AS as_of, 'network' AS kind",
                [version, utcnow()])
    # a hotline's home country and its partners' are those of its newest month
    newest = {h: max(ms, key=lambda m: m.as_of) for h, ms in by_hotline.items()}
    hotlines = pa.Table.from_pylist(
        [{"hotline": h, "country": newest[h].country, "partner_countries": list(newest[h].partner_countries),
          "periods": len(ms), "first_period": min(m.period for m in ms), "last_period": max(m.period for m in ms),
          "as_of": max(m.as_of for m in ms)} for h, ms in sorted(by_hotline.items())],
        schema=pa.schema([("hotline", pa.string()), ("country", pa.string()), ("partner_countries", pa.list_(pa.string())),
                          ("periods", pa.int64()), ("first_period", pa.string()), ("last_period", pa.string()),
                          ("as_of", pa.timestamp("us"))]))
    periods = pa.Table.from_pylist(
        [{"hotline": r.hotline, "period": r.period, "as_of": r.as_of, "bundle_id": r.bundle_id,
          "urls_included": r.urls_included} for r in received],
        schema=pa.schema([("hotline", pa.string()), ("period", pa.string()), ("as_of", pa.timestamp("us")),
                          ("bundle_id", pa.string()), ("urls_included", pa.bool_())]))
    # the hosting countries where a hotline of the network can act: each publisher's own, and
    # those of the partner hotlines it declares (a takedown notice reaches them in the network)
    reach = sorted({(m.country, h, "home") for h, m in newest.items()}
                   | {(c, h, "partner") for h, m in newest.items() for c in m.partner_countries if c != m.country})
    covered = pa.Table.from_pylist(
        [{"country": c, "hotline": h, "via": via} for c, h, via in reach],
        schema=pa.schema([("country", pa.string()), ("hotline", pa.string()), ("via", pa.string())]))
    for name, table in {"hotlines": hotlines, "periods": periods, "network_countries": covered}.items():
        con.register(f"raw_{name}", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM raw_{name}")
        con.unregister(f"raw_{name}")
    for name, parts in tables.items():
        con.register(f"raw_{name}", pa.concat_tables(parts, promote_options="permissive"))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM raw_{name}")
        con.unregister(f"raw_{name}")
    for name in [*PERIOD_ROWS, *URL_TABLES, *CONTEXT_ROWS, *VIEWS]:
        if name not in tables:  # no hotline yet: the tables exist, empty, so that queries still run
            columns = f"{URL_TABLES[name]}, period DATE" if name in URL_TABLES else "jurisdiction VARCHAR"
            con.execute(f"CREATE TABLE {name} (hotline VARCHAR, {columns})")
    counts = []
    if tables.get("overview"):
        counts = [c for c in con.sql("SELECT * FROM overview LIMIT 0").columns
                  if c not in ("hotline", "jurisdiction") and not c.startswith("share_")]
    if counts:
        for name, sql in _network_views(counts).items():
            con.execute(f"CREATE VIEW {name} AS {sql}")


def write_network_snapshot(received_folder: Path, folder: Path, *, keep: int = 3) -> NetworkInfo:
    """Build the network snapshot from what ``received_folder`` keeps; make it current."""
    started = time.perf_counter()
    received = read_received(received_folder)
    version = utcnow().strftime("%Y%m%dT%H%M%S%fZ")

    def fill(building: Path) -> dict[str, dict[str, object]]:
        con = connect(building / DATABASE, storage_compatibility_version=STORAGE_VERSION)
        try:
            build_network(con, received, version=version)
            _check_media_free(con)
            con.execute("CHECKPOINT")
            files = _write_parquet(con, building / "parquet")
        finally:
            con.close()
        manifest = {"version": version, "kind": "network", "database": DATABASE, "relations": files,
                    "periods": [{"hotline": r.hotline, "period": r.period, "as_of": r.as_of.isoformat() + "Z",
                                 "bundle_id": r.bundle_id} for r in received]}
        (building / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for path in [*building.rglob("*.parquet"), building / DATABASE, building / "manifest.json"]:
            _fsync(path)
        return files

    final, files, _ = publish_version(folder, version, fill, keep=keep)
    rows = {name: int(info["rows"]) for name, info in files.items()}  # type: ignore[call-overload]
    return NetworkInfo(version=version, path=final, hotlines=sorted({r.hotline for r in received}),
                       periods=len(received), seconds=time.perf_counter() - started, rows=rows)


def open_network(folder: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current network snapshot."""
    try:
        return connect(current_database(folder), read_only=True)
    except NoSnapshot:
        raise NoSnapshot(f"no network statistics in {str(folder)!r}; run `hotline stats import` first") from None


NETWORK_TITLES: dict[str, str] = {
    "network_overview": "The network: figures summed over hotlines",
    "urls_exchanged": "URLs exchanged: locations sent, reports received from partners",
    "reports_by_hosting_country": "Reports of illegal content per hosting country (network)",
    "removal_in_network": "Time to removal: hosted inside the network and outside (hours)",
    "new_material": "New material: items that matched no known set, by month first seen",
    "network_urls": "Content URLs, each once however many hotlines saw it (hotlines that publish URLs)",
    "network_hosts": "Content URLs by host, each once (hotlines that publish URLs)",
}


def _scoped_rows(con: duckdb.DuckDBPyConnection, name: str, jurisdiction: str) -> list[dict[str, Any]]:
    columns = con.sql(f"SELECT * FROM {name} LIMIT 0").columns
    if "jurisdiction" not in columns:
        rel = con.sql(f"SELECT * FROM {name}")
    else:  # a network view has its home rows already; a hotline's view gets them here
        source = _scoped(name) if "hotline" in columns else name
        rel = con.sql(f"SELECT * FROM {source} WHERE jurisdiction = ?", params=[jurisdiction])
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def network_figures(folder: Path, jurisdiction: str = "home") -> Figures:
    """The current network snapshot's figures for ``jurisdiction`` (``home``: each hotline
    under its own), shaped as a hotline's, for the console and the HTML report: the
    overview and the charts' views summed over hotlines, every other view per hotline."""
    con = open_network(folder)
    try:
        known = ["home", *(j for (j,) in con.sql("SELECT DISTINCT jurisdiction FROM jurisdictions ORDER BY 1")
                             .fetchall())]
        where = jurisdiction if jurisdiction == "home" else jurisdiction.upper()
        if where not in known or "network_overview" not in {n for (n,) in con.sql(
                "SELECT table_name FROM information_schema.tables").fetchall()}:
            raise ValueError(f"no network figures for jurisdiction {where!r}; there are figures for "
                             f"{', '.join(known)}")
        views = {name: _scoped_rows(con, name, where) for name in [*VIEWS, *NETWORK_TITLES]}
        overview = views["network_overview"][0] if views["network_overview"] else {}
        views["overview"] = [overview]
        views["removal_days"] = _summed(views["removal_days"], ("bucket", "days_from", "days_to"), "content_urls")
        views["hosting_countries"] = sorted(
            ({"country": r["country"], "illegal_items": r["illegal_items"], "reports": r["reports"],
              "in_network": r["in_network"]} for r in views["reports_by_hosting_country"]),
            key=lambda r: -r["illegal_items"])
        hours = con.sql(f"SELECT median(hours_to_removal) FROM {_scoped('takedowns')} "
                        "WHERE illegal AND jurisdiction = ?", params=[where]).fetchall()[0][0]
        views["time_to"] = [{"hotline": "network", "stage": "removal", "median_hours": hours}, *views["time_to"]]
        as_of, version = con.sql("SELECT as_of, version FROM snapshot").fetchall()[0]
    finally:
        con.close()
    return Figures(
        as_of=as_of, version=f"network {version}", jurisdiction=where, jurisdictions=known,
        reports=overview.get("reports_received", 0), reports_by_status={}, items=overview.get("items", 0),
        items_by_status={}, known_items=overview.get("items_known", 0), new_items=overview.get("items_new", 0),
        known_by_set=_totals(views["known_set_matches"], "set_name", "items_matched"),
        verdicts=_totals(views["items_by_verdict"], "verdict", "items"),
        verdicts_by_source=_totals(views["items_by_verdict"], "verdict_source", "items"),
        overview=overview, views=views,
    )


def _totals(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.get(key) is not None:
            out[str(r[key])] += int(r[value])
    return dict(out)


def _summed(rows: list[dict[str, Any]], keys: tuple[str, ...], value: str) -> list[dict[str, Any]]:
    """Rows summed over hotlines by ``keys`` (first-seen order kept), with their share."""
    sums: dict[tuple[Any, ...], int] = {}
    for r in rows:
        k = tuple(r[c] for c in keys)
        sums[k] = sums.get(k, 0) + int(r[value])
    total = sum(sums.values())
    return [{**dict(zip(keys, k, strict=True)), value: n, f"share_of_{value}": n / total if total else None}
            for k, n in sums.items()]
