"""Merge: the parallel revisions 0020 (picture features for clustering), 0021 (video frame
views), 0023 (intake), 0024 (corrections and re-notices) and 0026 (the network view), each of
which revised 0018, join here. None depends on another's tables; the
next revision revises 0027.

Revision ID: 0027
Revises: 0020, 0021, 0023, 0024, 0026
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0027"
down_revision = ("0020", "0021", "0023", "0024", "0026")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point: no schema change


def downgrade() -> None:
    pass
