"""Integrity: every stored media item is seen on a report, and no report is closed on items
it has not processed.

Media reach hashing, matching and the review queue only through their sightings
(``media_of_reports``), so an item without one is evidence nobody will ever look at. A
crawl records its media and sightings in one transaction (``ReportStore.record_crawl``) and
the crawler gives every stored item a sighting, so neither check should ever find
anything; they exist for catalogs written by older versions, which lost the sightings of
media whose URL needed escaping, and as a standing guard.

``reattach_media`` repairs both from the crawl records: an item without a sighting is
attached to the report of the crawl that recorded it (``record_crawl`` stamps the item's
``first_seen_at`` with that crawl's ``finished_at``), with the reported URL standing in
for the item's own URL, which that crawl did not keep, and a ``repair`` reason on the
report saying so. Each affected report goes back to ``pending`` with its crawl kept (no
second visit to the site), so the next run hashes, matches and queues what it holds.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.media_items.records import Repair
from catalog.schema import crawls, media, report_errors, reports, sightings
from catalog.users.audit import audit

UNPROCESSED = ("new", "hashed")  # statuses an item leaves when matched, queued or failed


def _orphans() -> sa.Select[Any]:
    seen = sa.select(sightings.c.sha256).where(sightings.c.sha256 == media.c.sha256)
    return sa.select(media.c.sha256).where(~seen.exists()).order_by(media.c.sha256)


def _done_with_unprocessed() -> sa.Select[Any]:
    return (
        sa.select(reports.c.id).distinct()
        .join(sightings, sightings.c.report_id == reports.c.id)
        .join(media, media.c.sha256 == sightings.c.sha256)
        .where(reports.c.status == "done", media.c.status.in_(UNPROCESSED))
        .order_by(reports.c.id)
    )


class MediaIntegrity(Database):
    """Part of ``MediaStore``: items without sightings, and their repair."""

    def media_without_sightings(self) -> list[str]:
        """SHA-256s of stored items seen on no report."""
        with self.read() as conn:
            return list(conn.scalars(_orphans()))

    def done_reports_with_unprocessed_media(self) -> list[int]:
        """Reports marked ``done`` that saw items not yet hashed, matched or queued."""
        with self.read() as conn:
            return list(conn.scalars(_done_with_unprocessed()))

    def reattach_media(self, *, actor: str) -> Repair:
        """Give each item without a sighting one on the report of the crawl that recorded it,
        and put those reports, and ``done`` reports with unprocessed items, back to
        ``pending`` (their crawls kept; a report still ``processing`` is left to its run).
        Audited; running it again changes nothing more."""
        now = utcnow()
        reattached: list[str] = []
        unattached: list[str] = []
        with self.write() as conn:
            for sha256 in list(conn.scalars(_orphans())):
                row = conn.execute(
                    sa.select(crawls.c.id, crawls.c.report_id, reports.c.url)
                    .join(reports, reports.c.id == crawls.c.report_id)
                    .join(media, media.c.first_seen_at == crawls.c.finished_at)
                    .where(media.c.sha256 == sha256)
                    .order_by(crawls.c.id)
                    .limit(1)
                ).first()
                if row is None:
                    unattached.append(sha256)
                    continue
                conn.execute(sightings.insert().values(
                    sha256=sha256, report_id=row.report_id, crawl_id=row.id, media_url=row.url,
                    page_url=row.url, seen_at=now,
                ))
                conn.execute(report_errors.insert().values(
                    report_id=row.report_id, stage="repair", sha256=sha256, url=row.url, at=now,
                    reason=f"item stored by crawl {row.id} had no sighting; re-attached to this report, "
                           f"the reported URL standing in for the item's own URL, which was not recorded",
                ))
                reattached.append(sha256)
            affected = set(conn.scalars(_done_with_unprocessed()))
            if reattached:
                affected.update(conn.scalars(
                    sa.select(sightings.c.report_id).where(sightings.c.sha256.in_(reattached))
                ))
            if affected:
                # processed_at cleared: the crawl recorded since is the report's open crawl, so
                # the next run processes its items without fetching the site again
                conn.execute(
                    reports.update()
                    .where(reports.c.id.in_(sorted(affected)), reports.c.status.in_(("done", "failed")))
                    .values(status="pending", processed_at=None)
                )
            audit(conn, actor, "media.reattach", None, reattached=len(reattached),
                  unattached=len(unattached), reports=sorted(affected))
        return Repair(tuple(reattached), tuple(unattached), tuple(sorted(affected)))
