"""Runs and their claims on reports.

A run of process-report registers itself (``start_run``) with a lease that it renews while
it works (``renew_run``, from a ``Heartbeat`` thread) and ends (``end_run``) when it is
done. The reports it claims name it in ``reports.claimed_by``. A report can be claimed when
it is ``pending``, or ``processing`` without a live owner: the owning run has ended (a
report it could not finish waits for the next run) or its lease expired (its process died,
as a ``kill -9`` or a lost machine leave it). So two runs at once never take the same
report, and a dead run's reports go to the first run after its lease.

Claiming is one write transaction: on SQLite ``BEGIN IMMEDIATE`` serialises claimants; on
PostgreSQL the rows are selected ``FOR UPDATE SKIP LOCKED``, so a report another claimant
is taking at that moment is skipped, and one it has just taken fails the owner test when
PostgreSQL re-checks the locked row.

Leases are compared with the clocks of the machines that run flows: keep them in sync
(NTP); a lease lasts minutes, far beyond any skew that matters.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.reports.records import Report, Run, report_record
from catalog.schema import reports, runs

log = logging.getLogger(__name__)


def _run(row: sa.Row) -> Run:
    m = row._mapping
    return Run(m["id"], m["flow"], m["host"], m["pid"], m["started_at"], m["expires_at"], m["ended_at"],
               m["summary"], m["progress"])


def _live_owner(now: datetime) -> sa.ColumnElement[bool]:
    """The report's ``claimed_by`` names a run that is still working."""
    return sa.exists().where(runs.c.id == reports.c.claimed_by, runs.c.ended_at.is_(None), runs.c.expires_at > now)


class RunClaims(Database):
    """Part of ``ReportStore``: runs and their claims on reports."""

    def start_run(self, run_id: str, *, flow: str, lease: timedelta) -> None:
        """Register run ``run_id`` (this process) with a lease of ``lease``; a run
        registered again (a retried flow run) gets a fresh lease."""
        now = utcnow()
        with self.write() as conn:
            known = conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first()
            values = dict(host=socket.gethostname(), pid=os.getpid(), expires_at=now + lease, ended_at=None)
            if known is None:
                conn.execute(runs.insert().values(id=run_id, flow=flow, started_at=now, **values))
            else:
                conn.execute(runs.update().where(runs.c.id == run_id).values(settled_at=None, **values))

    def renew_run(self, run_id: str, lease: timedelta) -> bool:
        """Extend the lease of a run still working; False once it has ended."""
        with self.write() as conn:
            result = conn.execute(
                runs.update().where(runs.c.id == run_id, runs.c.ended_at.is_(None))
                .values(expires_at=utcnow() + lease)
            )
        return bool(result.rowcount)

    def end_run(self, run_id: str, summary: dict[str, Any] | None = None) -> None:
        """The run lets go of its claims (reports it left ``processing`` can be claimed)
        and records what it did."""
        with self.write() as conn:
            conn.execute(
                runs.update().where(runs.c.id == run_id, runs.c.ended_at.is_(None))
                .values(ended_at=utcnow(), summary=summary)
            )

    def note_run_progress(self, run_id: str, progress: list[dict[str, Any]]) -> None:
        """Where the stages of run ``run_id``, still working, stand (``hotline.progress``):
        for a command that follows the run from another process."""
        with self.write() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id, runs.c.ended_at.is_(None)).values(progress=progress))

    def get_run(self, run_id: str) -> Run | None:
        with self.read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def last_run_of_process(self, flow: str, host: str, pid: int) -> Run | None:
        """The newest run of ``flow`` that process ``pid`` on ``host`` registered: what a
        command that ran the flow in its own process reads when Prefect could not return
        the flow's result."""
        query = (
            sa.select(runs).where(runs.c.flow == flow, runs.c.host == host, runs.c.pid == pid)
            .order_by(runs.c.started_at.desc()).limit(1)
        )
        with self.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run(row)

    def claim_reports(self, run_id: str, *, limit: int = 100, ids: Sequence[int] | None = None) -> list[Report]:
        """Claim for run ``run_id`` up to ``limit`` reports that are pending, or left
        processing by a run that ended or died (or the reports ``ids``, whatever their
        state), mark them ``processing`` and return them. Reports another live run holds
        are skipped; those this run holds already are returned again (a retried claim)."""
        now = utcnow()
        mine = reports.c.claimed_by == run_id
        free = sa.or_(reports.c.claimed_by.is_(None), mine, ~_live_owner(now))
        query = sa.select(reports).where(free).order_by(reports.c.id).limit(limit)
        if ids is None:
            query = query.where(sa.or_(reports.c.status == "pending", sa.and_(reports.c.status == "processing", free)))
        else:
            query = query.where(reports.c.id.in_(list(ids)))
        with self.write() as conn:
            rows = conn.execute(query.with_for_update(skip_locked=True, of=reports)).all()
            if not rows:
                return []
            # the owner test again, in a statement of its own: on PostgreSQL it sees a run
            # that registered and claimed after the SELECT's snapshot was taken
            taken = set(conn.scalars(
                reports.update().where(reports.c.id.in_([row.id for row in rows]), free)
                .values(status="processing", claimed_by=run_id).returning(reports.c.id)
            ))
        return [report_record(row) for row in rows if row.id in taken]

    def unsettled_runs(self, flow: str, limit: int = 50) -> list[Run]:
        """Runs of ``flow`` whose lease has expired, and whose Prefect record has not been
        checked since (``settle_runs``): oldest first. The lease is not renewed once a run
        has ended, so an ended run is among them a lease after it ended: time enough for
        its process to tell Prefect how it ended, if it could."""
        query = (
            sa.select(runs)
            .where(runs.c.flow == flow, runs.c.settled_at.is_(None), runs.c.expires_at <= utcnow())
            .order_by(runs.c.started_at)
            .limit(limit)
        )
        with self.read() as conn:
            return [_run(row) for row in conn.execute(query)]

    def settle_runs(self, run_ids: Sequence[str]) -> None:
        """Note that the Prefect records of these ended or dead runs were checked."""
        if run_ids:
            with self.write() as conn:
                conn.execute(runs.update().where(runs.c.id.in_(list(run_ids))).values(settled_at=utcnow()))


class Heartbeat:
    """Renews run ``run_id``'s lease every ``lease / 4`` in a thread, from entering the
    ``with`` block to leaving it; leaving it ends the run (``end_run``) with its ``summary``. A renewal that
    fails (the catalog unreachable for a moment) is logged and tried again at the next
    beat: the lease leaves three more beats before it expires."""

    def __init__(self, catalog: RunClaims, run_id: str, *, flow: str, lease: timedelta) -> None:
        self.catalog, self.run_id, self.flow, self.lease = catalog, run_id, flow, lease
        self.summary: dict[str, Any] | None = None  # set by the run before it leaves the block
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease {run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.catalog.start_run(self.run_id, flow=self.flow, lease=self.lease)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.catalog.end_run(self.run_id, self.summary)
        except sa.exc.SQLAlchemyError as err:  # the work is done; the lease lapses by itself
            log.warning("could not end run %r (its claims are released when its lease expires): %s",
                        self.run_id, err)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 4):
            try:
                self.catalog.renew_run(self.run_id, self.lease)
            except sa.exc.SQLAlchemyError as err:
                log.warning("could not renew the lease of run %r: %s", self.run_id, err)
