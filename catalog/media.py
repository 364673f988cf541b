"""Media, where they were seen, and their hashes.

Media rows are keyed by SHA-256, and sightings are unique per (media, report, URL), so a
crawl recorded twice (a re-run after a crash) adds nothing the first one did not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from catalog.db import Database, inserted_id, utcnow
from catalog.pending import settle_pending
from catalog.records import CrawlResult, FrameHashRecord, HashRecord
from catalog.schema import crawls, frame_hashes, hashes, media, pages, report_errors, sightings


def insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows, skipping any that collide with a primary key or unique constraint."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


class MediaMixin(Database):
    def record_crawl(
        self, report_id: int, result: CrawlResult, started_at: Any = None, *, give_up_after: int | None = None
    ) -> int:
        """Record one crawl of a report: its pages, media, sightings, errors and the items
        it could not store (``catalog.pending``; ``give_up_after``: fetch attempts after
        which an item the site keeps failing on is given up), atomically."""
        now = utcnow()
        with self.write() as conn:
            crawl_id = inserted_id(conn.execute(
                crawls.insert().values(
                    report_id=report_id,
                    started_at=started_at or now,
                    finished_at=now,
                    status="failed" if result.errors and not result.media else "ok",
                    pages=len(result.pages),
                    media=len(result.media),
                    errors=len(result.errors),
                    stats=dict(result.stats),
                )
            ))
            if result.pages:
                conn.execute(
                    pages.insert(),
                    [
                        dict(
                            crawl_id=crawl_id,
                            report_id=report_id,
                            url=p.url,
                            final_url=p.final_url,
                            status=p.status,
                            ip=p.ip,
                            country=p.country,
                            content_type=p.content_type,
                            size=p.size,
                            fetched_at=_naive(p.fetched_at),
                            redirects=list(p.redirects),
                            view=p.view,
                            referer=p.referer,
                            headers=dict(p.headers) or None,
                        )
                        for p in result.pages
                    ],
                )
            insert_ignoring_duplicates(
                conn,
                media,
                [
                    dict(sha256=m.sha256, kind=m.kind, mime=m.mime, size=m.size, status="new", first_seen_at=now)
                    for m in result.media
                ],
            )
            insert_ignoring_duplicates(
                conn,
                sightings,
                [
                    dict(
                        sha256=s.sha256,
                        report_id=report_id,
                        crawl_id=crawl_id,
                        media_url=s.media_url,
                        page_url=s.page_url,
                        ip=s.ip,
                        country=s.country,
                        seen_at=_naive(s.seen_at) or now,
                        final_url=s.final_url,
                        redirects=list(s.redirects) or None,
                        http_status=s.http_status,
                        content_type=s.content_type,
                        headers=dict(s.headers) or None,
                        page_host=s.page_host or urlsplit(s.page_url).hostname,
                        page_ip=s.page_ip,
                        page_country=s.page_country,
                    )
                    for s in result.sightings
                ],
            )
            if result.errors:
                conn.execute(
                    report_errors.insert(),
                    [
                        dict(report_id=report_id, stage=e.stage, url=e.url, reason=e.reason, at=now)
                        for e in result.errors
                    ],
                )
            settle_pending(conn, report_id, result, now, give_up_after)
        return int(crawl_id)

    def crawl_counts(self, report_id: int) -> dict[str, int]:
        """The counters of the report's latest crawl (pages, media, requests, and outcomes
        that are counted rather than recorded as errors, such as ``guessed/failed``: media
        URLs guessed from the page text that were not there); empty before a crawl."""
        query = (
            sa.select(crawls.c.stats).where(crawls.c.report_id == report_id).order_by(crawls.c.id.desc()).limit(1)
        )
        with self.read() as conn:
            stats = conn.scalar(query)
        return {str(k): int(v) for k, v in (stats or {}).items()}

    def media_of_reports(self, report_ids: Sequence[int], status: str | None = None) -> list[str]:
        """SHA-256 of the media seen in these reports, optionally only those in ``status``."""
        query = (
            sa.select(media.c.sha256)
            .distinct()
            .join(sightings, sightings.c.sha256 == media.c.sha256)
            .where(sightings.c.report_id.in_(list(report_ids)))
            .order_by(media.c.sha256)
        )
        if status:
            query = query.where(media.c.status == status)
        with self.read() as conn:
            return list(conn.scalars(query))

    def media_in_status(self, sha256s: Sequence[str], status: str) -> set[str]:
        """Those of ``sha256s`` whose item is in ``status`` (by primary key: the cost follows
        the list, not the size of the reports it came from)."""
        found: set[str] = set()
        wanted = list(dict.fromkeys(sha256s))
        with self.read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(conn.scalars(
                    sa.select(media.c.sha256).where(media.c.sha256.in_(chunk), media.c.status == status)
                ))
        return found

    def record_hashes(self, records: Iterable[HashRecord], frames: Iterable[FrameHashRecord] = ()) -> None:
        """Store hashes (and the per-frame PDQ of videos and animations) and mark their media
        ``hashed`` (media already further along stay)."""
        rows = [
            dict(sha256=r.sha256, algorithm=r.algorithm, value=r.value, quality=r.quality) for r in records
        ]
        if not rows:
            return
        with self.write() as conn:
            insert_ignoring_duplicates(conn, hashes, rows)
            insert_ignoring_duplicates(
                conn, frame_hashes,
                [dict(sha256=f.sha256, idx=f.index, t=f.t, pdq=f.pdq, quality=f.quality) for f in frames],
            )
            conn.execute(
                media.update()
                .where(media.c.sha256.in_({r["sha256"] for r in rows}), media.c.status == "new")
                .values(status="hashed", hashed_at=utcnow())
            )

    def mark_media_error(self, sha256: str, reason: str, report_ids: Sequence[int]) -> None:
        """Record that a media item cannot be processed, on the item and on those of
        ``report_ids`` that saw it."""
        now = utcnow()
        with self.write() as conn:
            conn.execute(media.update().where(media.c.sha256 == sha256).values(status="error", error=reason))
            record_hash_error(conn, sha256, reason, report_ids, now)

    def record_media_reason(self, sha256: str, reason: str, report_ids: Sequence[int]) -> None:
        """Record ``reason`` (an item processed, but not wholly) on those of ``report_ids``
        that saw ``sha256``; the item goes on."""
        with self.write() as conn:
            record_hash_error(conn, sha256, reason, report_ids, utcnow())

    def hashes_of(self, sha256s: Sequence[str]) -> dict[str, dict[str, HashRecord]]:
        """Hashes per media item: ``{sha256: {algorithm: HashRecord}}``."""
        out: dict[str, dict[str, HashRecord]] = {}
        with self.read() as conn:
            for row in conn.execute(sa.select(hashes).where(hashes.c.sha256.in_(list(sha256s)))):
                out.setdefault(row.sha256, {})[row.algorithm] = HashRecord(
                    row.sha256, row.algorithm, row.value, row.quality
                )
        return out

    def frame_hashes_of(self, sha256s: Sequence[str]) -> dict[str, list[FrameHashRecord]]:
        """Per-frame PDQ of videos and animations, in frame order: ``{sha256: [...]}``."""
        out: dict[str, list[FrameHashRecord]] = {}
        query = sa.select(frame_hashes).where(frame_hashes.c.sha256.in_(list(sha256s)))
        with self.read() as conn:
            for row in conn.execute(query.order_by(frame_hashes.c.sha256, frame_hashes.c.idx)):
                m = row._mapping  # not row.t: Row.t is SQLAlchemy's typed-tuple view
                out.setdefault(m["sha256"], []).append(
                    FrameHashRecord(m["sha256"], m["idx"], m["t"], m["pdq"], m["quality"])
                )
        return out


def _naive(value: Any) -> Any:
    """Datetimes are stored as naive UTC."""
    if value is not None and getattr(value, "tzinfo", None) is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def record_hash_error(
    conn: sa.Connection, sha256: str, reason: str, report_ids: Sequence[int], at: datetime
) -> None:
    """Record ``reason`` as a hash-stage error on those of ``report_ids`` that saw ``sha256``
    (a flow hashes the items of many reports in one batch; an item's error belongs to the
    reports it was found in)."""
    if not report_ids:
        return
    saw = conn.scalars(
        sa.select(sightings.c.report_id).distinct()
        .where(sightings.c.sha256 == sha256, sightings.c.report_id.in_(list(report_ids)))
    ).all()
    if saw:
        conn.execute(
            report_errors.insert(),
            [dict(report_id=r, stage="hash", sha256=sha256, reason=reason, at=at) for r in sorted(saw)],
        )
