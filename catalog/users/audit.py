"""The append-only audit log: who did what to which subject, and when.

``audit()`` writes inside the caller's transaction, so an action and its audit entry are
committed together or not at all.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.schema import audit_log
from catalog.users.records import AuditEntry


def audit(
    conn: sa.Connection, actor: str, action: str, subject: str | None = None, **detail: Any
) -> None:
    """Append one entry, in ``conn``'s transaction."""
    conn.execute(
        audit_log.insert().values(
            at=utcnow(), actor=actor, action=action, subject=subject, detail=detail or None
        )
    )


def audit_many(conn: sa.Connection, actor: str, action: str, entries: list[tuple[str, dict[str, Any]]]) -> None:
    """Append one entry per (subject, detail) in ``entries``, in ``conn``'s transaction, in
    one statement (a batch of thousands of reports)."""
    if entries:
        at = utcnow()
        conn.execute(audit_log.insert(), [dict(at=at, actor=actor, action=action, subject=subject, detail=detail or None)
                                          for subject, detail in entries])


class AuditLog(Database):
    """Part of ``UserStore``: the audit log."""

    def audit(self, actor: str, action: str, subject: str | None = None, **detail: Any) -> None:
        """Append one entry in a transaction of its own."""
        with self.write() as conn:
            audit(conn, actor, action, subject, **detail)

    def audit_entries(self, action: str | None = None, limit: int = 100, *,
                      subject: str | None = None) -> list[AuditEntry]:
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if action:
            query = query.where(audit_log.c.action == action)
        if subject is not None:
            query = query.where(audit_log.c.subject == subject)
        with self.read() as conn:
            return [AuditEntry(**row._mapping) for row in conn.execute(query)]
