"""The export ledger: which items went to which destination in which bundle.

An item goes to a destination once: ``export_items`` is unique per (destination, item), so
recording the same items twice fails instead of sending them twice. Re-sending is a
deliberate act: ``request_resend`` opens a request per item (``export_resends``), the item
becomes a candidate for that destination again, and the bundle that carries it closes the
request.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa

from catalog.audit import audit
from catalog.db import Database, inserted_id, utcnow
from catalog.errors import NotFound
from catalog.records import ExportCandidate, ExportEntry, ResendRequest, Verdict
from catalog.review import current_verdicts
from catalog.schema import confirmations, export_items, export_resends, exports, hashes, media, sightings


class LedgerMixin(Database):
    def export_candidates(
        self,
        destination: str | None,
        limit: int = 10_000,
        *,
        countries: Collection[str] | None = None,
        sources: Collection[str] | None = None,
    ) -> list[ExportCandidate]:
        """Items whose current verdict is exportable and that ``destination`` has not had
        (or whose re-send was requested); with ``destination`` None, every such item.
        ``countries``: only items seen hosted in one of these countries; ``sources``: only
        verdicts from these sources (``analyst``, ``known-set``)."""
        cv = current_verdicts()
        sent = sa.select(export_items.c.sha256).where(export_items.c.destination == destination)
        resend = sa.select(export_resends.c.sha256).where(
            export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None)
        )
        query = (
            sa.select(media, cv.c.id.label("verdict_id"), cv.c.verdict, cv.c.source, cv.c.actor, cv.c.created_at,
                      cv.c.provenance)
            .join(cv, cv.c.sha256 == media.c.sha256)
            .where(cv.c.verdict.in_([v.value for v in Verdict if v.exportable]),
                   sa.true() if destination is None else sa.or_(media.c.sha256.not_in(sent),
                                                                media.c.sha256.in_(resend)),
                   # four-eyes (issue 5): a verdict recorded under the rule goes out once confirmed
                   sa.or_(cv.c.confirm_required.is_not(True), cv.c.id.in_(sa.select(confirmations.c.verdict_id))))
            .order_by(cv.c.id)
            .limit(limit)
        )
        if countries is not None:
            hosted = sa.select(sightings.c.sha256).where(sightings.c.country.in_([c.upper() for c in countries]))
            query = query.where(media.c.sha256.in_(hosted))
        if sources is not None:
            query = query.where(cv.c.source.in_(list(sources)))
        with self.read() as conn:
            rows = conn.execute(query).all()
            keys = [r.sha256 for r in rows]
            digests: dict[str, dict[str, str]] = {}
            for h in conn.execute(sa.select(hashes).where(hashes.c.sha256.in_(keys))):
                digests.setdefault(h.sha256, {})[h.algorithm] = h.value
            seen: dict[str, list[dict[str, object]]] = {}
            for s in conn.execute(sa.select(sightings).where(sightings.c.sha256.in_(keys)).order_by(sightings.c.id)):
                seen.setdefault(s.sha256, []).append(
                    dict(report_id=s.report_id, media_url=s.media_url, page_url=s.page_url, ip=s.ip,
                         country=s.country, seen_at=s.seen_at.isoformat() + "Z")
                )
        return [
            ExportCandidate(
                sha256=r.sha256,
                verdict=Verdict(r.verdict),
                verdict_id=r.verdict_id,
                verdict_source=r.source,
                actor=r.actor,
                decided_at=r.created_at,
                kind=r.kind,
                mime=r.mime,
                size=r.size,
                hashes=digests.get(r.sha256, {}),
                sightings=tuple(seen.get(r.sha256, [])),
                provenance=r.provenance,
            )
            for r in rows
        ]

    def record_export(
        self,
        *,
        bundle_id: str,
        destination: str,
        location: str,
        recipients: Sequence[str],
        sha256: str,
        size: int,
        items: Sequence[tuple[str, int]],
        actor: str,
    ) -> bool:
        """Record a delivered bundle and the items it carried, as (SHA-256, verdict ID)
        pairs (audited). Returns False if this bundle was recorded already."""
        with self.write() as conn:
            if conn.scalar(sa.select(exports.c.id).where(exports.c.bundle_id == bundle_id)) is not None:
                return False
            export_id = inserted_id(conn.execute(
                exports.insert().values(
                    bundle_id=bundle_id, destination=destination, location=location,
                    recipients=list(recipients), items=len(items), sha256=sha256, size=size,
                    created_at=utcnow(),
                )
            ))
            # items re-sent on request already have their export_items row; any other item
            # sent before fails the unique constraint, as it must
            already = set(conn.scalars(sa.select(export_resends.c.sha256).where(
                export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None),
                export_resends.c.sha256.in_([s for s, _ in items]))))
            first = [dict(export_id=export_id, destination=destination, sha256=sha256, verdict_id=verdict_id)
                     for sha256, verdict_id in items if sha256 not in already]
            if first:
                conn.execute(export_items.insert(), first)
            if already:  # re-sent on request: close the requests
                conn.execute(
                    export_resends.update()
                    .where(export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None),
                           export_resends.c.sha256.in_(already))
                    .values(bundle_id=bundle_id, sent_at=utcnow())
                )
            audit(conn, actor, "export.deliver", bundle_id, destination=destination, location=location,
                  items=len(items), sha256=sha256)
        return True

    def request_resend(
        self,
        destination: str,
        *,
        actor: str,
        sha256s: Sequence[str] = (),
        bundle_id: str | None = None,
        reason: str | None = None,
    ) -> list[str]:
        """Ask for items already sent to ``destination`` (given, or all of ``bundle_id``) to be
        sent again with its next bundle (audited). Returns the items now waiting; an item
        never sent there, or already waiting, raises or is left as it is."""
        with self.write() as conn:
            wanted = list(sha256s)
            if bundle_id is not None:
                export_id = conn.scalar(sa.select(exports.c.id).where(
                    exports.c.bundle_id == bundle_id, exports.c.destination == destination))
                if export_id is None:
                    raise NotFound(f"no bundle {bundle_id!r} was sent to {destination!r}")
                wanted += conn.scalars(sa.select(export_items.c.sha256).where(
                    export_items.c.export_id == export_id)).all()
                # items first sent in another bundle and re-sent in this one
                wanted += conn.scalars(sa.select(export_resends.c.sha256).where(
                    export_resends.c.bundle_id == bundle_id)).all()
            if not wanted:
                raise ValueError("name the items or the bundle to re-send")
            sent = set(conn.scalars(sa.select(export_items.c.sha256).where(
                export_items.c.destination == destination, export_items.c.sha256.in_(wanted))))
            missing = sorted(set(wanted) - sent)
            if missing:
                raise NotFound(f"items {missing!r} were never sent to {destination!r}")
            waiting = set(conn.scalars(sa.select(export_resends.c.sha256).where(
                export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None))))
            new = sorted(set(wanted) - waiting)
            if new:
                conn.execute(export_resends.insert(), [
                    dict(destination=destination, sha256=s, requested_at=utcnow(), actor=actor, reason=reason)
                    for s in new])
                audit(conn, actor, "export.resend_request", bundle_id or destination, destination=destination,
                      items=len(new), reason=reason)
        return sorted(set(wanted))

    def resend_requests(self, destination: str | None = None, limit: int = 100) -> list[ResendRequest]:
        query = sa.select(export_resends).order_by(export_resends.c.id.desc()).limit(limit)
        if destination is not None:
            query = query.where(export_resends.c.destination == destination)
        with self.read() as conn:
            return [ResendRequest(**r._mapping) for r in conn.execute(query)]

    def exports(self, limit: int = 100) -> list[ExportEntry]:
        with self.read() as conn:
            rows = conn.execute(sa.select(exports).order_by(exports.c.id.desc()).limit(limit)).all()
        return [
            ExportEntry(
                bundle_id=r.bundle_id, destination=r.destination, location=r.location, items=r.items,
                sha256=r.sha256, size=r.size, created_at=r.created_at, recipients=tuple(r.recipients),
            )
            for r in rows
        ]
