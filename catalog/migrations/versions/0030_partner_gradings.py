"""Partners' gradings: what a partner's analysts recorded of an item it decided, so that our
law profiles can derive our own verdict from it.

- ``partner_list_entries.grading``: a media entry's grading as the partner's list carries
  it (attributes only; null when the partner set its verdict by hand, or sent none);
- ``partner_handled.grading``: the same, kept with our item the partner's list names.

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("partner_list_entries", "partner_handled"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("grading", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("partner_handled", "partner_list_entries"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("grading")
