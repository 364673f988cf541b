"""The documented figure views (DuckDB SQL): the numbers a hotline publishes.

Each view only aggregates the derived tables (``item_facts``, ``report_facts``,
``report_items``, ``takedowns``) and a few base tables, so every one answers in well under
a second on a million items. Every view and column is explained in docs/statistics.md.
Every view has a ``jurisdiction`` column (the country whose law the verdicts apply), so
that verdicts for several jurisdictions are more rows, not other views.
"""

from __future__ import annotations

THREE_DAYS_H = 72


def _illegal_by(dimension: str, first_flag: str) -> str:
    """Illegal items and content URLs by ``dimension`` of where they were seen (country,
    site type); ``first_flag`` marks one sighting per item and value of the dimension."""
    return f"""
        WITH total AS (SELECT jurisdiction, count(*) FILTER (WHERE illegal) AS items FROM item_facts GROUP BY ALL),
        items AS (
          SELECT jurisdiction, {dimension}, count(*) FILTER (WHERE {first_flag}) AS illegal_items
          FROM illegal_sightings GROUP BY ALL),
        urls AS (
          SELECT jurisdiction, coalesce({dimension}, 'unknown') AS {dimension}, count(*) AS illegal_content_urls
          FROM content_urls WHERE illegal GROUP BY ALL)
        SELECT i.jurisdiction, i.{dimension}, i.illegal_items, coalesce(u.illegal_content_urls, 0) AS illegal_content_urls,
               i.illegal_items / nullif(t.items, 0) AS share_of_illegal_items
        FROM items i JOIN total t USING (jurisdiction) LEFT JOIN urls u USING (jurisdiction, {dimension})
        ORDER BY i.jurisdiction, i.illegal_items DESC, i.{dimension}"""

def _removal_by(*dimensions: str) -> str:
    """Tracked content URLs of illegal items and their time to removal by ``dimensions``
    (hosting country; host, when the snapshot keeps hosts, else ``unknown``)."""
    cols = ", ".join(f"coalesce({d}, 'unknown') AS {d.split('.')[-1]}" for d in dimensions)
    names = ", ".join(d.split(".")[-1] for d in dimensions)
    return f"""
        SELECT t.jurisdiction, {cols}, count(*) AS content_urls, count(*) FILTER (WHERE t.removed) AS removed,
               count(*) FILTER (WHERE t.changed) AS changed,
               count(*) FILTER (WHERE NOT t.removed AND NOT t.changed) AS still_up,
               median(t.hours_to_removal) AS median_hours, quantile_cont(t.hours_to_removal, 0.9) AS p90_hours,
               max(t.hours_to_removal) AS max_hours, median(t.working_days_to_removal) AS median_working_days,
               count(*) FILTER (WHERE t.overdue_3_working_days) AS overdue_3_working_days
        FROM takedowns t LEFT JOIN urls u USING (url_id) WHERE t.illegal
        GROUP BY ALL ORDER BY t.jurisdiction, content_urls DESC, {names}"""


