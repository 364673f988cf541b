"""Secure exchange: partners, inbound bundles (replay protection), export re-sends.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("encryption_key", sa.String(length=44), nullable=False),
        sa.Column("signing_keys", sa.JSON(), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("endpoint_url", sa.Text(), nullable=True),
        sa.Column("media", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("hash_sets", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "inbound_bundles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bundle_id", sa.String(length=32), nullable=True),
        sa.Column("partner", sa.String(length=64), nullable=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_inbound_bundles_bundle_id", "inbound_bundles", ["bundle_id"])
    op.create_index("ix_inbound_location", "inbound_bundles", ["location", "sha256"])
    op.create_table(
        "export_resends",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("bundle_id", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_export_resends_open", "export_resends", ["destination", "bundle_id"])


def downgrade() -> None:
    op.drop_table("export_resends")
    op.drop_table("inbound_bundles")
    op.drop_table("partners")
