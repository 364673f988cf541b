"""The export ledger: which items went to which destination in which bundle, and which
locations (media URL on a page) each destination was told about.

A location goes to a destination once: ``export_locations`` is unique per (destination,
item, location), so recording the same location twice fails instead of sending it twice,
while a new location of an item sent before is a candidate again and is notified.
``export_items`` keeps the bundle that first carried each item (hash-set routes are kept per
item only). When the verdict of an item a destination had changes (a senior's override,
confirmed by a second senior), the destination is told once per new verdict
(``export_corrections``): a correction, a retraction when the new verdict is not
exportable, or a withdrawal when every verdict of the item was withdrawn (it is in review
again). Re-sending is a deliberate act: ``request_resend`` opens a request per item (``export_resends``), the item
becomes a candidate for that destination again, and the bundle that carries it closes the
request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from catalog.db import Database, inserted_id, utcnow
from catalog.decisions.records import OWN_MATCH, PARTNER_DECISION, Verdict
from catalog.decisions.verdict_rows import current_verdicts
from catalog.errors import NotFound
from catalog.exchange_ledger.escalations import (
    NEW,
    UPDATE,
    escalated,
    escalation_evidence,
    new_material,
    record_escalations,
    updates_due,
)
from catalog.exchange_ledger.records import (
    WITHDRAWN,
    CorrectionCandidate,
    ExportCandidate,
    ExportEntry,
    ResendRequest,
    UnroutedLocation,
    correction_action,
)
from catalog.known_sets.matches import EXACT_MATCHES
from catalog.schema import (
    confirmations,
    escalations,
    export_corrections,
    export_items,
    export_locations,
    export_resends,
    exports,
    hashes,
    matches,
    media,
    sightings,
    verdict_withdrawals,
    verdicts,
)
from catalog.users.audit import audit


def _told_verdict(told: str) -> Verdict | None:
    """The verdict a destination was last told, None when it was told of a withdrawal."""
    return None if told == WITHDRAWN else Verdict(told)


def location_key(media_url: str, page_url: str) -> str:
    """The ledger's key of a location: SHA-256 of the media URL and the page URL."""
    return hashlib.sha256(f"{media_url}\n{page_url}".encode()).hexdigest()


def counted_verdict(cv: sa.Subquery) -> sa.ColumnElement[bool]:
    """Whether a current verdict counts as decided: exportable verdicts recorded under the
    four-eyes rule count once a second analyst confirmed them."""
    return sa.or_(cv.c.confirm_required.is_not(True), cv.c.id.in_(sa.select(confirmations.c.verdict_id)))


def _hosted_in(countries: Collection[str] | None) -> sa.ColumnElement[bool]:
    """Sightings whose media or page is hosted in one of ``countries`` (all when None)."""
    if countries is None:
        return sa.true()
    wanted = [c.upper() for c in countries]
    return sa.or_(sightings.c.country.in_(wanted), sightings.c.page_country.in_(wanted))


