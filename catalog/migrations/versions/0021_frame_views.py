"""Other views of a video's frames: ``frame_hashes.view``.

A video's sampled frames keep their PDQ as before (``view`` null); beside them, numbered
on after them, the same frames mirrored left to right (``mirrored``) and, when black bars
were cut off, whole (``uncut``), each compared with known videos on its own.

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("frame_hashes") as batch:
        batch.add_column(sa.Column("view", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM frame_hashes WHERE view IS NOT NULL")
    with op.batch_alter_table("frame_hashes") as batch:
        batch.drop_column("view")
