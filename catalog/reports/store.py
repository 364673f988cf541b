"""``ReportStore``: reports and crawls. It owns ``reports`` and ``report_errors`` (the URLs
the public or a partner reported, and the reasons recorded on them), ``runs`` (the runs
that claim reports: ``reports.claims``), ``crawls`` and ``pages`` (``reports.crawls``),
``pending_media`` (``reports.pending``), ``rechecks`` (takedown tracking:
``reports.takedowns``) and ``intake_requests`` (the HTTP intake's idempotency keys:
``reports.intake_keys``). Records: ``reports.records``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.db import utcnow
from catalog.errors import NotFound
from catalog.reports.claims import RunClaims
from catalog.reports.crawls import CrawlRecording
from catalog.reports.intake_keys import IntakeKeys
from catalog.reports.pending import PendingMediaRows
from catalog.reports.records import FiledReport, NewReport, Report, ReportError, report_record
from catalog.reports.takedowns import Takedowns
from catalog.schema import report_errors, reports
from catalog.users.audit import audit_many


class ReportStore(RunClaims, CrawlRecording, PendingMediaRows, Takedowns, IntakeKeys):
    """Reports, the runs that claim them, their crawls, items not stored yet, and re-checks."""

    def add_report(
        self,
        url: str,
        *,
        actor: str,
        source: str = "public",
        referer: str | None = None,
        pathway: Sequence[str] = (),
        user_agent: str | None = None,
        url_key: str | None = None,
    ) -> int:
        """File one report, never linked to an earlier one (``add_reports`` files many; the
        command line and the HTTP intake file through ``hotline.services.intake``, which
        gives every report its ``url_key``: one without is never found as a repeat)."""
        entry = NewReport(url=url, url_key=url_key, source=source, referer=referer,
                          pathway=tuple(pathway), user_agent=user_agent)
        return self.add_reports([entry], actor=actor)[0].id

    def add_reports(
        self, entries: Sequence[NewReport], *, actor: str, link_within: timedelta | None = None
    ) -> list[FiledReport]:
        """File ``entries`` in one transaction, each audited; they wait as ``pending`` until a
        run processes them. ``pathway``: the pages the reporter went through to reach the URL,
        in order; ``user_agent``: the reporter's browser (the crawler replays both).

        With ``link_within``, an entry whose URL identity (``url_key``) was reported within
        that time (and not failed), or earlier in ``entries``, is filed ``linked`` to that
        report instead: it is never crawled, so one URL is not investigated twice."""
        now = utcnow()
        with self.write() as conn:
            earlier = (self._recent_reports(conn, {e.url_key for e in entries if e.url_key}, now - link_within)
                       if link_within else {})
            first: list[int] = []  # entries filed for a crawl, by position
            repeats: list[int] = []
            seen: set[str] = set()
            for i, entry in enumerate(entries):
                if link_within is not None and entry.url_key and (entry.url_key in earlier or entry.url_key in seen):
                    repeats.append(i)
                else:
                    first.append(i)
                    seen.add(entry.url_key or "")
            ids: dict[int, int] = {}
            # the first of each URL first, so that a repeat later in the batch can name it
            for positions, repeat in ((first, False), (repeats, True)):
                if not positions:
                    continue
                rows = [self._row(entries[i], now, earlier[entries[i].url_key or ""] if repeat else None)
                        for i in positions]
                inserted = conn.execute(reports.insert().returning(reports.c.id, sort_by_parameter_order=True), rows)
                for i, report_id in zip(positions, inserted.scalars(), strict=True):
                    ids[i] = report_id
                    key = entries[i].url_key
                    if not repeat and key:
                        earlier.setdefault(key, report_id)
            linked = set(repeats)
            filed = [FiledReport(id=ids[i], url=e.url, linked_to=earlier[e.url_key or ""] if i in linked else None)
                     for i, e in enumerate(entries)]
            audit_many(conn, actor, "report.add", [
                (str(f.id), {"url": f.url, "source": e.source, **({"linked_to": f.linked_to} if f.linked_to else {})})
                for f, e in zip(filed, entries, strict=True)])
        return filed

    @staticmethod
    def _recent_reports(conn: sa.Connection, keys: set[str], since: datetime) -> dict[str, int]:
        """The newest report (not linked, not failed) received since ``since`` per URL identity."""
        found: dict[str, tuple[datetime, int]] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), 500):
            query = sa.select(reports.c.url_key, reports.c.received_at, reports.c.id).where(
                reports.c.url_key.in_(ordered[start:start + 500]), reports.c.received_at >= since,
                reports.c.status.not_in(("failed", "linked")))  # a linked report is crawled by nobody here
            for key, at, report_id in conn.execute(query):
                if key not in found or (at, report_id) > found[key]:
                    found[key] = (at, report_id)
        return {key: report_id for key, (_at, report_id) in found.items()}

    @staticmethod
    def _row(entry: NewReport, now: datetime, linked_to: int | None) -> dict[str, Any]:
        return dict(url=entry.url, url_key=entry.url_key, source=entry.source, referer=entry.referer,
                    status="linked" if linked_to is not None else "pending", received_at=entry.received_at or now,
                    pathway=list(entry.pathway) or None, user_agent=entry.user_agent,
                    reporter_ref=entry.reporter_ref, linked_to=linked_to)

    def get_report(self, report_id: int) -> Report:
        with self.read() as conn:
            row = conn.execute(sa.select(reports).where(reports.c.id == report_id)).first()
        if row is None:
            raise NotFound(f"no report {report_id!r}")
        return report_record(row)

    def list_reports(self, status: str | None = None, limit: int = 1000) -> list[Report]:
        query = sa.select(reports).order_by(reports.c.id).limit(limit)
        if status:
            query = query.where(reports.c.status == status)
        with self.read() as conn:
            return [report_record(row) for row in conn.execute(query)]

    def finish_report(
        self, report_id: int, *, failed: bool = False, error: str | None = None, run_id: str | None = None
    ) -> bool:
        """Mark the report ``done`` (or ``failed``, with ``error``). With ``run_id``, only
        while that run holds its claim: a run that lost it (its lease expired and another
        run took the report) leaves the report to the other. Returns whether it was marked."""
        where = [reports.c.id == report_id]
        if run_id is not None:
            where.append(reports.c.claimed_by == run_id)
        with self.write() as conn:
            result = conn.execute(
                reports.update()
                .where(*where)
                .values(status="failed" if failed else "done", processed_at=utcnow(), error=error)
            )
        return bool(result.rowcount)

    def record_report_error(
        self,
        report_id: int,
        stage: str,
        reason: str,
        *,
        url: str | None = None,
        sha256: str | None = None,
        conn: sa.Connection | None = None,
    ) -> None:
        values = dict(report_id=report_id, stage=stage, reason=reason, url=url, sha256=sha256, at=utcnow())
        if conn is not None:
            conn.execute(report_errors.insert().values(**values))
            return
        with self.write() as own:
            own.execute(report_errors.insert().values(**values))

    def report_errors(self, report_id: int) -> list[ReportError]:
        query = (
            sa.select(report_errors)
            .where(report_errors.c.report_id == report_id)
            .order_by(report_errors.c.id)
        )
        with self.read() as conn:
            return [
                ReportError(
                    report_id=row.report_id,
                    stage=row.stage,
                    reason=row.reason,
                    url=row.url,
                    sha256=row.sha256,
                )
                for row in conn.execute(query)
            ]
