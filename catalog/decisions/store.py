"""``ReviewStore``: the review and its decisions. It owns the queue and its clusters and
leases (``decisions.queue_clusters``), gradings and jurisdiction verdicts
(``decisions.gradings``), verdicts, withdrawals, overrides and confirmations
(``decisions.verdict_rows``), the decisions copies of decided pictures take
(``decisions.own_matches``), the review rules (``decisions.rules``) and the reveals of
items (``media.reveal`` entries of the audit log). Records: ``decisions.records``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from catalog.db import utcnow
from catalog.decisions.gradings import GradingRows
from catalog.decisions.own_matches import OwnMatches
from catalog.decisions.queue_clusters import ClusterQueue
from catalog.decisions.rules import RuleRows
from catalog.decisions.verdict_rows import VerdictRows
from catalog.schema import audit_log
from catalog.users.audit import audit


class ReviewStore(ClusterQueue, GradingRows, VerdictRows, RuleRows, OwnMatches):
    """The review queue, gradings, verdicts, confirmations, reveals and review rules."""

    # -- reveals ------------------------------------------------------------------------
    def record_reveal(self, actor: str, sha256: str, **detail: Any) -> int:
        """Audit that ``actor`` revealed an item unblurred; returns their reveals today."""
        with self.write() as conn:
            audit(conn, actor, "media.reveal", sha256, **detail)
            return self._reveals_today(conn, actor)

    def reveals_today(self, actor: str) -> int:
        with self.read() as conn:
            return self._reveals_today(conn, actor)

    @staticmethod
    def _reveals_today(conn: sa.Connection, actor: str) -> int:
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        return int(conn.scalar(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.action == "media.reveal", audit_log.c.actor == actor, audit_log.c.at >= today)) or 0)
