"""Merge: the feature branches 0002–0009, each of which revised 0001, join here.

Every earlier revision added tables or columns of its own feature and none depends on
another, so they could stay parallel; from here on the schema has one head and each new
revision revises the one before it (``Revises: 0010`` for the next).

Revision ID: 0010
Revises: 0002, 0003, 0004, 0005, 0006, 0008, 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

revision = "0010"
down_revision = ("0002", "0003", "0004", "0005", "0006", "0008", "0009")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point: no schema change


def downgrade() -> None:
    pass
