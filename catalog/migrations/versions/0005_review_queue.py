"""Review queue: users and web sessions, clusters, leases, gradings, per-jurisdiction
verdicts, four-eyes confirmations.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None

SHA256 = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("blur", sa.Integer(), nullable=True),
        sa.Column("reveal_budget", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_sha256", SHA256, nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"]),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("ix_web_sessions_user_name", "web_sessions", ["user_name"])
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("representative", SHA256, nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("waiting", sa.Integer(), server_default="0", nullable=False),
        sa.Column("novel", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("similar_to", SHA256, nullable=True),
        sa.Column("oldest_report_at", sa.DateTime(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("split_from", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["representative"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_clusters_status", "clusters", ["status", "novel", "oldest_report_at"])
    op.create_table(
        "cluster_members",
        sa.Column("sha256", SHA256, nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_cluster_members_cluster_id", "cluster_members", ["cluster_id"])
    op.create_table(
        "cluster_leases",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
        sa.PrimaryKeyConstraint("cluster_id"),
    )
    op.create_table(
        "gradings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", SHA256, nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("age_group", sa.String(length=16), nullable=False),
        sa.Column("genders", sa.JSON(), nullable=False),
        sa.Column("depiction", sa.String(length=16), nullable=False),
        sa.Column("sexual_activity", sa.Boolean(), nullable=False),
        sa.Column("genital_focus", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("self_generated", sa.Boolean(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gradings_sha256", "gradings", ["sha256"])
    op.create_table(
        "jurisdiction_verdicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", SHA256, nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("illegal", sa.Boolean(), nullable=False),
        sa.Column("grading_id", sa.Integer(), nullable=True),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("profile_sha256", SHA256, nullable=False),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["grading_id"], ["gradings.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jurisdiction_verdicts_item", "jurisdiction_verdicts", ["sha256", "jurisdiction"])
    with op.batch_alter_table("verdicts") as batch_op:
        batch_op.add_column(sa.Column("grading_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("confirm_required", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("basis", sa.String(length=16), nullable=True))
    op.create_table(
        "confirmations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("verdict_id", sa.Integer(), nullable=False),
        sa.Column("sha256", SHA256, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.ForeignKeyConstraint(["verdict_id"], ["verdicts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("verdict_id"),
    )
    op.create_index("ix_confirmations_sha256", "confirmations", ["sha256"])


def downgrade() -> None:
    op.drop_table("confirmations")
    with op.batch_alter_table("verdicts") as batch_op:
        batch_op.drop_column("basis")
        batch_op.drop_column("confirm_required")
        batch_op.drop_column("grading_id")
    for table in ("jurisdiction_verdicts", "gradings", "cluster_leases", "cluster_members", "clusters",
                  "web_sessions", "users"):
        op.drop_table(table)
