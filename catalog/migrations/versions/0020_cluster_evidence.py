"""Review clustering that follows the picture: local features and grouping evidence.

- ``media_features``: the compact local features (keypoint positions and binary
  descriptors, no pixels) review clustering compares queued pictures by;
- ``cluster_members.evidence``: why an item joined its cluster (stage, PDQ variant and
  distance, or inlier count, and the member it matched);
- ``clusters.similar_evidence``: how a cluster matched the already decided item
  ``similar_to``.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_features",
        sa.Column("sha256", sa.String(length=64), sa.ForeignKey("media.sha256"), primary_key=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("points", sa.LargeBinary(), nullable=False),
        sa.Column("descriptors", sa.LargeBinary(), nullable=False),
    )
    with op.batch_alter_table("cluster_members") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("similar_evidence", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("similar_evidence")
    with op.batch_alter_table("cluster_members") as batch:
        batch.drop_column("evidence")
    op.drop_table("media_features")
