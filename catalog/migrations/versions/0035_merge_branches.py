"""Merge: the parallel revisions 0030 (partners' gradings) and 0034 (withdrawals on the
correction ledger), each of which revised 0027, join here. Neither touches the other's
tables; the next revision revises 0035.

Revision ID: 0035
Revises: 0030, 0034
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0035"
down_revision = ("0030", "0034")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point: no schema change


def downgrade() -> None:
    pass
