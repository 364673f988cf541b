"""Derived tables: one row per item, per report and per tracked URL, for each jurisdiction
(DuckDB SQL). They are computed once when a snapshot is built, so that every figure view
only aggregates them. Definitions are in docs/statistics.md; the reasoning in comments.
"""

from __future__ import annotations

ILLEGAL = "('baseline', 'national', 'illegal')"  # main verdicts, and other jurisdictions' verdicts
WEEK_START = "DATE '1970-01-05'"  # a Monday


def _weekdays_before(day: str) -> str:
    """Monday-to-Friday days from ``WEEK_START`` up to (not including) the date of ``day``."""
    n = f"date_diff('day', {WEEK_START}, CAST({day} AS DATE))"
    return f"(5 * ({n} // 7) + least({n} % 7, 5))"


def working_days(start: str, end: str) -> str:
    """Working days (Monday to Friday, no public holidays) from the date of ``start`` to the
    date of ``end``: the first day counted, the last not, so the same day is 0."""
    return f"({_weekdays_before(end)} - {_weekdays_before(start)})"


FACTS: dict[str, str] = {
    # Each (report, item) pair once: when the item was seen in that report, and whether an
    # analyst's view of it was avoided: the item was in a known set (INTERPOL's, a partner's
    # assessments), or an earlier report (ours or a partner's) had already brought it in.
    "report_items": """
        WITH pairs AS (
          SELECT s.report_id, s.item_id, min(s.seen_at) AS seen_at
          FROM sightings s GROUP BY ALL),
        ordered AS (
          SELECT p.*, r.received_at, r.hotline,
                 row_number() OVER w AS nth,
                 first_value(r.hotline) OVER w AS first_hotline
          FROM pairs p JOIN reports r USING (report_id)
          WINDOW w AS (PARTITION BY p.item_id ORDER BY r.received_at, p.report_id)),
        known AS (  -- who the known set comes from (INTERPOL, a partner): the first by name if several
          SELECT m.item_id, min(coalesce(k.source, m.set_name)) AS source
          FROM matches m LEFT JOIN known_sets k USING (set_name) GROUP BY ALL)
        SELECT o.report_id, o.item_id, o.seen_at, o.nth = 1 AS first_sighting,
               CASE WHEN k.item_id IS NOT NULL THEN 'known set: ' || k.source
                    WHEN o.nth > 1 THEN o.first_hotline END AS duplicate_of
        FROM ordered o LEFT JOIN known k USING (item_id)""",
    "item_facts": f"""
        WITH seen AS (
          SELECT ri.item_id, count(*) AS reports,
                 any_value(ri.report_id) FILTER (WHERE ri.first_sighting) AS first_report_id,
                 any_value(r.hotline) FILTER (WHERE ri.first_sighting) AS hotline
          FROM report_items ri JOIN reports r USING (report_id) GROUP BY ri.item_id),
        known AS (SELECT DISTINCT item_id FROM matches),
        -- the home jurisdiction's verdict is the main verdict (known sets included), unless
        -- the newest one waits for a second analyst (four-eyes): then the item waits too
        home AS (
          SELECT item_id, jurisdiction,
                 arg_max(verdict, verdict_id) AS verdict, arg_max(source, verdict_id) AS verdict_source,
                 arg_max(set_name, verdict_id) AS verdict_set, min(created_at) AS first_verdict_at,
                 arg_min(source, verdict_id) AS first_verdict_source,
                 arg_min(set_name, verdict_id) AS first_verdict_set,
                 bool_or(source = 'analyst') AS analyst_assessed,
                 arg_max(awaiting_confirmation, verdict_id) AS awaiting_confirmation
          FROM verdicts GROUP BY ALL),
        v AS (
          SELECT item_id, jurisdiction, CASE WHEN NOT awaiting_confirmation THEN verdict END AS verdict,
                 CASE WHEN NOT awaiting_confirmation THEN verdict_source END AS verdict_source,
                 CASE WHEN NOT awaiting_confirmation THEN verdict_set END AS verdict_set,
                 first_verdict_at, first_verdict_source, first_verdict_set, analyst_assessed
          FROM home
          UNION ALL
          -- INTERPOL's verdict is the main verdict's baseline, so that INTERPOL's figures and the
          -- home baseline count agree (and agree with what the INTERPOL route exports)
          SELECT h.item_id, j.jurisdiction,
                 CASE WHEN h.awaiting_confirmation THEN NULL WHEN h.verdict = 'baseline' THEN 'illegal'
                      ELSE 'not-illegal' END,
                 CASE WHEN NOT h.awaiting_confirmation THEN h.verdict_source END,
                 CASE WHEN NOT h.awaiting_confirmation THEN h.verdict_set END,
                 h.first_verdict_at, h.first_verdict_source, h.first_verdict_set, h.analyst_assessed
          FROM home h CROSS JOIN jurisdictions j WHERE j.jurisdiction = 'INTERPOL' AND NOT j.own
          UNION ALL
          -- any other jurisdiction's is its newest row in jurisdiction_verdicts (from a grading)
          SELECT jv.item_id, jv.jurisdiction,
                 CASE WHEN NOT coalesce(any_value(h.awaiting_confirmation), FALSE)
                      THEN arg_max(CASE WHEN jv.illegal THEN 'illegal' ELSE 'not-illegal' END, jv.verdict_id) END,
                 CASE WHEN NOT coalesce(any_value(h.awaiting_confirmation), FALSE)
                      THEN arg_max(jv.source, jv.verdict_id) END,
                 NULL, min(jv.created_at), arg_min(jv.source, jv.verdict_id), NULL, TRUE
          FROM jurisdiction_verdicts jv LEFT JOIN home h USING (item_id)
          WHERE jv.jurisdiction NOT IN (SELECT jurisdiction FROM jurisdictions WHERE own) AND jv.jurisdiction <> 'INTERPOL'
          GROUP BY jv.item_id, jv.jurisdiction),
        x AS (
          SELECT ei.item_id, min(e.created_at) AS exported_at
          FROM export_items ei JOIN exports e USING (export_id) GROUP BY ALL)
        SELECT i.item_id, j.jurisdiction, i.kind, i.status, i.first_seen_at,
               CAST(date_trunc('week', i.first_seen_at) AS DATE) AS week,
               CAST(date_trunc('month', i.first_seen_at) AS DATE) AS month,
               coalesce(seen.hotline, 'own') AS hotline, seen.first_report_id,
               coalesce(seen.reports, 0) AS reports,
               v.verdict, coalesce(v.verdict IN {ILLEGAL}, FALSE) AS illegal,
               v.verdict_source, v.verdict_set, v.first_verdict_at,
               coalesce(v.first_verdict_source IN ('known-set', 'own-match', 'partner'), FALSE) AS auto_classified,
               CASE WHEN v.first_verdict_source = 'known-set' THEN v.first_verdict_set
                    WHEN v.first_verdict_source = 'own-match' THEN 'own decision'
                    WHEN v.first_verdict_source = 'partner' THEN 'partner decision' END AS auto_classified_by,
               coalesce(v.analyst_assessed, FALSE) AS analyst_assessed,
               known.item_id IS NOT NULL AS known,
               x.exported_at
        FROM items i CROSS JOIN jurisdictions j
        LEFT JOIN seen ON seen.item_id = i.item_id
        LEFT JOIN known ON known.item_id = i.item_id
        LEFT JOIN v ON v.item_id = i.item_id AND v.jurisdiction = j.jurisdiction
        LEFT JOIN x ON x.item_id = i.item_id""",
    # One row per tracked content URL of a report (and jurisdiction): when it was found gone
    # for good, i.e. the first of the checks that found it absent (404/410, NXDOMAIN) after
    # the last that found it present, once one of them is a confirmed removal. Other content
    # at the URL is `changed`, not removed. Times run from the notice: the first bundle that
    # carried the URL (to INTERPOL or a partner), else the item's first verdict in this
    # jurisdiction or its sighting in this report, whichever is later.
    "takedowns": f"""
        WITH checks AS (
          SELECT *, max(CASE WHEN NOT absent THEN checked_at END) OVER (PARTITION BY report_id, url_id) AS last_present
          FROM rechecks WHERE report_id IS NOT NULL),
        per_url AS (
          SELECT report_id, url_id, min(item_id) AS item_id, count(*) AS checks,
                 min(checked_at) AS first_checked_at, max(checked_at) AS last_checked_at,
                 arg_max(outcome, checked_at) AS last_outcome,
                 CASE WHEN bool_or(outcome = 'removed' AND (last_present IS NULL OR checked_at > last_present))
                      THEN min(checked_at) FILTER (WHERE absent AND (last_present IS NULL OR checked_at > last_present))
                      END AS removed_at
          FROM checks GROUP BY ALL),
        place AS (
          SELECT report_id, media_url_id AS url_id, any_value(country) AS country, any_value(site_type) AS site_type
          FROM sightings GROUP BY ALL),
        noticed AS (
          SELECT l.media_url_id AS url_id, min(e.created_at) AS noticed_at
          FROM export_locations l JOIN exports e USING (export_id) GROUP BY ALL),
        timed AS (
          SELECT t.*, j.jurisdiction, coalesce(f.illegal, FALSE) AS illegal, r.received_at,
                 coalesce(n.noticed_at, greatest(f.first_verdict_at, ri.seen_at)) AS notice_at,
                 place.country, coalesce(place.site_type, urls.site_type) AS site_type
          FROM per_url t JOIN reports r USING (report_id) CROSS JOIN jurisdictions j
          LEFT JOIN item_facts f ON f.item_id = t.item_id AND f.jurisdiction = j.jurisdiction
          LEFT JOIN report_items ri ON ri.report_id = t.report_id AND ri.item_id = t.item_id
          LEFT JOIN noticed n ON n.url_id = t.url_id
          LEFT JOIN place ON place.report_id = t.report_id AND place.url_id = t.url_id
          LEFT JOIN urls ON urls.url_id = t.url_id)
        SELECT report_id, url_id, jurisdiction, item_id, illegal, received_at, notice_at, country, site_type,
               checks, first_checked_at, last_checked_at, last_outcome, last_outcome = 'changed' AS changed,
               removed_at IS NOT NULL AS removed, removed_at,
               -- greatest() skips NULLs: keep "not removed" NULL; removed before the notice is 0
               CASE WHEN removed_at IS NOT NULL THEN greatest(epoch(removed_at - notice_at) / 3600.0, 0) END
                 AS hours_to_removal,
               CASE WHEN removed_at IS NOT NULL THEN greatest({working_days('notice_at', 'removed_at')}, 0) END
                 AS working_days_to_removal,
               CASE WHEN removed_at IS NULL
                    THEN {working_days('notice_at', '(SELECT as_of FROM snapshot)')} > 3 END AS overdue_3_working_days
        FROM timed ORDER BY report_id, url_id, jurisdiction""",
    # Sightings of items whose current verdict is illegal: where illegal content was hosted.
    # The flags mark one sighting per (item, country) and per (item, site type), so that
    # the views count items per country with count(*) instead of a costly count(DISTINCT).
    "illegal_sightings": """
        WITH s AS (
          SELECT f.jurisdiction, s.item_id, s.report_id, s.media_url_id, coalesce(s.country, 'unknown') AS country,
                 coalesce(s.site_type, 'unknown') AS site_type, s.seen_at
          FROM sightings s JOIN item_facts f ON f.item_id = s.item_id AND f.illegal)
        SELECT *,
               row_number() OVER (PARTITION BY jurisdiction, item_id, country ORDER BY seen_at, report_id) = 1
                 AS first_of_item_in_country,
               row_number() OVER (PARTITION BY jurisdiction, item_id, site_type ORDER BY seen_at, report_id) = 1
                 AS first_of_item_in_site_type
        FROM s""",
    # One row per content URL (a media URL where items were seen) and jurisdiction.
    "content_urls": """
        WITH pairs AS (
          SELECT media_url_id AS url_id, report_id, min(seen_at) AS seen_at, any_value(country) AS country,
                 any_value(site_type) AS site_type
          FROM sightings GROUP BY ALL),
        per_url AS (
          SELECT p.url_id, count(*) AS reports, arg_min(p.report_id, (r.received_at, p.report_id)) AS first_report_id,
                 arg_min(r.hotline, (r.received_at, p.report_id)) AS first_hotline, min(p.seen_at) AS first_seen_at,
                 any_value(p.country) AS country, any_value(p.site_type) AS site_type
          FROM pairs p JOIN reports r USING (report_id) GROUP BY ALL),
        illegal AS (SELECT DISTINCT jurisdiction, media_url_id AS url_id FROM illegal_sightings)
        SELECT u.url_id, j.jurisdiction, i.url_id IS NOT NULL AS illegal, u.reports, u.first_report_id,
               u.first_hotline, u.first_seen_at, u.country, u.site_type
        FROM per_url u CROSS JOIN jurisdictions j
        LEFT JOIN illegal i ON i.url_id = u.url_id AND i.jurisdiction = j.jurisdiction""",
    "report_facts": """
        WITH per_item AS (
          SELECT ri.report_id, f.jurisdiction,
                 count(*) FILTER (WHERE f.status <> 'error') AS items,
                 count(*) FILTER (WHERE f.status = 'error') AS items_error,
                 count(*) FILTER (WHERE f.status <> 'error' AND f.verdict IS NOT NULL) AS items_assessed,
                 count(*) FILTER (WHERE f.illegal) AS items_illegal,
                 count(*) FILTER (WHERE f.known) AS items_known,
                 count(*) FILTER (WHERE ri.first_sighting AND NOT f.known) AS items_new,
                 -- greatest() skips NULLs: only items that have the event take part
                 max(greatest(f.first_verdict_at, ri.seen_at))
                   FILTER (WHERE f.status <> 'error' AND f.first_verdict_at IS NOT NULL) AS assessed_at,
                 min(greatest(f.first_verdict_at, ri.seen_at)) FILTER (WHERE f.illegal) AS illegal_at,
                 min(greatest(f.exported_at, ri.seen_at)) FILTER (WHERE f.illegal AND f.exported_at IS NOT NULL)
                   AS exported_at
          FROM report_items ri JOIN item_facts f USING (item_id) GROUP BY ALL),
        per_url AS (SELECT report_id, count(DISTINCT media_url_id) AS content_urls FROM sightings GROUP BY ALL),
        per_illegal_url AS (
          SELECT report_id, jurisdiction, count(DISTINCT media_url_id) AS content_urls_illegal
          FROM illegal_sightings GROUP BY ALL),
        crawled AS (SELECT report_id, min(finished_at) AS crawled_at FROM crawls GROUP BY ALL),
        earlier AS (
          SELECT report_id,
                 CASE WHEN row_number() OVER w > 1 THEN first_value(hotline) OVER w END AS reported_before_by
          FROM reports WINDOW w AS (PARTITION BY url_id ORDER BY received_at, report_id)),
        base AS (
          SELECT r.report_id, j.jurisdiction, r.hotline, r.partner, r.status, r.received_at,
                 CAST(date_trunc('week', r.received_at) AS DATE) AS week,
                 CAST(date_trunc('month', r.received_at) AS DATE) AS month,
                 c.crawled_at, coalesce(i.items, 0) AS items, coalesce(i.items_error, 0) AS items_error,
                 coalesce(i.items_assessed, 0) AS items_assessed, coalesce(i.items_illegal, 0) AS items_illegal,
                 coalesce(i.items_known, 0) AS items_known, coalesce(i.items_new, 0) AS items_new,
                 coalesce(u.content_urls, 0) AS content_urls, coalesce(iu.content_urls_illegal, 0) AS content_urls_illegal,
                 CASE WHEN r.status IN ('pending', 'processing') THEN 'pending'
                      WHEN r.status = 'failed' THEN 'unreachable'
                      WHEN coalesce(i.items, 0) = 0 THEN 'no-media'
                      -- as INHOPE counts: illegal once any of its content is confirmed illegal,
                      -- even while other items wait
                      WHEN i.items_illegal > 0 THEN 'illegal'
                      WHEN i.items_assessed < i.items THEN 'awaiting-review'
                      ELSE 'not-illegal' END AS outcome,
                 CASE WHEN i.items_illegal > 0 THEN i.illegal_at ELSE i.assessed_at END AS assessed_at,
                 i.exported_at, e.reported_before_by
          FROM reports r CROSS JOIN jurisdictions j
          LEFT JOIN per_item i ON i.report_id = r.report_id AND i.jurisdiction = j.jurisdiction
          LEFT JOIN per_url u ON u.report_id = r.report_id
          LEFT JOIN per_illegal_url iu ON iu.report_id = r.report_id AND iu.jurisdiction = j.jurisdiction
          LEFT JOIN crawled c ON c.report_id = r.report_id
          LEFT JOIN earlier e ON e.report_id = r.report_id)
        SELECT report_id, jurisdiction, hotline, partner, status, received_at, week, month, outcome,
               outcome IN ('illegal', 'not-illegal') AS assessed, outcome = 'illegal' AS illegal,
               items, items_error, items_assessed, items_illegal, items_known, items_new,
               content_urls, content_urls_illegal, reported_before_by,
               crawled_at,
               CASE WHEN outcome IN ('illegal', 'not-illegal') THEN assessed_at END AS assessed_at,
               exported_at,
               epoch(crawled_at - received_at) / 3600.0 AS hours_to_crawl,
               CASE WHEN outcome IN ('illegal', 'not-illegal') THEN epoch(assessed_at - received_at) / 3600.0
                    END AS hours_to_verdict,
               epoch(exported_at - received_at) / 3600.0 AS hours_to_export
        FROM base ORDER BY report_id, jurisdiction""",
}
