"""``MediaStore``: media items and where they were seen. It owns ``media`` (one row per
item, keyed by the SHA-256 of its bytes), ``sightings`` (unique per item, report and URL),
``hashes`` and ``frame_hashes``; a crawl adds items and sightings (``reports.crawls``).
Records: ``media_items.records``; the checks that every item is seen on a report and their
repair: ``media_items.integrity``.

Items that fail: a hashing run that cannot read an item's evidence (the store unreachable
after its own retries) leaves the item ``new`` and counts the attempt with its reason; the
report stays ``processing``, so the next run picks it up again. An item that failed
``quarantine_after`` runs is quarantined: status ``error`` with the reason, recorded on its
reports and shown by ``hotline doctor``. A permanent failure (corrupt media) is quarantined
at once (``mark_media_error``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa

from catalog.db import insert_ignoring_duplicates, utcnow
from catalog.errors import Ambiguous, NotFound
from catalog.media_items.integrity import MediaIntegrity
from catalog.media_items.records import FailingItem, FrameHashRecord, HashRecord
from catalog.schema import frame_hashes, hashes, media, report_errors, sightings


class MediaStore(MediaIntegrity):
    """Media items, their sightings and hashes, and the items that fail."""

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
                [dict(sha256=f.sha256, idx=f.index, t=f.t, pdq=f.pdq, quality=f.quality, view=f.view) for f in frames],
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

    def frame_hashes_of(self, sha256s: Sequence[str], *, views: bool = False) -> dict[str, list[FrameHashRecord]]:
        """Per-frame PDQ of videos and animations, in frame order: ``{sha256: [...]}``;
        with ``views``, the frames' other views too (mirrored, uncut)."""
        out: dict[str, list[FrameHashRecord]] = {}
        query = sa.select(frame_hashes).where(frame_hashes.c.sha256.in_(list(sha256s)))
        if not views:
            query = query.where(frame_hashes.c.view.is_(None))
        with self.read() as conn:
            for row in conn.execute(query.order_by(frame_hashes.c.sha256, frame_hashes.c.idx)):
                m = row._mapping  # not row.t: Row.t is SQLAlchemy's typed-tuple view
                out.setdefault(m["sha256"], []).append(
                    FrameHashRecord(m["sha256"], m["idx"], m["t"], m["pdq"], m["quality"], m["view"])
                )
        return out

    def resolve_media_id(self, prefix: str) -> str:
        """The full SHA-256 of the one item whose ID starts with ``prefix`` (at least 8 hex)."""
        prefix = prefix.strip().lower()
        if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
            raise NotFound(f"a media ID is 8 to 64 hex digits, not {prefix!r}")
        with self.read() as conn:
            found = list(conn.scalars(sa.select(media.c.sha256).where(media.c.sha256.like(prefix + "%")).limit(2)))
        if not found:
            raise NotFound(f"no media item {prefix!r}")
        if len(found) > 1:
            raise Ambiguous(f"media ID {prefix!r} is ambiguous; give more digits")
        return found[0]

    def media_kind(self, sha256: str) -> str | None:
        """``image`` or ``video``; None for an unknown item."""
        with self.read() as conn:
            return conn.scalar(sa.select(media.c.kind).where(media.c.sha256 == sha256))

    # -- items that fail: tried again by later runs, then quarantined ----------------------
    def record_transient_failure(
        self, sha256: str, reason: str, report_ids: Sequence[int], *, quarantine_after: int
    ) -> bool:
        """Count a failed attempt on a ``new`` item; quarantine it at ``quarantine_after``
        attempts. Returns whether it is now quarantined."""
        with self.write() as conn:
            attempts = conn.scalar(
                media.update()
                .where(media.c.sha256 == sha256, media.c.status == "new")
                .values(attempts=media.c.attempts + 1, error=reason)
                .returning(media.c.attempts)
            )
            if attempts is None or attempts < quarantine_after:
                return False
            why = f"quarantined after {attempts} failed attempts: {reason}"
            conn.execute(media.update().where(media.c.sha256 == sha256).values(status="error", error=why))
            record_hash_error(conn, sha256, why, report_ids, utcnow())
        return True

    def failing_items(self, limit: int = 100) -> list[FailingItem]:
        """Quarantined items and items waiting to be tried again, most attempts first."""
        query = (
            sa.select(media.c.sha256, media.c.status, media.c.attempts, media.c.error)
            .where(sa.or_(media.c.status == "error", sa.and_(media.c.status == "new", media.c.attempts > 0)))
            .order_by(media.c.attempts.desc(), media.c.sha256)
            .limit(limit)
        )
        with self.read() as conn:
            return [FailingItem(r.sha256, r.status, r.attempts, r.error) for r in conn.execute(query)]


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
