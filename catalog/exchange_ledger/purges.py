"""Retention: which items' evidence may be purged, and recording that it was.

An item's evidence may go once it is decided and done with: its current verdict is older
than the retention age, and, when that verdict is exportable, every destination it was due
for has had it (at least one export). Items under review (``new``, ``hashed``, ``queued``)
and items that failed (``error``: kept for investigation) are never purged. Hashes, verdicts
and sightings stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.decisions.records import Verdict
from catalog.decisions.verdict_rows import current_verdicts
from catalog.schema import export_items, media
from catalog.users.audit import audit

DECIDED = ("known", "classified")


class EvidencePurges(Database):
    """Part of ``ExchangeStore``: which items' evidence may be purged."""

    def purge_candidates(self, decided_before: datetime, limit: int = 10_000) -> list[str]:
        """Items whose evidence may be purged (see the module docstring)."""
        cv = current_verdicts()
        exported = sa.select(export_items.c.sha256)
        exportable = [v.value for v in Verdict if v.exportable]
        query = (
            sa.select(media.c.sha256)
            .join(cv, cv.c.sha256 == media.c.sha256)
            .where(
                media.c.status.in_(DECIDED),
                media.c.purged_at.is_(None),
                cv.c.created_at < decided_before,
                sa.or_(cv.c.verdict.not_in(exportable), media.c.sha256.in_(exported)),
            )
            .order_by(media.c.sha256)
            .limit(limit)
        )
        with self.read() as conn:
            return list(conn.scalars(query))

    def mark_purged(self, sha256s: Sequence[str], *, actor: str, reason: str) -> int:
        """Record that these items' evidence is gone (audited, one entry per item)."""
        if not sha256s:
            return 0
        now = utcnow()
        with self.write() as conn:
            result = conn.execute(
                media.update()
                .where(media.c.sha256.in_(list(sha256s)), media.c.status.in_(DECIDED), media.c.purged_at.is_(None))
                .values(purged_at=now)
            )
            for sha256 in sha256s:
                audit(conn, actor, "evidence.purge", sha256, reason=reason)
        return result.rowcount
