"""Faults: media.attempts, how many runs failed transiently on an item (storage unreachable).

An item whose evidence could not be read is retried by later runs; once ``attempts``
reaches the installation's ``quarantine_after`` it is quarantined (status ``error``, with
the reason). ``hotline doctor`` lists both.

Revision ID: 0009
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_column("attempts")
