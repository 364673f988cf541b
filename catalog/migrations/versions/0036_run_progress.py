"""Run progress: where each stage of a working run stands (``runs.progress``), written by the
run while it works, read by a command that follows the run from another process (a run on
``hotline up``) to show the same progress as a run in its own process.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("progress", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("progress")
