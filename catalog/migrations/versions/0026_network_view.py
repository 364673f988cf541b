"""The network view: partners' lists of what they investigate and decided (keyed hashes),
our reports and items those lists name, and items sent as new material.

- ``partner_list_entries``: the last list each partner sent (HMAC digests of URLs and of
  decided items' SHA-256s, with the partner's case, state or verdict, and since when);
- ``partner_handled``: our reports linked to a partner's case, our items a partner decided;
- ``escalations``: items sent to a destination as new material, and the update bundle;
- ``reports.crawl_anyway``: the operator asked for a crawl although a partner handles the URL.

Revision ID: 0026
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_list_entries",
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("case_ref", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("partner", "kind", "digest", name="uq_partner_list_entries"),
    )
    op.create_table(
        "partner_handled",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("reports.id"), nullable=True, index=True),
        sa.Column("sha256", sa.String(length=64), sa.ForeignKey("media.sha256"), nullable=True, index=True),
        sa.Column("case_ref", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("partner", "report_id", name="uq_partner_handled_report"),
        sa.UniqueConstraint("partner", "sha256", name="uq_partner_handled_item"),
    )
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), sa.ForeignKey("media.sha256"), nullable=False),
        sa.Column("bundle_id", sa.String(length=32), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("update_bundle_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("destination", "sha256", name="uq_escalations"),
    )
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("crawl_anyway", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("crawl_anyway")
    op.drop_table("escalations")
    op.drop_table("partner_handled")
    op.drop_table("partner_list_entries")
