"""Known sets you can trust: category profiles, provenance, withdrawn verdicts, re-checks, holds.

- ``known_sets.category_profile``, ``known_sets.categorized``; ``known_sets.verdict`` may be
  null (a set whose rows carry categories has no set-wide verdict);
- ``matches.provenance``, ``verdicts.provenance``: what produced a match and an automatic
  verdict (set, version, row, category, profile, match evidence); ``matches.row_key``: the
  known row, so that a row matching far more items than before is seen (flood quarantine);
- ``verdict_withdrawals``: automatic verdicts withdrawn, their item sent back to review;
- ``known_rechecks``: automatic verdicts the earlier category rule produced (a category the
  set did not map took the set's verdict), found here once and listed by ``hotline doctor``;
- ``known_holds``: known rows held out of matching (flood quarantine, contested matches).

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("known_sets") as batch:
        batch.add_column(sa.Column("category_profile", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("categorized", sa.Boolean(), nullable=True))
        batch.alter_column("verdict", existing_type=sa.String(length=16), nullable=True)
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("row_key", sa.Text(), nullable=True))
    op.create_index("ix_matches_row", "matches", ["set_name", "row_key", "matched_at"])
    with op.batch_alter_table("verdicts") as batch:
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
    op.create_table(
        "verdict_withdrawals",
        sa.Column("verdict_id", sa.Integer(), sa.ForeignKey("verdicts.id"), primary_key=True),
        sa.Column("sha256", sa.String(length=64), sa.ForeignKey("media.sha256"), nullable=False, index=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "known_rechecks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("verdict_id", sa.Integer(), sa.ForeignKey("verdicts.id"), nullable=False, unique=True),
        sa.Column("sha256", sa.String(length=64), sa.ForeignKey("media.sha256"), nullable=False),
        sa.Column("set_name", sa.String(length=64), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
    )
    op.create_table(
        "known_holds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("set_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=128), nullable=True),
        sa.Column("feedback_sent", sa.Text(), nullable=True),
        sa.Index("ix_known_holds_set", "set_name", "released_at"),
    )
    _recheck_old_verdicts()


def _recheck_old_verdicts() -> None:
    """Record every current automatic verdict whose match's category the set did not map
    (it took the set's verdict under the earlier rule), or whose row had no category in a
    set that maps categories. The rule lives here, frozen, as a migration's must."""
    conn = op.get_bind()
    meta = sa.MetaData()
    verdicts = sa.Table("verdicts", meta, autoload_with=conn)
    matches = sa.Table("matches", meta, autoload_with=conn)
    known_sets = sa.Table("known_sets", meta, autoload_with=conn)
    rechecks = sa.Table("known_rechecks", meta, autoload_with=conn)
    mappings = {
        row.name: (bool(row.benign), dict(row.category_verdicts or {}))
        for row in conn.execute(sa.select(known_sets.c.name, known_sets.c.benign, known_sets.c.category_verdicts))
    }
    newest = sa.select(sa.func.max(verdicts.c.id)).group_by(verdicts.c.sha256)
    current = conn.execute(
        sa.select(verdicts.c.id, verdicts.c.sha256, verdicts.c.set_name, verdicts.c.verdict, verdicts.c.reason)
        .where(verdicts.c.source == "known-set", verdicts.c.id.in_(newest))
    ).all()
    found = []
    now = datetime.now(UTC).replace(tzinfo=None)
    for v in current:
        benign, mapping = mappings.get(v.set_name, (False, {}))
        if benign:
            continue
        match_type = (v.reason or "").split(" ", 1)[0]
        query = sa.select(matches.c.category).where(matches.c.sha256 == v.sha256, matches.c.set_name == v.set_name)
        categories = [c for c in conn.scalars(query.where(matches.c.match_type == match_type))] or list(
            conn.scalars(query)
        )
        for category in categories:
            if (category is None and mapping) or (category is not None and category not in mapping):
                why = (f"category {category!r} was not mapped by the set and took its verdict"
                       if category is not None else "the row had no category and took the set's verdict")
                found.append(dict(verdict_id=v.id, sha256=v.sha256, set_name=v.set_name, category=category,
                                  verdict=v.verdict, reason=why, found_at=now))
                break
    if found:
        conn.execute(rechecks.insert(), found)


def downgrade() -> None:
    op.drop_table("known_holds")
    op.drop_table("known_rechecks")
    op.drop_table("verdict_withdrawals")
    with op.batch_alter_table("verdicts") as batch:
        batch.drop_column("provenance")
    op.drop_index("ix_matches_row", table_name="matches")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("row_key")
        batch.drop_column("provenance")
    # the earlier code gives every row of a set its set-wide verdict: a set without one
    # (its rows carry categories) is disabled rather than given one
    op.execute("UPDATE known_sets SET enabled = false, verdict = 'national' WHERE verdict IS NULL")
    with op.batch_alter_table("known_sets") as batch:
        batch.alter_column("verdict", existing_type=sa.String(length=16), nullable=False)
        batch.drop_column("categorized")
        batch.drop_column("category_profile")
