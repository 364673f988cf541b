"""``ReportStore``: reports and crawls. It owns ``reports`` and ``report_errors`` (the URLs
the public or a partner reported, and the reasons recorded on them), ``runs`` (the runs
that claim reports: ``reports.claims``), ``crawls`` and ``pages`` (``reports.crawls``),
``pending_media`` (``reports.pending``) and ``rechecks`` (takedown tracking:
``reports.takedowns``). Records: ``reports.records``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from catalog.db import inserted_id, utcnow
from catalog.errors import NotFound
from catalog.reports.claims import RunClaims
from catalog.reports.crawls import CrawlRecording
from catalog.reports.pending import PendingMediaRows
from catalog.reports.records import Report, ReportError, report_record
from catalog.reports.takedowns import Takedowns
from catalog.schema import report_errors, reports
from catalog.users.audit import audit


class ReportStore(RunClaims, CrawlRecording, PendingMediaRows, Takedowns):
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
    ) -> int:
        """File a report; it waits as ``pending`` until a run processes it. ``pathway``: the
        pages the reporter went through to reach ``url``, in order; ``user_agent``: the
        reporter's browser (the crawler replays both)."""
        with self.write() as conn:
            report_id = inserted_id(conn.execute(
                reports.insert().values(
                    url=url, source=source, referer=referer, status="pending", received_at=utcnow(),
                    pathway=list(pathway) or None, user_agent=user_agent,
                )
            ))
            audit(conn, actor, "report.add", str(report_id), url=url, source=source)
        return int(report_id)

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
