"""Takedown tracking: the rechecks table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rechecks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rechecks_report_id", "rechecks", ["report_id"])
    op.create_index("ix_rechecks_sha256", "rechecks", ["sha256"])
    op.create_index("ix_rechecks_url_checked", "rechecks", ["url", "checked_at"])


def downgrade() -> None:
    op.drop_table("rechecks")
