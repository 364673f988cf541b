"""Known-set matches, the review queue and verdicts.

A verdict row is never changed: a new decision is a new row, and an item's current verdict
is its newest row. A matched item takes its known set's verdict (source ``known-set``) and is
never queued; an unmatched item is queued for an analyst.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from catalog.audit import audit
from catalog.db import Database, inserted_id, utcnow
from catalog.errors import Ambiguous, InvalidState, NotFound
from catalog.media import insert_ignoring_duplicates
from catalog.records import ItemOutcome, MatchRecord, QueueItem, Verdict
from catalog.schema import hashes, matches, media, sightings, verdicts


def classifiable_status(conn: sa.Connection, sha256: str) -> str:
    """The item's status, once it is known to exist and to be far enough along for a verdict."""
    status = conn.scalar(sa.select(media.c.status).where(media.c.sha256 == sha256))
    if status is None:
        raise NotFound(f"no media item {sha256!r}")
    if status in ("new", "error"):
        raise InvalidState(f"media item {sha256[:12]!r} is {status!r}; it cannot be classified yet")
    return str(status)


def current_verdicts() -> sa.Subquery:
    """The newest verdict row of every item that has one."""
    newest = sa.select(sa.func.max(verdicts.c.id).label("id")).group_by(verdicts.c.sha256).subquery()
    return sa.select(verdicts).join(newest, newest.c.id == verdicts.c.id).subquery("current_verdicts")


class ReviewMixin(Database):
    def record_matches(self, found: Sequence[MatchRecord], *, actor: str = "matcher") -> int:
        """Store matches; each matched item still awaiting a decision takes the verdict of its
        closest match (illegal before not-illegal, exact before near, then by distance) and leaves the queue.

        Returns how many items were auto-classified."""
        if not found:
            return 0
        now = utcnow()
        best: dict[str, MatchRecord] = {}
        # issue 3: a match in a set that says illegal outranks one in a known-benign set;
        # then exact before near (pdq, vpdq), then by distance
        for m in sorted(found, key=lambda m: (m.verdict == Verdict.NOT_ILLEGAL, m.match_type in ("pdq", "vpdq"),
                                              m.distance, m.set_name)):
            best.setdefault(m.sha256, m)
        with self.write() as conn:
            insert_ignoring_duplicates(
                conn,
                matches,
                [
                    dict(
                        sha256=m.sha256,
                        set_name=m.set_name,
                        match_type=m.match_type,
                        distance=m.distance,
                        verdict=str(m.verdict),
                        known_id=m.known_id,
                        category=m.category,
                        matched_at=now,
                    )
                    for m in found
                ],
            )
            undecided = set(
                conn.scalars(
                    sa.select(media.c.sha256).where(
                        media.c.sha256.in_(list(best)), media.c.status.in_(("new", "hashed", "queued"))
                    )
                )
            )
            for sha256 in sorted(undecided):
                m = best[sha256]
                conn.execute(
                    verdicts.insert().values(
                        sha256=sha256,
                        verdict=str(m.verdict),
                        source="known-set",
                        actor=actor,
                        set_name=m.set_name,
                        reason=f"{m.match_type} match, distance {m.distance}",
                        created_at=now,
                    )
                )
                audit(conn, actor, "verdict.auto", sha256, verdict=str(m.verdict), set=m.set_name,
                      match_type=m.match_type, distance=m.distance)
            if undecided:
                conn.execute(media.update().where(media.c.sha256.in_(undecided)).values(status="known"))
        return len(undecided)

    def queue_unmatched(self, sha256s: Sequence[str]) -> int:
        """Put hashed items without a verdict into the review queue; returns how many."""
        with self.write() as conn:
            result = conn.execute(
                media.update()
                .where(media.c.sha256.in_(list(sha256s)), media.c.status == "hashed")
                .values(status="queued")
            )
        return result.rowcount

    def queue(self, limit: int = 100) -> list[QueueItem]:
        """Queued items, oldest first, with the reports and URLs they were seen at."""
        pdq = hashes.alias("pdq")
        query = (
            sa.select(media, pdq.c.value.label("pdq"))
            .outerjoin(pdq, sa.and_(pdq.c.sha256 == media.c.sha256, pdq.c.algorithm == "pdq"))
            .where(media.c.status == "queued")
            .order_by(media.c.first_seen_at, media.c.sha256)
            .limit(limit)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
            seen = _sightings_by_media(conn, [r.sha256 for r in rows])
        return [
            QueueItem(
                sha256=r.sha256,
                kind=r.kind,
                mime=r.mime,
                size=r.size,
                first_seen_at=r.first_seen_at,
                report_ids=tuple(sorted({rid for rid, _ in seen.get(r.sha256, [])})),
                urls=tuple(url for _, url in seen.get(r.sha256, [])),
                pdq=r.pdq,
            )
            for r in rows
        ]

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

    def record_verdict(self, sha256: str, verdict: Verdict, *, actor: str, reason: str | None = None,
                       confirm_required: bool = False) -> int:
        """Record an analyst's verdict on an item (audited). Returns the verdict's ID."""
        with self.write() as conn:
            status = classifiable_status(conn, sha256)
            verdict_id = inserted_id(conn.execute(
                verdicts.insert().values(
                    sha256=sha256, verdict=str(verdict), source="analyst", actor=actor,
                    reason=reason, created_at=utcnow(), confirm_required=confirm_required, basis="hand",
                )
            ))
            conn.execute(media.update().where(media.c.sha256 == sha256).values(status="classified"))
            audit(conn, actor, "verdict.record", sha256, verdict=str(verdict), reason=reason, previous=status,
                  confirm_required=confirm_required)
        return int(verdict_id)

    def outcomes(self, report_ids: Sequence[int]) -> list[ItemOutcome]:
        """What became of every item seen in these reports."""
        cv = current_verdicts()
        query = (
            sa.select(media, cv.c.verdict, cv.c.source, cv.c.set_name, cv.c.actor, cv.c.reason)
            .outerjoin(cv, cv.c.sha256 == media.c.sha256)
            .where(
                media.c.sha256.in_(
                    sa.select(sightings.c.sha256).where(sightings.c.report_id.in_(list(report_ids)))
                )
            )
            .order_by(media.c.first_seen_at, media.c.sha256)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
            seen = _sightings_by_media(conn, [r.sha256 for r in rows], report_ids)
        return [
            ItemOutcome(
                sha256=r.sha256,
                status=r.status,
                verdict=Verdict(r.verdict) if r.verdict else None,
                verdict_source=r.source,
                set_name=r.set_name,
                actor=r.actor,
                urls=tuple(url for _, url in seen.get(r.sha256, [])),
                error=r.error,
                reason=r.reason,
            )
            for r in rows
        ]


def _sightings_by_media(
    conn: sa.Connection, sha256s: Sequence[str], report_ids: Sequence[int] | None = None
) -> dict[str, list[tuple[int, str]]]:
    query = sa.select(sightings.c.sha256, sightings.c.report_id, sightings.c.media_url).where(
        sightings.c.sha256.in_(list(sha256s))
    )
    if report_ids is not None:
        query = query.where(sightings.c.report_id.in_(list(report_ids)))
    out: dict[str, list[tuple[int, str]]] = {}
    for row in conn.execute(query.order_by(sightings.c.id)):
        out.setdefault(row.sha256, []).append((row.report_id, row.media_url))
    return out
