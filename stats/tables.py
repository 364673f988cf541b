"""The snapshot's base tables: the catalog's rows, pseudonymised and typed (DuckDB SQL).

Built from the extract, staged in DuckDB as ``src_<name>`` with the catalog's column types. Items are numbered
(``item_id``) instead of keyed by SHA-256, and URLs are numbered (``url_id``) with their host,
site type and text kept according to the URL policy. Every column is described in
docs/statistics.md.
"""

from __future__ import annotations

from stats.sitetypes import (
    host_sql,
    host_type_sql,
    sighting_site_type_sql,
    url_type_sql,
)

URL_POLICIES = ("none", "host", "full")
OWN_SOURCES = ("public", "demo")  # reports.source of our own reports; anything else is a partner's

def _literals(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def staging_sql() -> list[str]:
    """Temporary lookup tables (never written to the snapshot file): SHA-256 and URL to number.
    Items seen at the same moment are numbered in SHA-256 order, so that the numbers do not
    depend on the order DuckDB happens to scan the staged rows in."""
    return [
        """CREATE TEMP TABLE item_map AS
           SELECT sha256, row_number() OVER (ORDER BY first_seen_at, sha256) AS item_id
           FROM src_media""",
        f"""CREATE TEMP TABLE url_map AS
            WITH every AS (
              SELECT url FROM src_reports UNION SELECT media_url FROM src_sightings
              UNION SELECT page_url FROM src_sightings UNION SELECT final_url FROM src_pages
              UNION SELECT url FROM src_rechecks),
            hosted AS (SELECT url, {host_sql('url')} AS host FROM every WHERE url IS NOT NULL),
            host_types AS (SELECT host, {host_type_sql('host')} AS site_type FROM (SELECT DISTINCT host FROM hosted))
            SELECT h.url, row_number() OVER () AS url_id, h.host,
                   coalesce(t.site_type, {url_type_sql('h.url')}, 'website') AS site_type
            FROM hosted h LEFT JOIN host_types t ON t.host = h.host""",
    ]


def base_tables_sql(*, country: str, url_policy: str) -> dict[str, str]:
    """``CREATE TABLE`` statement of every base table, by name, in dependency order."""
    if url_policy not in URL_POLICIES:
        raise ValueError(f"URL policy must be one of {URL_POLICIES}, not {url_policy!r}")
    own = _literals(OWN_SOURCES)
    jurisdiction = _literals((country,))
    host = "host" if url_policy in ("host", "full") else "CAST(NULL AS VARCHAR)"
    url = "url" if url_policy == "full" else "CAST(NULL AS VARCHAR)"
    return {
        "jurisdictions": f"""
            SELECT jurisdiction, jurisdiction = {jurisdiction} AS own
            FROM (SELECT {jurisdiction} AS jurisdiction
                  UNION SELECT upper(jurisdiction) FROM src_jurisdiction_verdicts WHERE jurisdiction IS NOT NULL)
            ORDER BY NOT own, jurisdiction""",
        "urls": f"""
            SELECT url_id, {host} AS host, site_type, {url} AS url FROM url_map""",
        "reports": f"""
            SELECT r.id AS report_id, CASE WHEN r.source IN ({own}) THEN 'own' ELSE r.source END AS hotline,
                   r.source NOT IN ({own}) AS partner, r.source, r.status, r.received_at, r.processed_at, u.url_id
            FROM src_reports r LEFT JOIN url_map u ON u.url = r.url ORDER BY report_id""",
        "crawls": """
            SELECT id AS crawl_id, report_id, started_at, finished_at, status, pages, media, errors
            FROM src_crawls ORDER BY crawl_id""",
        "pages": """
            SELECT p.report_id, p.crawl_id, u.url_id, p.status AS http_status, upper(p.country) AS country,
                   p.fetched_at
            FROM src_pages p LEFT JOIN url_map u ON u.url = p.final_url""",
        "items": """
            SELECT m.item_id, s.kind, s.mime, s.size, s.status, s.first_seen_at, s.hashed_at
            FROM src_media s JOIN item_map m USING (sha256)""",
        "sightings": f"""
            WITH page_country AS (
              SELECT report_id, url_id, any_value(country) AS country FROM pages
              WHERE country IS NOT NULL GROUP BY ALL)
            SELECT m.item_id, s.report_id, s.crawl_id, mu.url_id AS media_url_id, pu.url_id AS page_url_id,
                   coalesce(upper(s.country), upper(s.page_country), pc.country) AS country,
                   upper(s.page_country) AS page_country,
                   {sighting_site_type_sql('mu.site_type', 'pu.site_type')} AS site_type, s.seen_at
            FROM src_sightings s JOIN item_map m USING (sha256)
            LEFT JOIN url_map mu ON mu.url = s.media_url LEFT JOIN url_map pu ON pu.url = s.page_url
            LEFT JOIN page_country pc ON pc.report_id = s.report_id AND pc.url_id = pu.url_id""",
        "known_sets": """
            SELECT name AS set_name, source, verdict, "rows", enabled, imported_at
            FROM src_known_sets ORDER BY set_name""",
        "matches": """
            SELECT m.item_id, s.set_name, s.match_type, s.distance, s.verdict, s.category, s.matched_at
            FROM src_matches s JOIN item_map m USING (sha256)""",
        "verdicts": f"""
            SELECT v.id AS verdict_id, m.item_id, {jurisdiction} AS jurisdiction, v.verdict,
                   v.verdict IN ('baseline', 'national') AS illegal, v.source, v.set_name, v.created_at,
                   v.id = max(v.id) OVER (PARTITION BY m.item_id) AS is_current,
                   -- undetermined (the grading leaves an unclear age or depiction that matters)
                   -- waits for a senior as a four-eyes verdict waits for its confirmation
                   coalesce(v.confirm_required, FALSE) AND NOT coalesce(v.confirmed, FALSE)
                   OR v.verdict = 'undetermined' AS awaiting_confirmation
            FROM src_verdicts v JOIN item_map m USING (sha256)""",
        "jurisdiction_verdicts": """
            SELECT v.id AS verdict_id, m.item_id, upper(v.jurisdiction) AS jurisdiction, v.illegal, v.profile,
                   v.source, v.created_at,
                   v.id = max(v.id) OVER (PARTITION BY m.item_id, upper(v.jurisdiction)) AS is_current
            FROM src_jurisdiction_verdicts v JOIN item_map m USING (sha256)""",
        "exports": """
            SELECT id AS export_id, destination, items, created_at FROM src_exports ORDER BY export_id""",
        "export_items": """
            SELECT s.export_id, s.destination, m.item_id, s.verdict_id
            FROM src_export_items s JOIN item_map m USING (sha256)""",
        "export_locations": """
            SELECT s.export_id, s.destination, m.item_id, mu.url_id AS media_url_id, pu.url_id AS page_url_id
            FROM src_export_locations s JOIN item_map m USING (sha256)
            LEFT JOIN url_map mu ON mu.url = s.media_url LEFT JOIN url_map pu ON pu.url = s.page_url""",
        "rechecks": """
            SELECT r.report_id, m.item_id, u.url_id, r.checked_at, r.outcome, r.http_status,
                   r.outcome IN ('missing', 'removed') AS absent
            FROM src_rechecks r LEFT JOIN item_map m USING (sha256) LEFT JOIN url_map u ON u.url = r.url""",
        "report_errors": """
            SELECT report_id, stage, "at" AS recorded_at FROM src_report_errors""",
    }
