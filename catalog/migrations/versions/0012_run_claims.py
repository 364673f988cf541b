"""Claims with an owner and a lease: the ``runs`` table and ``reports.claimed_by``.

A process-report run registers itself in ``runs`` with a lease (``expires_at``) that it
renews while it works; the reports it claims name it in ``claimed_by``. Another run skips
them while the lease is live; once the run has ended or its lease has expired (its process
died), they can be claimed again.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
    )
    op.create_index("ix_runs_settled_at", "runs", ["settled_at"])
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
    op.create_index("ix_reports_claimed_by", "reports", ["claimed_by"])


def downgrade() -> None:
    op.drop_index("ix_reports_claimed_by", table_name="reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("claimed_by")
    op.drop_index("ix_runs_settled_at", table_name="runs")
    op.drop_table("runs")
