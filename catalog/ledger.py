"""The export ledger: which items went to which destination in which bundle.

An item goes to a destination once: ``export_items`` is unique per (destination, item), so
recording the same items twice fails instead of sending them twice. Re-sending is a
deliberate act (a later issue adds it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from catalog.audit import audit
from catalog.db import Database, utcnow
from catalog.records import ExportCandidate, ExportEntry, Verdict
from catalog.review import current_verdicts
from catalog.schema import export_items, exports, hashes, media, sightings


class LedgerMixin(Database):
    def export_candidates(self, destination: str, limit: int = 10_000) -> list[ExportCandidate]:
        """Items whose current verdict is exportable and that ``destination`` has not had."""
        cv = current_verdicts()
        sent = sa.select(export_items.c.sha256).where(export_items.c.destination == destination)
        query = (
            sa.select(media, cv.c.id.label("verdict_id"), cv.c.verdict, cv.c.source, cv.c.actor, cv.c.created_at)
            .join(cv, cv.c.sha256 == media.c.sha256)
            .where(cv.c.verdict.in_([v.value for v in Verdict if v.exportable]), media.c.sha256.not_in(sent))
            .order_by(cv.c.id)
            .limit(limit)
        )
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
            export_id = conn.execute(
                exports.insert().values(
                    bundle_id=bundle_id, destination=destination, location=location,
                    recipients=list(recipients), items=len(items), sha256=sha256, size=size,
                    created_at=utcnow(),
                )
            ).inserted_primary_key[0]
            if items:
                conn.execute(
                    export_items.insert(),
                    [dict(export_id=export_id, destination=destination, sha256=sha256, verdict_id=verdict_id)
                     for sha256, verdict_id in items],
                )
            audit(conn, actor, "export.deliver", bundle_id, destination=destination, location=location,
                  items=len(items), sha256=sha256)
        return True

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
