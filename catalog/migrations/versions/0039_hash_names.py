"""Longer hash names: a stored variant's name (``pdq_x_uncaptioned``, the PDQ of a picture
with its caption box filled in) can pass the 16 characters ``hashes.algorithm`` held, which
PostgreSQL refused, failing the item's hashes. SQLite does not enforce a length, so only
PostgreSQL's column changes.

Revision ID: 0039
Revises: 0036
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("hashes", "algorithm", type_=sa.String(64), existing_type=sa.String(16),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DELETE FROM hashes WHERE length(algorithm) > 16")  # the old column cannot hold them
        op.alter_column("hashes", "algorithm", type_=sa.String(16), existing_type=sa.String(64),
                        existing_nullable=False)