VIEWS: dict[str, str] = {
    "time_to": f"""
        WITH events AS (
          SELECT jurisdiction, 1 AS stage_order, received_at, hours_to_crawl AS hours FROM report_facts
          UNION ALL
          SELECT jurisdiction, 2, received_at, hours_to_verdict FROM report_facts WHERE items > 0
          UNION ALL
          SELECT jurisdiction, 3, received_at, hours_to_export FROM report_facts WHERE items_illegal > 0
          UNION ALL
          -- removal runs from the notice (see takedowns)
          SELECT jurisdiction, 4, notice_at, hours_to_removal FROM takedowns WHERE illegal),
        agg AS (
          SELECT jurisdiction, stage_order, count(*) AS eligible, count(hours) AS reached,
                 median(hours) AS median_hours, quantile_cont(hours, 0.9) AS p90_hours,
                 count(*) FILTER (WHERE hours <= {THREE_DAYS_H}) AS within_3_days,
                 count(*) FILTER (WHERE hours IS NULL AND received_at
                                  <= (SELECT as_of FROM snapshot) - INTERVAL {THREE_DAYS_H} HOUR) AS overdue
          FROM events GROUP BY ALL),
        working AS (
          SELECT jurisdiction, 4 AS stage_order, median(working_days_to_removal) AS median_working_days,
                 count(*) FILTER (WHERE working_days_to_removal <= 3) AS within_3_working_days,
                 count(*) FILTER (WHERE overdue_3_working_days) AS overdue_3_working_days
          FROM takedowns WHERE illegal GROUP BY ALL),
        stages(stage_order, stage, counted) AS (
          VALUES (1, 'crawl', 'reports'), (2, 'verdict', 'reports'), (3, 'export', 'reports'),
                 (4, 'removal', 'content URLs'))
        SELECT j.jurisdiction, s.stage, s.counted, coalesce(a.eligible, 0) AS eligible,
               coalesce(a.reached, 0) AS reached, a.median_hours, a.p90_hours,
               coalesce(a.within_3_days, 0) AS within_3_days, coalesce(a.overdue, 0) AS overdue,
               a.within_3_days / nullif(a.reached + a.overdue, 0) AS share_within_3_days,
               w.median_working_days,
               CASE WHEN s.stage_order = 4 THEN coalesce(w.within_3_working_days, 0) END AS within_3_working_days,
               CASE WHEN s.stage_order = 4 THEN coalesce(w.overdue_3_working_days, 0) END AS overdue_3_working_days,
               w.within_3_working_days / nullif(a.reached + w.overdue_3_working_days, 0) AS share_within_3_working_days
        FROM jurisdictions j CROSS JOIN stages s
        LEFT JOIN agg a ON a.jurisdiction = j.jurisdiction AND a.stage_order = s.stage_order
        LEFT JOIN working w ON w.jurisdiction = j.jurisdiction AND w.stage_order = s.stage_order
        ORDER BY j.jurisdiction, s.stage_order""",
    "overview": """
        WITH r AS (
          SELECT jurisdiction, count(*) AS reports_received,
                 count(*) FILTER (WHERE partner) AS reports_from_partners,
                 count(*) FILTER (WHERE status IN ('done', 'failed')) AS reports_processed,
                 count(*) FILTER (WHERE assessed) AS reports_assessed,
                 count(*) FILTER (WHERE outcome = 'illegal') AS reports_illegal,
                 count(*) FILTER (WHERE outcome = 'not-illegal') AS reports_not_illegal,
                 count(*) FILTER (WHERE outcome = 'awaiting-review') AS reports_awaiting_review,
                 count(*) FILTER (WHERE outcome = 'no-media') AS reports_no_media,
                 count(*) FILTER (WHERE outcome = 'unreachable') AS reports_unreachable,
                 count(*) FILTER (WHERE outcome = 'pending') AS reports_pending,
                 count(*) FILTER (WHERE reported_before_by IS NOT NULL) AS reports_url_reported_before
          FROM report_facts GROUP BY jurisdiction),
        u AS (
          SELECT jurisdiction, count(*) AS content_urls, count(*) FILTER (WHERE illegal) AS content_urls_illegal
          FROM content_urls GROUP BY ALL),
        i AS (
          SELECT jurisdiction, count(*) AS items,
                 count(*) FILTER (WHERE verdict IS NOT NULL) AS items_assessed,
                 count(*) FILTER (WHERE illegal) AS items_illegal,
                 count(*) FILTER (WHERE verdict = 'baseline') AS items_baseline,
                 count(*) FILTER (WHERE verdict = 'national') AS items_national,
                 count(*) FILTER (WHERE verdict = 'not-illegal') AS items_not_illegal,
                 count(*) FILTER (WHERE verdict IS NULL AND status <> 'error') AS items_awaiting_review,
                 count(*) FILTER (WHERE status = 'error') AS items_error,
                 count(*) FILTER (WHERE known) AS items_known,
                 count(*) FILTER (WHERE NOT known) AS items_new,
                 count(*) FILTER (WHERE auto_classified) AS items_auto_classified,
                 count(*) FILTER (WHERE analyst_assessed) AS items_analyst_assessed
          FROM item_facts GROUP BY jurisdiction),
        t AS (SELECT jurisdiction, share_within_3_days, share_within_3_working_days FROM time_to
              WHERE stage = 'removal'),
        k AS (
          SELECT jurisdiction, count(*) FILTER (WHERE removed) AS takedowns_removed,
                 count(*) FILTER (WHERE changed) AS takedowns_changed
          FROM takedowns WHERE illegal GROUP BY ALL)
        SELECT j.jurisdiction,
               coalesce(r.reports_received, 0) AS reports_received,
               coalesce(r.reports_from_partners, 0) AS reports_from_partners,
               coalesce(r.reports_processed, 0) AS reports_processed,
               coalesce(r.reports_assessed, 0) AS reports_assessed,
               coalesce(r.reports_illegal, 0) AS reports_illegal,
               coalesce(r.reports_not_illegal, 0) AS reports_not_illegal,
               coalesce(r.reports_awaiting_review, 0) AS reports_awaiting_review,
               coalesce(r.reports_no_media, 0) AS reports_no_media,
               coalesce(r.reports_unreachable, 0) AS reports_unreachable,
               coalesce(r.reports_pending, 0) AS reports_pending,
               coalesce(r.reports_url_reported_before, 0) AS reports_url_reported_before,
               r.reports_illegal / nullif(r.reports_assessed, 0) AS share_reports_illegal,
               coalesce(u.content_urls, 0) AS content_urls,
               coalesce(u.content_urls_illegal, 0) AS content_urls_illegal,
               coalesce(i.items, 0) AS items,
               coalesce(i.items_assessed, 0) AS items_assessed,
               coalesce(i.items_illegal, 0) AS items_illegal,
               coalesce(i.items_baseline, 0) AS items_baseline,
               coalesce(i.items_national, 0) AS items_national,
               coalesce(i.items_not_illegal, 0) AS items_not_illegal,
               coalesce(i.items_awaiting_review, 0) AS items_awaiting_review,
               coalesce(i.items_error, 0) AS items_error,
               i.items_illegal / nullif(i.items_assessed, 0) AS share_items_illegal,
               coalesce(i.items_known, 0) AS items_known,
               coalesce(i.items_new, 0) AS items_new,
               i.items_known / nullif(i.items, 0) AS share_items_known,
               coalesce(i.items_auto_classified, 0) AS items_auto_classified,
               coalesce(i.items_analyst_assessed, 0) AS items_analyst_assessed,
               t.share_within_3_days AS share_removed_within_3_days,
               t.share_within_3_working_days AS share_removed_within_3_working_days,
               coalesce(k.takedowns_removed, 0) AS takedowns_removed,
               coalesce(k.takedowns_changed, 0) AS takedowns_changed
        FROM jurisdictions j
        LEFT JOIN r USING (jurisdiction) LEFT JOIN u USING (jurisdiction)
        LEFT JOIN i USING (jurisdiction) LEFT JOIN t USING (jurisdiction) LEFT JOIN k USING (jurisdiction)
        ORDER BY j.jurisdiction""",
    "report_outcomes": """
        WITH names(outcome_order, outcome) AS (
          VALUES (1, 'illegal'), (2, 'not-illegal'), (3, 'awaiting-review'), (4, 'no-media'),
                 (5, 'unreachable'), (6, 'pending'))
        SELECT j.jurisdiction, n.outcome, count(f.report_id) AS reports,
               count(f.report_id) / nullif(sum(count(f.report_id)) OVER (PARTITION BY j.jurisdiction), 0)
                 AS share_of_reports
        FROM jurisdictions j CROSS JOIN names n
        LEFT JOIN report_facts f ON f.jurisdiction = j.jurisdiction AND f.outcome = n.outcome
        GROUP BY j.jurisdiction, n.outcome_order, n.outcome ORDER BY j.jurisdiction, n.outcome_order""",
    "items_by_verdict": """
        SELECT jurisdiction, coalesce(verdict, 'unassessed') AS verdict, verdict_source, count(*) AS items,
               count(*) / sum(count(*)) OVER (PARTITION BY jurisdiction) AS share_of_items
        FROM item_facts GROUP BY jurisdiction, coalesce(verdict, 'unassessed'), verdict_source
        ORDER BY jurisdiction, 2, verdict_source""",
    "known_set_matches": """
        WITH matched AS (SELECT set_name, count(DISTINCT item_id) AS items FROM matches GROUP BY ALL),
        auto AS (
          SELECT jurisdiction, auto_classified_by AS set_name, count(*) AS items FROM item_facts
          WHERE auto_classified GROUP BY ALL),
        total AS (SELECT count(*) AS items FROM items)
        SELECT j.jurisdiction, k.set_name, k.source AS set_source, k.verdict AS set_verdict, k.enabled,
               coalesce(m.items, 0) AS items_matched, coalesce(a.items, 0) AS items_auto_classified,
               coalesce(m.items, 0) / nullif((SELECT items FROM total), 0) AS share_of_items
        FROM known_sets k CROSS JOIN jurisdictions j
        LEFT JOIN matched m ON m.set_name = k.set_name
        LEFT JOIN auto a ON a.set_name = k.set_name AND a.jurisdiction = j.jurisdiction
        ORDER BY j.jurisdiction, items_matched DESC, k.set_name""",
    "hosting_countries": _illegal_by("country", "first_of_item_in_country"),
    "site_types": _illegal_by("site_type", "first_of_item_in_site_type"),
    "removal_days": """
        WITH tracked AS (SELECT jurisdiction, hours_to_removal / 24.0 AS days FROM takedowns WHERE illegal),
        buckets(bucket_order, bucket, days_from, days_to) AS (
          VALUES (1, 'up to 1 day', 0, 1), (2, '1 to 2 days', 1, 2), (3, '2 to 3 days', 2, 3),
                 (4, '3 to 7 days', 3, 7), (5, '7 to 14 days', 7, 14), (6, '14 to 28 days', 14, 28),
                 (7, 'more than 28 days', 28, NULL), (8, 'not removed', NULL, NULL))
        SELECT j.jurisdiction, b.bucket, b.days_from, b.days_to, count(t.jurisdiction) AS content_urls,
               count(t.jurisdiction) / nullif(sum(count(t.jurisdiction)) OVER (PARTITION BY j.jurisdiction), 0)
                 AS share_of_content_urls
        FROM jurisdictions j CROSS JOIN buckets b
        LEFT JOIN tracked t ON t.jurisdiction = j.jurisdiction AND CASE
            WHEN b.days_from IS NULL THEN t.days IS NULL
            ELSE t.days <= coalesce(b.days_to, 'infinity'::DOUBLE) AND (t.days > b.days_from OR b.days_from = 0)
          END
        GROUP BY j.jurisdiction, b.bucket_order, b.bucket, b.days_from, b.days_to
        ORDER BY j.jurisdiction, b.bucket_order""",
    "removal_by_country": _removal_by("t.country"),
    "removal_by_host": _removal_by("t.country", "u.host"),
    "duplicates": """
        WITH own AS (SELECT min(jurisdiction) AS jurisdiction FROM jurisdictions WHERE own),
        parts AS (
          SELECT 1 AS what_order, 'reported URL' AS what, reported_before_by AS duplicate_of, count(*) AS n
          FROM report_facts JOIN own USING (jurisdiction) GROUP BY ALL
          UNION ALL
          SELECT 2, 'content URL', first_hotline, sum(reports - 1) FROM content_urls JOIN own USING (jurisdiction)
          GROUP BY ALL
          UNION ALL
          SELECT 2, 'content URL', NULL, count(*) FROM content_urls JOIN own USING (jurisdiction)
          UNION ALL
          SELECT 3, 'item', duplicate_of, count(*) FROM report_items GROUP BY ALL),
        totals AS (SELECT what_order, sum(n) AS total FROM parts GROUP BY ALL)
        SELECT p.what, p.duplicate_of, CAST(sum(p.n) AS BIGINT) AS duplicates, CAST(any_value(t.total) AS BIGINT) AS total,
               sum(p.n) / any_value(t.total) AS share
        FROM parts p JOIN totals t USING (what_order) WHERE p.duplicate_of IS NOT NULL
        GROUP BY p.what_order, p.what, p.duplicate_of HAVING sum(p.n) > 0
        ORDER BY p.what_order, duplicates DESC, p.duplicate_of""",
    "by_hotline": """
        WITH r AS (
          SELECT hotline, jurisdiction, count(*) AS reports, count(*) FILTER (WHERE assessed) AS reports_assessed,
                 count(*) FILTER (WHERE illegal) AS reports_illegal
          FROM report_facts GROUP BY ALL),
        i AS (
          SELECT hotline, jurisdiction, count(*) AS items_first_seen,
                 count(*) FILTER (WHERE illegal) AS items_illegal, count(*) FILTER (WHERE known) AS items_known
          FROM item_facts GROUP BY ALL)
        SELECT hotline, jurisdiction, coalesce(r.reports, 0) AS reports,
               coalesce(r.reports_assessed, 0) AS reports_assessed, coalesce(r.reports_illegal, 0) AS reports_illegal,
               r.reports_illegal / nullif(r.reports_assessed, 0) AS share_reports_illegal,
               coalesce(i.items_first_seen, 0) AS items_first_seen, coalesce(i.items_illegal, 0) AS items_illegal,
               coalesce(i.items_known, 0) AS items_known
        FROM r FULL JOIN i USING (hotline, jurisdiction)
        ORDER BY hotline <> 'own', reports DESC, hotline, jurisdiction""",
    "reports_by_period": """
        SELECT grain, period, hotline, jurisdiction, outcome, count(*) AS reports,
               CAST(sum(items) AS BIGINT) AS items, CAST(sum(items_illegal) AS BIGINT) AS items_illegal,
               CAST(sum(content_urls_illegal) AS BIGINT) AS content_urls_illegal
        FROM (SELECT 'week' AS grain, week AS period, hotline, jurisdiction, outcome, items, items_illegal,
                     content_urls_illegal FROM report_facts
              UNION ALL
              SELECT 'month', month, hotline, jurisdiction, outcome, items, items_illegal, content_urls_illegal
              FROM report_facts)
        GROUP BY ALL ORDER BY grain, period, hotline, jurisdiction, outcome""",
    "items_by_period": """
        SELECT grain, period, hotline, jurisdiction, coalesce(verdict, 'unassessed') AS verdict, known,
               count(*) AS items, count(*) FILTER (WHERE auto_classified) AS items_auto_classified
        FROM (SELECT 'week' AS grain, week AS period, hotline, jurisdiction, verdict, known, auto_classified
              FROM item_facts
              UNION ALL
              SELECT 'month', month, hotline, jurisdiction, verdict, known, auto_classified FROM item_facts)
        GROUP BY ALL ORDER BY grain, period, hotline, jurisdiction, verdict, known""",
}

TITLES: dict[str, str] = {
    "overview": "Overview",
    "report_outcomes": "Reports by outcome",
    "items_by_verdict": "Items by current verdict",
    "known_set_matches": "Known sets: items matched and analyst views spared",
    "hosting_countries": "Hosting countries of illegal content",
    "site_types": "Site types of illegal content",
    "time_to": "Time from report to crawl, verdict, export and removal (hours)",
    "removal_days": "Time to removal of illegal content URLs",
    "removal_by_country": "Time to removal by hosting country",
    "removal_by_host": "Time to removal by host and hosting country",
    "duplicates": "Duplicates avoided",
    "by_hotline": "By hotline (ours and partners')",
    "reports_by_period": "Reports by week and month",
    "items_by_period": "Items by week and month",
}
