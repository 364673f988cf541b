"""Crawl evidence: report pathway and user agent, page views and headers, media fetches.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS: dict[str, list[sa.Column[object]]] = {
    "reports": [
        sa.Column("pathway", sa.JSON(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
    ],
    "pages": [
        sa.Column("view", sa.String(length=16), nullable=True),
        sa.Column("referer", sa.Text(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
    ],
    "sightings": [
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("redirects", sa.JSON(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
    ],
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.add_column(column)


def downgrade() -> None:
    for table, columns in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in reversed(columns):
                batch.drop_column(column.name)
