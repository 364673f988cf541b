"""Pending media: items a crawl found but could not store, kept until a later run stores
them or the site answers for good.

A crawl whose evidence store fails (a full disk, a storage outage) records each such item
(``CrawlResult.pending``) with its URL, the page it was found on and the reason. Its report
is not finished: it goes back to ``pending`` (``defer_report``), so whatever claims reports
next claims it again, and that run fetches just those items again (``pending_media``).
Each crawl of the report settles the rows it tried (``settle_pending``, in the crawl's own
transaction): ``stored`` once a sighting of the URL is recorded, ``closed`` on a permanent
answer (404, 410, a limit: the reason recorded on the report says which), or still
``pending`` with one more attempt. A store failure never closes a row; a transient fetch
failure closes it after ``give_up_after`` attempts.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.reports.records import CrawlResult, PendingMedia
from catalog.schema import pending_media, reports


def settle_pending(
    conn: sa.Connection, report_id: int, result: CrawlResult, now: datetime, give_up_after: int | None = None
) -> None:
    """Record ``result.pending`` and settle the report's open rows that this crawl tried."""
    rows = {(r.media_url, r.page_url): r for r in conn.execute(
        sa.select(pending_media).where(pending_media.c.report_id == report_id))}
    stored = {s.media_url for s in result.sightings}
    failed: dict[str, str] = {}
    for error in result.errors:
        failed.setdefault(error.url, error.reason)
    still = {(p.media_url, p.page_url): p for p in result.pending}
    for key, row in rows.items():
        if row.status != "pending" or key in still:
            continue
        if key[0] in stored:
            values = dict(status="stored", settled_at=now)
        elif key[0] in failed:
            values = dict(status="closed", reason=failed[key[0]], settled_at=now)
        else:
            continue  # not tried by this crawl
        conn.execute(pending_media.update().where(pending_media.c.id == row.id).values(**values))
    for key, item in still.items():
        existing = rows.get(key)
        if existing is None:
            conn.execute(pending_media.insert().values(
                report_id=report_id, media_url=item.media_url, page_url=item.page_url, status="pending",
                stage=item.stage, reason=item.reason, attempts=1, first_failed_at=now, last_failed_at=now,
            ))
            continue
        attempts = existing.attempts + 1 if existing.status == "pending" else 1
        values = dict(status="pending", stage=item.stage, reason=item.reason, attempts=attempts,
                      last_failed_at=now, settled_at=None)
        if existing.status != "pending":
            values["first_failed_at"] = now
        elif item.stage == "crawl" and give_up_after is not None and attempts >= give_up_after:
            # the site keeps failing (not our store): give the item up, with the reason
            values.update(status="closed", settled_at=now,
                          reason=f"given up after {attempts} attempts: {item.reason}")
        conn.execute(pending_media.update().where(pending_media.c.id == existing.id).values(**values))


class PendingMediaRows(Database):
    """Part of ``ReportStore``: media found but not stored yet."""

    def pending_media(self, report_id: int) -> list[PendingMedia]:
        """The report's items still waiting to be stored, in the order they were found."""
        query = (
            sa.select(pending_media)
            .where(pending_media.c.report_id == report_id, pending_media.c.status == "pending")
            .order_by(pending_media.c.id)
        )
        with self.read() as conn:
            return [PendingMedia(r.media_url, r.page_url, r.reason, r.stage) for r in conn.execute(query)]

    def pending_media_counts(self) -> dict[str, int]:
        """Rows by status across all reports: ``pending`` (waiting), ``stored``, ``closed``."""
        query = sa.select(pending_media.c.status, sa.func.count()).group_by(pending_media.c.status)
        with self.read() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def defer_report(self, report_id: int, reason: str) -> None:
        """Leave the report open for the next run (status ``pending``, ``error`` says why):
        some of its items could not be stored yet."""
        with self.write() as conn:
            conn.execute(
                reports.update().where(reports.c.id == report_id)
                .values(status="pending", processed_at=utcnow(), error=reason)
            )
