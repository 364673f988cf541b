"""Intake: a report's URL identity, the earlier report a repeated URL is linked to, the
reporter's reference, and the answers the HTTP intake gave per idempotency key.

``reports.url_key`` is ``spiders.urls.normalise_url`` of the reported URL (filled in here for
the reports already filed); a report of a URL reported within the duplicate window is filed
``linked`` with ``linked_to`` naming the earlier report, and is never crawled.

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("url_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("linked_to", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reporter_ref", sa.String(200), nullable=True))
        batch.create_foreign_key("fk_reports_linked_to", "reports", ["linked_to"], ["id"])
    op.create_index("ix_reports_url_key", "reports", ["url_key", "received_at"])
    op.create_table(
        "intake_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("client", "idempotency_key", name="uq_intake_requests_key"),
    )
    _fill_url_keys()


def _fill_url_keys() -> None:
    from spiders.urls import normalise_url

    conn = op.get_bind()
    reports = sa.table("reports", sa.column("id", sa.Integer()), sa.column("url", sa.Text()),
                       sa.column("url_key", sa.Text()))
    rows = conn.execute(sa.select(reports.c.id, reports.c.url)).all()
    for report_id, url in rows:
        key = normalise_url(url or "")
        if key is not None:
            conn.execute(reports.update().where(reports.c.id == report_id).values(url_key=key))


def downgrade() -> None:
    op.drop_table("intake_requests")
    op.drop_index("ix_reports_url_key", table_name="reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_constraint("fk_reports_linked_to", type_="foreignkey")
        batch.drop_column("reporter_ref")
        batch.drop_column("linked_to")
        batch.drop_column("url_key")
