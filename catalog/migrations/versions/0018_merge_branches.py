"""Merge: the parallel revisions 0012 (run claims), 0013 (pending media), 0015 (verdict
integrity), 0016 (locations) and 0017 (known-set trust), each of which revised 0010, join
here. None depends on another's tables, so they could stay parallel; the next revision
revises 0018.

Revision ID: 0018
Revises: 0012, 0013, 0015, 0016, 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0018"
down_revision = ("0012", "0013", "0015", "0016", "0017")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point: no schema change


def downgrade() -> None:
    pass
