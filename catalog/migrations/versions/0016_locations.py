"""Locations: where a sighting's page is hosted, and an export ledger per location.

``sightings.page_host``, ``page_ip`` and ``page_country`` record the page an item was seen
on beside the media's own host (``ip``, ``country``): a page in one country may embed
images served from another, and both countries' hotlines are told. ``export_locations``
records each (item, media URL, page URL) a destination was told about, so that a new
location of an item sent before is notified too; ``location`` is the SHA-256 of the two
URLs (URLs can be longer than an index allows).

Existing sightings get their page's host from the URL and its IP and country from the
crawl's page record; existing exports are taken to have carried every sighting of their
items seen before the bundle was made.

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0010"
branch_labels = None
depends_on = None


def location_key(media_url: str, page_url: str) -> str:
    return hashlib.sha256(f"{media_url}\n{page_url}".encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("page_host", sa.String(253)))
        batch.add_column(sa.Column("page_ip", sa.String(45)))
        batch.add_column(sa.Column("page_country", sa.String(2)))
    op.create_table(
        "export_locations",
        sa.Column("export_id", sa.Integer, sa.ForeignKey("exports.id"), nullable=False, index=True),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("media.sha256"), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("media_url", sa.Text, nullable=False),
        sa.Column("page_url", sa.Text, nullable=False),
        sa.UniqueConstraint("destination", "sha256", "location", name="uq_export_locations"),
    )
    conn = op.get_bind()
    pages = {(r.report_id, r.final_url): (r.ip, r.country) for r in conn.execute(sa.text(
        "SELECT report_id, final_url, ip, country FROM pages ORDER BY id"))}
    updates = []
    for r in conn.execute(sa.text("SELECT id, report_id, page_url FROM sightings")):
        ip, country = pages.get((r.report_id, r.page_url), (None, None))
        updates.append(dict(host=(urlsplit(r.page_url).hostname or "")[:253] or None, ip=ip, country=country,
                            id=r.id))
    if updates:  # one executemany: a catalog can hold millions of sightings
        conn.execute(sa.text("UPDATE sightings SET page_host = :host, page_ip = :ip, page_country = :country "
                             "WHERE id = :id"), updates)
    located: dict[tuple[str, str, str], dict[str, object]] = {}
    for r in conn.execute(sa.text(
            "SELECT ei.export_id, ei.destination, s.sha256, s.media_url, s.page_url "
            "FROM export_items ei JOIN exports e ON e.id = ei.export_id "
            "JOIN sightings s ON s.sha256 = ei.sha256 WHERE s.seen_at <= e.created_at ORDER BY ei.export_id")):
        key = (r.destination, r.sha256, location_key(r.media_url, r.page_url))
        located.setdefault(key, dict(e=r.export_id, d=r.destination, s=r.sha256, l=key[2], m=r.media_url,
                                     p=r.page_url))
    if located:
        conn.execute(sa.text(
            "INSERT INTO export_locations (export_id, destination, sha256, location, media_url, page_url) "
            "VALUES (:e, :d, :s, :l, :m, :p)"), list(located.values()))


def downgrade() -> None:
    op.drop_table("export_locations")
    with op.batch_alter_table("sightings") as batch:
        batch.drop_column("page_country")
        batch.drop_column("page_ip")
        batch.drop_column("page_host")
