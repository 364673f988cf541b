"""Verdict integrity: review rules stored in the catalog, command-line login tokens,
undetermined jurisdiction verdicts, and the baseline profile a verdict was derived under.

* ``review_rules``: the installation's review rules (``four_eyes``), one row a rule, changed
  only by an admin (audited), so every process of the installation applies the same rules.
* ``cli_tokens``: the SHA-256 of each token ``hotline login`` handed out (the token itself
  stays in the user's token file).
* ``jurisdiction_verdicts.undetermined``: the outcome hangs on an unclear age group or
  depiction; such an item goes to a senior.
* ``verdicts.baseline_profile_sha256``: the INTERPOL profile file a derived verdict came from.

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rules = op.create_table(
        "review_rules",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(rules, [dict(name="four_eyes", value=False, updated_at=now, updated_by="migration")])
    op.create_table(
        "cli_tokens",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(128), sa.ForeignKey("users.name"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("jurisdiction_verdicts") as batch:
        batch.add_column(sa.Column("undetermined", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("verdicts") as batch:
        batch.add_column(sa.Column("baseline_profile_sha256", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("verdicts") as batch:
        batch.drop_column("baseline_profile_sha256")
    with op.batch_alter_table("jurisdiction_verdicts") as batch:
        batch.drop_column("undetermined")
    op.drop_table("cli_tokens")
    op.drop_table("review_rules")
