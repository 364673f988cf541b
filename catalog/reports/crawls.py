"""Crawls of reports (``crawls``, ``pages``): recording one crawl (its pages, media,
sightings, errors and the items it could not store) in one transaction, and what a killed
run already crawled.

Media rows are keyed by SHA-256, and sightings are unique per (media, report, URL), so a
crawl recorded twice (a re-run after a crash) adds nothing the first one did not. A report
left ``processing`` by a run that died is claimed again by the next run; if its crawl had
been recorded (after the report was last finished), that crawl is kept and not repeated
(``open_crawl``).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from catalog.db import Database, insert_ignoring_duplicates, inserted_id, utcnow
from catalog.reports.pending import settle_pending
from catalog.reports.records import CrawlResult
from catalog.schema import crawls, media, pages, report_errors, reports, sightings


class CrawlRecording(Database):
    """Part of ``ReportStore``: crawls and the pages they fetched."""

    def open_crawl(self, report_id: int) -> int | None:
        """Media count of the crawl recorded for ``report_id`` since it was last finished
        (by a run that then died), or None when it has not been crawled since."""
        finished = sa.select(reports.c.processed_at).where(reports.c.id == report_id).scalar_subquery()
        query = (
            sa.select(crawls.c.media)
            .where(crawls.c.report_id == report_id,
                   sa.or_(finished.is_(None), crawls.c.finished_at > finished))
            .order_by(crawls.c.id.desc())
            .limit(1)
        )
        with self.read() as conn:
            return conn.scalar(query)

    def record_crawl(
        self, report_id: int, result: CrawlResult, started_at: Any = None, *, give_up_after: int | None = None
    ) -> int:
        """Record one crawl of a report: its pages, media, sightings, errors and the items
        it could not store (``reports.pending``; ``give_up_after``: fetch attempts after
        which an item the site keeps failing on is given up), atomically."""
        now = utcnow()
        with self.write() as conn:
            crawl_id = inserted_id(conn.execute(
                crawls.insert().values(
                    report_id=report_id,
                    started_at=started_at or now,
                    finished_at=now,
                    status="failed" if result.errors and not result.media else "ok",
                    pages=len(result.pages),
                    media=len(result.media),
                    errors=len(result.errors),
                    stats=dict(result.stats),
                )
            ))
            if result.pages:
                conn.execute(
                    pages.insert(),
                    [
                        dict(
                            crawl_id=crawl_id,
                            report_id=report_id,
                            url=p.url,
                            final_url=p.final_url,
                            status=p.status,
                            ip=p.ip,
                            country=p.country,
                            content_type=p.content_type,
                            size=p.size,
                            fetched_at=_naive(p.fetched_at),
                            redirects=list(p.redirects),
                            view=p.view,
                            referer=p.referer,
                            headers=dict(p.headers) or None,
                        )
                        for p in result.pages
                    ],
                )
            insert_ignoring_duplicates(
                conn,
                media,
                [
                    dict(sha256=m.sha256, kind=m.kind, mime=m.mime, size=m.size, status="new", first_seen_at=now)
                    for m in result.media
                ],
            )
            insert_ignoring_duplicates(
                conn,
                sightings,
                [
                    dict(
                        sha256=s.sha256,
                        report_id=report_id,
                        crawl_id=crawl_id,
                        media_url=s.media_url,
                        page_url=s.page_url,
                        ip=s.ip,
                        country=s.country,
                        seen_at=_naive(s.seen_at) or now,
                        final_url=s.final_url,
                        redirects=list(s.redirects) or None,
                        http_status=s.http_status,
                        content_type=s.content_type,
                        headers=dict(s.headers) or None,
                        page_host=s.page_host or urlsplit(s.page_url).hostname,
                        page_ip=s.page_ip,
                        page_country=s.page_country,
                    )
                    for s in result.sightings
                ],
            )
            if result.errors:
                conn.execute(
                    report_errors.insert(),
                    [
                        dict(report_id=report_id, stage=e.stage, url=e.url, reason=e.reason, at=now)
                        for e in result.errors
                    ],
                )
            settle_pending(conn, report_id, result, now, give_up_after)
        return int(crawl_id)

    def crawl_counts(self, report_id: int) -> dict[str, int]:
        """The counters of the report's latest crawl (pages, media, requests, and outcomes
        that are counted rather than recorded as errors, such as ``guessed/failed``: media
        URLs guessed from the page text that were not there); empty before a crawl."""
        query = (
            sa.select(crawls.c.stats).where(crawls.c.report_id == report_id).order_by(crawls.c.id.desc()).limit(1)
        )
        with self.read() as conn:
            stats = conn.scalar(query)
        return {str(k): int(v) for k, v in (stats or {}).items()}


def _naive(value: Any) -> Any:
    """Datetimes are stored as naive UTC."""
    if value is not None and getattr(value, "tzinfo", None) is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