class ExportLedger(Database):
    """Part of ``ExchangeStore``: the export ledger."""

    def export_candidates(
        self,
        destination: str | None,
        limit: int = 10_000,
        *,
        countries: Collection[str] | None = None,
        sources: Collection[str] | None = None,
        locations: bool = True,
        escalate: str | None = None,
        only: Collection[str] | None = None,
        after: ExportCandidate | None = None,
    ) -> list[ExportCandidate]:
        """Items whose current verdict is exportable (and confirmed, under four-eyes) and that
        ``destination`` has not had (or whose re-send was requested); with ``destination``
        None, every such item. ``locations``: the ledger is kept per location, so an item
        sent before is a candidate again with the locations (sightings) it has not been told
        about, and carries only those (all of them on a re-send); otherwise per item.
        ``countries``: only items whose media or page is hosted in one of these countries,
        with only those sightings; ``sources``: only verdicts from these sources
        (``analyst``, ``known-set``). ``escalate`` (``flag`` or ``only``): new material
        (``exchange_ledger.escalations``) is marked, comes first, with its evidence, and an
        item sent as new that is known now comes again as an update; ``only``: nothing else.
        ``only`` (a collection): only these items. ``after``: the candidates that follow this
        one (the last of the previous page) in the order they come in, so that a caller reads
        them a page at a time (keyset pagination: new material first when escalating, then by
        verdict)."""
        cv = current_verdicts()
        sent = sa.select(export_items.c.sha256).where(export_items.c.destination == destination)
        resend = sa.select(export_resends.c.sha256).where(
            export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None)
        )
        hosted = sa.select(sightings.c.sha256).where(_hosted_in(countries))
        told = sa.exists().where(export_locations.c.destination == destination,
                                 export_locations.c.sha256 == sightings.c.sha256,
                                 export_locations.c.media_url == sightings.c.media_url,
                                 export_locations.c.page_url == sightings.c.page_url)
        fresh = sa.or_(media.c.sha256.not_in(sent), media.c.sha256.in_(resend),
                       *([media.c.sha256.in_(hosted.where(~told))] if locations else []),
                       *([media.c.sha256.in_(updates_due(destination))] if escalate else []))
        is_new = new_material() if escalate else sa.false()
        query = (
            sa.select(media, cv.c.id.label("verdict_id"), cv.c.verdict, cv.c.source, cv.c.actor, cv.c.created_at,
                      cv.c.provenance, cv.c.set_name,
                      cv.c.id.in_(sa.select(confirmations.c.verdict_id)).label("confirmed"),
                      is_new.label("new_material"))
            .join(cv, cv.c.sha256 == media.c.sha256)
            .where(cv.c.verdict.in_([v.value for v in Verdict if v.exportable]),
                   sa.true() if destination is None else fresh,
                   counted_verdict(cv))
            .order_by(*([is_new.desc()] if escalate else []), cv.c.id)  # new material first, in every bundle
            .limit(limit)
        )
        if escalate == "only":  # new material, and what was sent as new (updates, new locations)
            query = query.where(sa.or_(is_new, media.c.sha256.in_(
                sa.select(escalations.c.sha256).where(escalations.c.destination == destination))))
        if countries is not None:
            query = query.where(media.c.sha256.in_(hosted))
        if sources is not None:
            query = query.where(cv.c.source.in_(list(sources)))
        if only is not None:
            query = query.where(media.c.sha256.in_(list(only)))
        if after is not None:
            later = cv.c.id > after.verdict_id
            if escalate and after.escalation == NEW:  # the rest of the new material, then the others
                later = sa.or_(later, ~is_new)
            elif escalate:
                later = sa.and_(later, ~is_new)
            query = query.where(later)
        with self.read() as conn:
            rows = conn.execute(query).all()
            keys = [r.sha256 for r in rows]
            digests: dict[str, dict[str, str]] = {}
            for h in conn.execute(sa.select(hashes).where(hashes.c.sha256.in_(keys))):
                digests.setdefault(h.sha256, {})[h.algorithm] = h.value
            exact = set(conn.execute(sa.select(matches.c.sha256, matches.c.set_name).where(
                matches.c.sha256.in_(keys), matches.c.match_type.in_(EXACT_MATCHES))).tuples())
            notified: set[tuple[str, str, str]] = set()
            if locations and destination is not None:
                notified = set(conn.execute(sa.select(
                    export_locations.c.sha256, export_locations.c.media_url, export_locations.c.page_url).where(
                    export_locations.c.destination == destination, export_locations.c.sha256.in_(keys))).tuples())
            again = set(conn.scalars(resend.where(export_resends.c.sha256.in_(keys)))) if destination else set()
            fresh_new = {r.sha256 for r in rows if r.new_material} if escalate else set()
            due = set(conn.scalars(updates_due(destination).where(escalations.c.sha256.in_(keys)))) \
                if escalate else set()
            evidence = escalation_evidence(conn, fresh_new, due - fresh_new)
            seen: dict[str, list[dict[str, object]]] = {}
            query = sa.select(sightings).where(sightings.c.sha256.in_(keys), _hosted_in(countries))
            for s in conn.execute(query.order_by(sightings.c.id)):
                if s.sha256 not in again and (s.sha256, s.media_url, s.page_url) in notified:
                    continue
                seen.setdefault(s.sha256, []).append(
                    dict(report_id=s.report_id, media_url=s.media_url, page_url=s.page_url, ip=s.ip,
                         country=s.country, page_host=s.page_host, page_ip=s.page_ip,
                         page_country=s.page_country, seen_at=s.seen_at.isoformat() + "Z")
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
                verdict_basis=_basis(r.source, bool(r.confirmed), (r.sha256, r.set_name) in exact),
                escalation=NEW if r.sha256 in fresh_new else UPDATE if r.sha256 in due else None,
                evidence=evidence.get(r.sha256),
            )
            for r in rows
        ]

    def awaiting_update(self, destination: str) -> list[str]:
        """Items sent to ``destination`` as new material and not updated since: what is
        matched again against the known sets before each export to it."""
        with self.read() as conn:
            return list(conn.scalars(escalated(destination)))

    def correction_candidates(self, destination: str, limit: int = 10_000) -> list[CorrectionCandidate]:
        """Items ``destination`` had whose current verdict (decided, confirmed where it must
        be) differs from the one it was last told: in the bundle that first carried the
        item, or in the last correction. An undetermined verdict waits for a senior first.

        An item whose every verdict was withdrawn since it was told (an automatic verdict
        whose source changed: the item is back in review here) is a withdrawal, so that the
        destination stops acting on a verdict that no longer stands while our analysts decide
        the item again; their decision then reaches it as a correction or a retraction."""
        cv = current_verdicts()
        sent_verdict = verdicts.alias("sent_verdict")
        final = [v.value for v in Verdict if v is not Verdict.UNDETERMINED]
        query = (
            sa.select(export_items.c.sha256, export_items.c.verdict_id.label("sent_id"),
                      sent_verdict.c.verdict.label("sent"), cv.c.id, cv.c.verdict, cv.c.reason, cv.c.created_at)
            .join(sent_verdict, sent_verdict.c.id == export_items.c.verdict_id)
            .join(cv, cv.c.sha256 == export_items.c.sha256)
            .where(export_items.c.destination == destination, cv.c.id != export_items.c.verdict_id,
                   cv.c.verdict.in_(final), counted_verdict(cv))
            .order_by(cv.c.id)
        )
        newest = sa.select(verdicts.c.sha256, sa.func.max(verdicts.c.id).label("id")).group_by(verdicts.c.sha256) \
            .subquery()
        undecided = (
            sa.select(export_items.c.sha256, export_items.c.verdict_id.label("sent_id"),
                      sent_verdict.c.verdict.label("sent"), newest.c.id, verdict_withdrawals.c.reason,
                      verdict_withdrawals.c.at)
            .join(sent_verdict, sent_verdict.c.id == export_items.c.verdict_id)
            .join(newest, newest.c.sha256 == export_items.c.sha256)
            .join(verdict_withdrawals, verdict_withdrawals.c.verdict_id == newest.c.id)
            .where(export_items.c.destination == destination, export_items.c.sha256.not_in(sa.select(cv.c.sha256)))
            .order_by(newest.c.id)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
            withdrawn = conn.execute(undecided).all()
            told = {r.sha256: (r.verdict_id, r.verdict) for r in conn.execute(
                sa.select(export_corrections).where(
                    export_corrections.c.destination == destination,
                    export_corrections.c.sha256.in_([r.sha256 for r in (*rows, *withdrawn)]))
                .order_by(export_corrections.c.id))}
            due: list[CorrectionCandidate] = []
            for r in rows:
                told_id, told_verdict = told.get(r.sha256, (r.sent_id, r.sent))
                if r.id != told_id and r.verdict != told_verdict:
                    due.append(CorrectionCandidate(
                        sha256=r.sha256, verdict_id=r.id, previous=_told_verdict(told_verdict),
                        verdict=Verdict(r.verdict), reason=r.reason, decided_at=r.created_at, hashes={}))
            for w in withdrawn:
                _, told_verdict = told.get(w.sha256, (w.sent_id, w.sent))
                if told_verdict != WITHDRAWN and Verdict(told_verdict).exportable:
                    due.append(CorrectionCandidate(
                        sha256=w.sha256, verdict_id=w.id, previous=Verdict(told_verdict), verdict=None,
                        reason=w.reason, decided_at=w.at, hashes={}))
            due = sorted(due, key=lambda c: c.decided_at)[:limit]
            digests: dict[str, dict[str, str]] = {}
            for h in conn.execute(sa.select(hashes).where(hashes.c.sha256.in_([c.sha256 for c in due]))):
                digests.setdefault(h.sha256, {})[h.algorithm] = h.value
        return [replace(c, hashes=digests.get(c.sha256, {})) for c in due]

    def corrections_of(self, sha256: str) -> list[dict[str, Any]]:
        """The corrections and retractions of one item, each destination's, oldest first."""
        query = (sa.select(export_corrections, exports.c.bundle_id)
                 .join(exports, exports.c.id == export_corrections.c.export_id)
                 .where(export_corrections.c.sha256 == sha256).order_by(export_corrections.c.id))
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def unrouted_locations(self, limit: int = 1_000) -> list[UnroutedLocation]:
        """Locations of decided items (exportable current verdict, confirmed under four-eyes)
        where neither the media's nor the page's hosting country is known: no partner route
        can take them, so the operator routes them by hand."""
        query = _unrouted().order_by(sightings.c.id).limit(limit)
        with self.read() as conn:
            return [UnroutedLocation(sha256=r.sha256, verdict=Verdict(r.verdict), report_id=r.report_id,
                                     media_url=r.media_url, page_url=r.page_url, ip=r.ip, page_ip=r.page_ip,
                                     seen_at=r.seen_at)
                    for r in conn.execute(query)]

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
        locations: Sequence[tuple[str, str, str]] = (),
        escalated: Sequence[tuple[str, str]] = (),
        corrections: Sequence[tuple[str, int, str, str]] = (),
    ) -> bool:
        """Record a delivered bundle, the items it carried, as (SHA-256, verdict ID) pairs, and
        the locations it told about, as (SHA-256, media URL, page URL), the items it carried
        as new material or as their update, as (SHA-256, ``new`` | ``update``), or the
        corrections it carried, as (SHA-256, verdict ID, previous verdict, verdict) (audited). Returns
        False if this bundle was recorded already."""
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
            shas = [s for s, _ in items]
            resent = set(conn.scalars(sa.select(export_resends.c.sha256).where(
                export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None),
                export_resends.c.sha256.in_(shas))))
            # an item sent before comes again for a re-send or with new locations: its first
            # bundle stays its row in export_items
            before = set(conn.scalars(sa.select(export_items.c.sha256).where(
                export_items.c.destination == destination, export_items.c.sha256.in_(shas))))
            first = [dict(export_id=export_id, destination=destination, sha256=sha256, verdict_id=verdict_id)
                     for sha256, verdict_id in items if sha256 not in before]
            if first:
                conn.execute(export_items.insert(), first)
            # a location told before fails the unique constraint, as it must, unless re-sent
            told = set(conn.execute(sa.select(export_locations.c.sha256, export_locations.c.location).where(
                export_locations.c.destination == destination, export_locations.c.sha256.in_(resent))).tuples())
            rows = {(s, location_key(m, p)): dict(export_id=export_id, destination=destination, sha256=s,
                                                  location=location_key(m, p), media_url=m, page_url=p)
                    for s, m, p in locations}
            new = [row for key, row in rows.items() if key not in told]
            if new:
                conn.execute(export_locations.insert(), new)
            record_escalations(conn, destination, bundle_id, escalated)
            if resent:  # re-sent on request: close the requests
                conn.execute(
                    export_resends.update()
                    .where(export_resends.c.destination == destination, export_resends.c.bundle_id.is_(None),
                           export_resends.c.sha256.in_(resent))
                    .values(bundle_id=bundle_id, sent_at=utcnow())
                )
            if corrections:
                now = utcnow()
                conn.execute(export_corrections.insert(), [
                    dict(export_id=export_id, destination=destination, sha256=s, verdict_id=v, previous=p,
                         verdict=n, action=correction_action(n), sent_at=now)
                    for s, v, p, n in corrections])
            audit(conn, actor, "export.deliver", bundle_id, destination=destination, location=location,
                  items=len(items), locations=len(new), sha256=sha256,
                  **({"corrections": len(corrections)} if corrections else {}))
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

    def count_unrouted_locations(self) -> int:
        """How many locations ``unrouted_locations`` would list without a limit."""
        with self.read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(_unrouted().subquery())) or 0)


def _unrouted() -> sa.Select[Any]:
    cv = current_verdicts()
    return (
        sa.select(sightings, cv.c.verdict)
        .join(cv, cv.c.sha256 == sightings.c.sha256)
        .where(cv.c.verdict.in_([v.value for v in Verdict if v.exportable]), counted_verdict(cv),
               sightings.c.country.is_(None), sightings.c.page_country.is_(None))
    )


def _basis(source: str, confirmed: bool, exact: bool) -> str:
    """How a verdict was reached, as a bundle's manifest says it: an analyst of ours (and
    confirmed by a second one), a known set by exact digest or by PDQ distance, the
    decision of a picture of ours by PDQ distance, or a partner hotline's decision of the
    same file (our profiles derived the verdict from its grading)."""
    if source == "analyst":
        return "analyst-confirmed" if confirmed else "analyst"
    if source == "known-set":
        return "known-set-exact" if exact else "known-set-near"
    if source == OWN_MATCH:
        return "own-decision-near"
    if source == PARTNER_DECISION:
        return "partner-decision"
    return source
