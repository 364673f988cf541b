"""Re-notices (``takedown_notices``): a partner is told again about an item it had, as long
as the content stays up. The first bundle that carried the item to the partner is notice 1;
a re-notice is a re-send request (``export_resends``) with its number, made when a re-check
after the last notice still found the item at a location the partner was told about and
the last notice is older than the interval. The notice after ``escalate_after`` notices is
escalated: flagged in the bundle, audited (``takedown.escalate``), and sent to the
escalation destination if the installation has one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa

from catalog.db import Database, inserted_id, utcnow
from catalog.decisions.records import Verdict
from catalog.decisions.verdict_rows import current_verdicts
from catalog.exchange_ledger.ledger import counted_verdict
from catalog.exchange_ledger.records import Notice
from catalog.schema import export_items, export_locations, export_resends, exports, rechecks, takedown_notices
from catalog.users.audit import audit


class TakedownNotices(Database):
    """Part of ``ExchangeStore``: re-notices of items still up."""

    def request_renotices(
        self, destination: str, *, older_than: datetime, escalate_after: int, actor: str
    ) -> list[Notice]:
        """Ask for every item ``destination`` had to be notified again when a re-check made
        after its last notice (the first bundle, or the last re-notice sent) found it still
        up at a location the destination was told about, and that notice was sent before
        ``older_than``; an item with a re-send waiting, or whose current verdict is no
        longer exportable, is left alone. Returns the requests
        made (audited ``takedown.renotice``, and ``takedown.escalate`` for escalated ones)."""
        made: list[Notice] = []
        now = utcnow()
        with self.write() as conn:
            first = dict(conn.execute(
                sa.select(export_items.c.sha256, exports.c.created_at)
                .join(exports, exports.c.id == export_items.c.export_id)
                .where(export_items.c.destination == destination)).tuples().all())
            waiting = set(conn.scalars(sa.select(export_resends.c.sha256).where(
                export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None))))
            counts: dict[str, int] = {}
            last: dict[str, datetime] = dict(first)
            for sha, sent_at in conn.execute(
                    sa.select(takedown_notices.c.sha256, export_resends.c.sent_at)
                    .join(export_resends, export_resends.c.id == takedown_notices.c.resend_id)
                    .where(takedown_notices.c.destination == destination)).tuples():
                counts[sha] = counts.get(sha, 0) + 1
                if sent_at is not None and sent_at > last[sha]:
                    last[sha] = sent_at
            due = [s for s, at in last.items() if s not in waiting and at < older_than]
            cv = current_verdicts()  # an item whose verdict changed since is corrected, not notified again
            decided = set(conn.scalars(sa.select(cv.c.sha256).where(
                cv.c.sha256.in_(due), cv.c.verdict.in_([v.value for v in Verdict if v.exportable]),
                counted_verdict(cv))))
            due = [s for s in due if s in decided]
            if not due:
                return []
            told = set(conn.execute(sa.select(export_locations.c.sha256, export_locations.c.media_url).where(
                export_locations.c.destination == destination, export_locations.c.sha256.in_(due))).tuples())
            latest: dict[tuple[str, str], tuple[datetime, str]] = {}
            for sha, url, at, outcome in conn.execute(
                    sa.select(rechecks.c.sha256, rechecks.c.url, rechecks.c.checked_at, rechecks.c.outcome)
                    .where(rechecks.c.sha256.in_(due)).order_by(rechecks.c.checked_at, rechecks.c.id)).tuples():
                if (sha, url) in told:
                    latest[(sha, url)] = (at, outcome)
            for sha in due:
                up = sorted(url for (s, url), (at, outcome) in latest.items()
                            if s == sha and outcome == "still-up" and at > last[sha])
                if not up:
                    continue
                number = counts.get(sha, 0) + 2  # the first bundle was notice 1
                escalated = number > escalate_after
                reason = f"re-notice {number}: still up at {up[0]}" + (" (escalated)" if escalated else "")
                resend_id = inserted_id(conn.execute(export_resends.insert().values(
                    destination=destination, sha256=sha, requested_at=now, actor=actor, reason=reason)))
                conn.execute(takedown_notices.insert().values(
                    resend_id=resend_id, destination=destination, sha256=sha, notice=number, escalated=escalated,
                    requested_at=now))
                audit(conn, actor, "takedown.renotice", sha, destination=destination, notice=number, urls=up,
                      escalated=escalated)
                if escalated:
                    audit(conn, actor, "takedown.escalate", sha, destination=destination, notice=number, urls=up)
                made.append(Notice(destination, sha, number, escalated, now, reason, None, None))
        return made

    def open_notices(self, destination: str) -> dict[str, tuple[int, bool]]:
        """The re-notices waiting for ``destination``'s next bundle: item -> (notice, escalated)."""
        with self.read() as conn:
            return {sha: (n, bool(e)) for sha, n, e in conn.execute(
                sa.select(takedown_notices.c.sha256, takedown_notices.c.notice, takedown_notices.c.escalated)
                .join(export_resends, export_resends.c.id == takedown_notices.c.resend_id)
                .where(takedown_notices.c.destination == destination, export_resends.c.bundle_id.is_(None))
            ).tuples()}

    def notices(self, *, sha256s: Collection[str] | None = None, escalated: bool | None = None) -> list[Notice]:
        """Re-notices, oldest first: of these items, escalated ones or all."""
        query = (sa.select(takedown_notices, export_resends.c.reason, export_resends.c.bundle_id,
                           export_resends.c.sent_at)
                 .join(export_resends, export_resends.c.id == takedown_notices.c.resend_id)
                 .order_by(takedown_notices.c.id))
        if sha256s is not None:
            query = query.where(takedown_notices.c.sha256.in_(list(sha256s)))
        if escalated is not None:
            query = query.where(takedown_notices.c.escalated.is_(escalated))
        with self.read() as conn:
            return [Notice(r.destination, r.sha256, r.notice, bool(r.escalated), r.requested_at, r.reason,
                           r.bundle_id, r.sent_at) for r in conn.execute(query)]

    def escalations(self, sha256s: Collection[str] | None = None) -> dict[str, tuple[int, bool]]:
        """Escalated items (of ``sha256s``, or all): item -> (its highest notice, True)."""
        query = (sa.select(takedown_notices.c.sha256, sa.func.max(takedown_notices.c.notice))
                 .where(takedown_notices.c.escalated.is_(True)).group_by(takedown_notices.c.sha256))
        if sha256s is not None:
            query = query.where(takedown_notices.c.sha256.in_(list(sha256s)))
        with self.read() as conn:
            return {sha: (int(n), True) for sha, n in conn.execute(query).tuples()}
