"""Takedown tracking: which URLs to re-check, and what each re-check found.

The targets are the sightings (``sightings.media_url``) of items whose current verdict is
``baseline`` or ``national``, least recently checked first. Each re-check is one row of
``rechecks``; the table is append-only by use (statistics count outcomes over time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa

from catalog.db import Database
from catalog.decisions.records import Verdict
from catalog.decisions.verdict_rows import current_verdicts
from catalog.reports.records import RecheckRecord, RecheckTarget, UrlTakedown
from catalog.schema import rechecks, reports, sightings

# still-up: the same item is served; changed: something else is; missing: HTTP 404/410 or
# the host name does not exist, not yet at as many consecutive checks as removal needs;
# removed: missing at that many consecutive checks (this one included)
OUTCOMES = ("still-up", "changed", "missing", "removed")
ABSENT = ("missing", "removed")


def _naive(value: datetime) -> datetime:
    """Times are stored as naive UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


class Takedowns(Database):
    """Part of ``ReportStore``: re-checks of URLs where confirmed material was seen."""

    def recheck_targets(self, limit: int = 500) -> list[RecheckTarget]:
        """Sightings of confirmed items (current verdict baseline or national), one per
        (report, item, URL), those never or least recently re-checked first."""
        cv = current_verdicts()
        confirmed = [v.value for v in Verdict if v.exportable]
        last = (
            sa.select(rechecks.c.url, sa.func.max(rechecks.c.checked_at).label("last"))
            .group_by(rechecks.c.url)
            .subquery()
        )
        query = (
            sa.select(sightings.c.report_id, sightings.c.sha256, sightings.c.media_url, sightings.c.page_url,
                      reports.c.user_agent)
            .join(cv, cv.c.sha256 == sightings.c.sha256)
            .outerjoin(reports, reports.c.id == sightings.c.report_id)
            .outerjoin(last, last.c.url == sightings.c.media_url)
            .where(cv.c.verdict.in_(confirmed))
            .order_by(last.c.last.is_not(None), last.c.last, sightings.c.id)
            .limit(limit)
        )
        with self.read() as conn:
            return [RecheckTarget(r.report_id, r.sha256, r.media_url, r.page_url, r.user_agent)
                    for r in conn.execute(query)]

    def record_rechecks(self, records: Sequence[RecheckRecord], *, removed_after: int = 1) -> list[RecheckRecord]:
        """Store re-check results; returns them as stored. A ``missing`` (or ``removed``)
        result is stored as ``removed`` once it is the ``removed_after``-th consecutive
        check of that URL (for that report and item) to find it gone, else as ``missing``:
        one 404 or one NXDOMAIN can be a mistake or an outage, several in a row are not."""
        for r in records:
            if r.outcome not in OUTCOMES:
                raise ValueError(f"a re-check outcome is one of {OUTCOMES}, not {r.outcome!r}")
        if removed_after < 1:
            raise ValueError(f"removed_after must be at least 1, not {removed_after!r}")
        if not records:
            return []
        stored: list[RecheckRecord] = []
        with self.write() as conn:
            for r in records:
                if r.outcome in ABSENT:
                    before = conn.scalars(
                        sa.select(rechecks.c.outcome)
                        .where(rechecks.c.url == r.url, rechecks.c.sha256 == r.sha256,
                               rechecks.c.report_id == r.report_id)
                        .order_by(rechecks.c.checked_at.desc(), rechecks.c.id.desc())
                        .limit(removed_after - 1)
                    ).all()
                    agree = len(before) == removed_after - 1 and all(o in ABSENT for o in before)
                    r = replace(r, outcome="removed" if agree else "missing")
                stored.append(r)
            conn.execute(
                rechecks.insert(),
                [
                    dict(report_id=r.report_id, sha256=r.sha256, url=r.url, checked_at=_naive(r.checked_at),
                         outcome=r.outcome, http_status=r.http_status, detail=r.detail)
                    for r in stored
                ],
            )
        return stored

    def rechecks_of(self, url: str | None = None, sha256: str | None = None) -> list[RecheckRecord]:
        """Re-check history, oldest first, optionally of one URL or one item."""
        query = sa.select(rechecks).order_by(rechecks.c.checked_at, rechecks.c.id)
        if url is not None:
            query = query.where(rechecks.c.url == url)
        if sha256 is not None:
            query = query.where(rechecks.c.sha256 == sha256)
        with self.read() as conn:
            return [
                RecheckRecord(r.report_id, r.sha256, r.url, r.checked_at, r.outcome, r.http_status, r.detail)
                for r in conn.execute(query)
            ]

    def takedown_history(
        self, *, report_id: int | None = None, sha256: str | None = None, since: datetime | None = None
    ) -> list[UrlTakedown]:
        """Each URL's re-check history (still up, changed, missing, removed, when), per
        report and item: of one report, one item, or the URLs checked at or after ``since``."""
        query = sa.select(rechecks).order_by(rechecks.c.checked_at, rechecks.c.id)
        if report_id is not None:
            query = query.where(rechecks.c.report_id == report_id)
        if sha256 is not None:
            query = query.where(rechecks.c.sha256 == sha256)
        if since is not None:
            query = query.where(rechecks.c.url.in_(
                sa.select(rechecks.c.url).where(rechecks.c.checked_at >= _naive(since))))
        grouped: dict[tuple[int | None, str | None, str], list[RecheckRecord]] = {}
        with self.read() as conn:
            for r in conn.execute(query):
                grouped.setdefault((r.report_id, r.sha256, r.url), []).append(
                    RecheckRecord(r.report_id, r.sha256, r.url, r.checked_at, r.outcome, r.http_status, r.detail))
        return [UrlTakedown(rid, sha, url, tuple(checks)) for (rid, sha, url), checks in grouped.items()]
