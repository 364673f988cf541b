"""Withdrawals on the correction ledger: a destination told of a verdict (in a bundle or a
correction) is told when that verdict is withdrawn, on a row that names the verdict too, so
``export_corrections`` is unique per destination, verdict and action.

Revision ID: 0034
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0034"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_corrections") as batch:
        batch.drop_constraint("uq_export_corrections", type_="unique")
        batch.create_unique_constraint("uq_export_corrections", ["destination", "verdict_id", "action"])


def downgrade() -> None:
    op.execute("DELETE FROM export_corrections WHERE action = 'withdrawal'")
    with op.batch_alter_table("export_corrections") as batch:
        batch.drop_constraint("uq_export_corrections", type_="unique")
        batch.create_unique_constraint("uq_export_corrections", ["destination", "verdict_id"])
