"""Pending media: items found during a crawl whose bytes could not be stored.

A row is kept per (report, media URL, page) until a later run stores the item or the site
answers for good (404, 410, a limit); its report stays open meanwhile.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_media",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("first_failed_at", sa.DateTime(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime()),
        sa.UniqueConstraint("report_id", "media_url", "page_url", name="uq_pending_media"),
    )
    op.create_index("ix_pending_media_report_id", "pending_media", ["report_id"])
    op.create_index("ix_pending_media_status", "pending_media", ["status"])


def downgrade() -> None:
    op.drop_index("ix_pending_media_status", table_name="pending_media")
    op.drop_index("ix_pending_media_report_id", table_name="pending_media")
    op.drop_table("pending_media")
