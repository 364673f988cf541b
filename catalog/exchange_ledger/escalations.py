"""New material: confirmed items that no known set and no partner had, escalated to a
destination (INTERPOL) as new, listed first and with what a victim-identification team
needs; and the update it is owed when a known set or a partner later has the same item.

An item is *new material* while it has no row in ``matches`` (any known set's, partners'
included, whatever the match decided) and no partner decision (``partner_handled``). The
ledger (``escalations``) keeps the bundle that sent it as new and, once a match or partner
decision appears, the bundle that told the destination so: one update, never a duplicate.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from catalog.db import insert_ignoring_duplicates, utcnow
from catalog.known_sets.records import is_partner_source
from catalog.schema import escalations, gradings, known_sets, matches, media, partner_handled, sightings

NEW, UPDATE = "new", "update"


def new_material() -> sa.ColumnElement[bool]:
    """The item (``media`` row) matched no known set and no partner decided it."""
    return sa.and_(~sa.exists().where(matches.c.sha256 == media.c.sha256),
                   ~sa.exists().where(partner_handled.c.sha256 == media.c.sha256))


def escalated(destination: str | None) -> sa.Select[Any]:
    """Items sent to ``destination`` as new material and not updated since."""
    return sa.select(escalations.c.sha256).where(escalations.c.destination == destination,
                                                 escalations.c.update_bundle_id.is_(None))


def updates_due(destination: str | None) -> sa.Select[Any]:
    """Items sent to ``destination`` as new that a known set or a partner has had since."""
    return escalated(destination).where(sa.or_(
        sa.exists().where(matches.c.sha256 == escalations.c.sha256),
        sa.exists().where(partner_handled.c.sha256 == escalations.c.sha256)))


def escalation_evidence(conn: sa.Connection, new: Collection[str], updates: Collection[str]) -> dict[str, Any]:
    """Per item: for new material, when it was first seen, every hosting country and the
    analyst's grading (attributes, not who graded); for an update, what has it now."""
    out: dict[str, dict[str, Any]] = {s: {} for s in [*new, *updates]}
    if new:
        first = sa.select(sightings.c.sha256, sa.func.min(sightings.c.seen_at)).where(
            sightings.c.sha256.in_(list(new))).group_by(sightings.c.sha256)
        for sha, seen in conn.execute(first):
            out[sha]["first_seen"] = seen.isoformat() + "Z"
        countries: dict[str, set[str]] = {}
        for sha, c, pc in conn.execute(sa.select(sightings.c.sha256, sightings.c.country, sightings.c.page_country)
                                       .where(sightings.c.sha256.in_(list(new)))):
            countries.setdefault(sha, set()).update(x for x in (c, pc) if x)
        newest = sa.select(sa.func.max(gradings.c.id)).where(gradings.c.sha256.in_(list(new))).group_by(
            gradings.c.sha256)
        for g in conn.execute(sa.select(gradings).where(gradings.c.id.in_(newest))):
            out[g.sha256]["grading"] = dict(
                age_group=g.age_group, genders=list(g.genders), depiction=g.depiction,
                sexual_activity=g.sexual_activity, genital_focus=g.genital_focus, severity=g.severity,
                self_generated=g.self_generated, tags=list(g.tags), graded_at=g.created_at.isoformat() + "Z")
        for sha in new:
            out[sha]["hosting_countries"] = sorted(countries.get(sha, ()))
    if updates:
        for sha, source, kind, at in conn.execute(
                sa.select(matches.c.sha256, known_sets.c.source, matches.c.match_type,
                          matches.c.matched_at)
                .join(known_sets, known_sets.c.name == matches.c.set_name, isouter=True)
                .where(matches.c.sha256.in_(list(updates))).order_by(matches.c.id)):
            out[sha].setdefault("now_known", []).append(
                dict(by="partner" if is_partner_source(source) else "known-set",
                     match=kind, since=at.isoformat() + "Z"))
        for sha, partner, since in conn.execute(
                sa.select(partner_handled.c.sha256, partner_handled.c.partner, partner_handled.c.since)
                .where(partner_handled.c.sha256.in_(list(updates)))):
            out[sha].setdefault("now_known", []).append(
                dict(by="partner", partner=partner, since=since.isoformat() + "Z"))
    return out


def record_escalations(conn: sa.Connection, destination: str, bundle_id: str,
                       sent: Sequence[tuple[str, str]]) -> None:
    """Note the items a delivered bundle carried as new material, and close the updates it carried."""
    now = utcnow()
    insert_ignoring_duplicates(conn, escalations, [
        dict(destination=destination, sha256=s, bundle_id=bundle_id, sent_at=now) for s, what in sent if what == NEW])
    updated = [s for s, what in sent if what == UPDATE]
    if updated:
        conn.execute(escalations.update().where(
            escalations.c.destination == destination, escalations.c.sha256.in_(updated),
            escalations.c.update_bundle_id.is_(None)).values(update_bundle_id=bundle_id, updated_at=now))
