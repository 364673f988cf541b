"""Corrections and re-notices: what each destination was told after an item's verdict
changed, and how many notices a hosting partner has had about an item still up.

``export_corrections`` records each correction (the verdict changed to another exportable
one) or retraction (to one that is not exportable) delivered to a destination that had the
item, with the bundle that carried it; a destination is told each new verdict once
(unique per destination and verdict). ``export_resends.notice`` numbers a re-notice (the
first bundle is notice 1) and ``escalated`` marks one at or past the escalation count.

Revision ID: 0024
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("export_id", sa.Integer, sa.ForeignKey("exports.id"), nullable=False, index=True),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("media.sha256"), nullable=False),
        sa.Column("verdict_id", sa.Integer, sa.ForeignKey("verdicts.id"), nullable=False),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("destination", "verdict_id", name="uq_export_corrections"),
        sa.Index("ix_export_corrections_item", "destination", "sha256"),
    )
    op.create_table(
        "takedown_notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resend_id", sa.Integer, sa.ForeignKey("export_resends.id"), nullable=False, unique=True),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("media.sha256"), nullable=False),
        sa.Column("notice", sa.Integer, nullable=False),
        sa.Column("escalated", sa.Boolean, nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Index("ix_takedown_notices_item", "destination", "sha256"),
    )


def downgrade() -> None:
    op.drop_table("takedown_notices")
    op.drop_table("export_corrections")
