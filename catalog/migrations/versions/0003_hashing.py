"""Hashing and matching: frame_hashes; known_sets.category_verdicts, benign, format.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "frame_hashes",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("sha256", "idx"),
    )
    with op.batch_alter_table("known_sets") as batch:
        batch.add_column(sa.Column("category_verdicts", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("benign", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("format", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("known_sets") as batch:
        batch.drop_column("format")
        batch.drop_column("benign")
        batch.drop_column("category_verdicts")
    op.drop_table("frame_hashes")
