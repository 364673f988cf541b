"""Faults: what a killed run already did, and items that fail transiently (tried again by
later runs, then quarantined).

A report left ``processing`` by a run that died is claimed again by the next run; if its
crawl had been recorded (after the report was last finished), that crawl is kept and not
repeated (``open_crawl``).

A hashing run that cannot read an item's evidence (the store unreachable after its own
retries) leaves the item ``new`` and counts the attempt with its reason; the report stays
``processing``, so the next run picks it up again. An item that failed ``quarantine_after``
runs is quarantined: status ``error`` with the reason, recorded on its reports and shown by
``hotline doctor``. A permanent failure (corrupt media) is quarantined at once
(``MediaMixin.mark_media_error``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.media import record_hash_error
from catalog.schema import crawls, media, reports


@dataclass(frozen=True)
class FailingItem:
    sha256: str
    status: str  # new (to be tried again) or error (quarantined)
    attempts: int
    reason: str | None


class FaultsMixin(Database):
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

    def record_transient_failure(
        self, sha256: str, reason: str, report_ids: Sequence[int], *, quarantine_after: int
    ) -> bool:
        """Count a failed attempt on a ``new`` item; quarantine it at ``quarantine_after``
        attempts. Returns whether it is now quarantined."""
        with self.write() as conn:
            attempts = conn.scalar(
                media.update()
                .where(media.c.sha256 == sha256, media.c.status == "new")
                .values(attempts=media.c.attempts + 1, error=reason)
                .returning(media.c.attempts)
            )
            if attempts is None or attempts < quarantine_after:
                return False
            why = f"quarantined after {attempts} failed attempts: {reason}"
            conn.execute(media.update().where(media.c.sha256 == sha256).values(status="error", error=why))
            record_hash_error(conn, sha256, why, report_ids, utcnow())
        return True

    def failing_items(self, limit: int = 100) -> list[FailingItem]:
        """Quarantined items and items waiting to be tried again, most attempts first."""
        query = (
            sa.select(media.c.sha256, media.c.status, media.c.attempts, media.c.error)
            .where(sa.or_(media.c.status == "error", sa.and_(media.c.status == "new", media.c.attempts > 0)))
            .order_by(media.c.attempts.desc(), media.c.sha256)
            .limit(limit)
        )
        with self.read() as conn:
            return [FailingItem(r.sha256, r.status, r.attempts, r.error) for r in conn.execute(query)]
