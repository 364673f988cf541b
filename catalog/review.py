"""Known-set matches, the review queue and verdicts.

A verdict row is never changed: a new decision is a new row, and an item's current verdict
is its newest row that was not withdrawn. A matched item takes its known set's verdict
(source ``known-set``, with its provenance) and is never queued; an item whose matches
decide nothing (a category the set does not map) and an unmatched item are queued for an
analyst. Withdrawing an automatic verdict (``withdraw_verdicts``) sends its item back to
review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from catalog.audit import audit
from catalog.db import Database, inserted_id, utcnow
from catalog.errors import Ambiguous, DecidedMeanwhile, InvalidState, NotFound
from catalog.media import insert_ignoring_duplicates
from catalog.records import (
    REVIEW,
    DecisionState,
    ItemOutcome,
    MatchRecord,
    QueueItem,
    ReviewRules,
    SeenState,
    Verdict,
    is_partner_source,
)
from catalog.rules import check_rules
from catalog.schema import (
    confirmations,
    export_items,
    exports,
    gradings,
    hashes,
    known_sets,
    matches,
    media,
    sightings,
    verdict_withdrawals,
    verdicts,
)
from catalog.users import SYSTEM

NEAR_MATCHES = ("pdq", "vpdq")  # match types by distance; every other type is an exact digest


def lock_items(conn: sa.Connection, sha256s: Sequence[str]) -> dict[str, str]:
    """The status of each of these items that exists, their media rows locked until the
    transaction ends: every decision on an item reads its state after this, so two writers
    deciding at once take turns and the second sees what the first wrote.

    On PostgreSQL this is SELECT ... FOR UPDATE (in key order, so that two writers locking
    several items cannot deadlock), which also waits for any transaction that is adding a
    verdict, grading, confirmation or export of the item (their foreign keys hold a key-share
    lock on the row). SQLite needs nothing here: every write transaction starts with BEGIN
    IMMEDIATE, so writers are one at a time (``catalog.db``)."""
    query = (sa.select(media.c.sha256, media.c.status).where(media.c.sha256.in_(list(sha256s)))
             .order_by(media.c.sha256).with_for_update())
    return {sha256: str(status) for sha256, status in conn.execute(query).all()}


def classifiable_status(conn: sa.Connection, sha256: str) -> str:
    """The item's status, once it is known to exist and to be far enough along for a verdict;
    its row locked for the decision (``lock_items``)."""
    status = lock_items(conn, [sha256]).get(sha256)
    if status is None:
        raise NotFound(f"no media item {sha256!r}")
    if status in ("new", "error"):
        raise InvalidState(f"media item {sha256[:12]!r} is {status!r}; it cannot be classified yet")
    return str(status)


def current_verdicts() -> sa.Subquery:
    """The newest verdict row of every item that has one, withdrawn verdicts left out."""
    newest = (
        sa.select(sa.func.max(verdicts.c.id).label("id"))
        .where(verdicts.c.id.not_in(sa.select(verdict_withdrawals.c.verdict_id)))
        .group_by(verdicts.c.sha256)
        .subquery()
    )
    return sa.select(verdicts).join(newest, newest.c.id == verdicts.c.id).subquery("current_verdicts")


def read_decision_state(conn: sa.Connection, sha256: str) -> DecisionState:
    """Who graded and decided the item, and its newest verdict: confirmed, exported?"""
    graders = frozenset(conn.scalars(sa.select(gradings.c.actor).where(gradings.c.sha256 == sha256)))
    current = conn.execute(sa.select(verdicts).where(verdicts.c.sha256 == sha256)
                           .order_by(verdicts.c.id.desc()).limit(1)).first()
    deciders = frozenset(conn.scalars(sa.select(verdicts.c.actor).where(
        verdicts.c.sha256 == sha256, verdicts.c.source == "analyst"))) - {SYSTEM}
    confirmation = None if current is None else conn.execute(
        sa.select(confirmations.c.actor, confirmations.c.created_at)
        .where(confirmations.c.verdict_id == current.id)).first()
    sent = conn.execute(sa.select(export_items.c.destination, exports.c.created_at)
                        .join(exports, exports.c.id == export_items.c.export_id)
                        .where(export_items.c.sha256 == sha256).order_by(exports.c.created_at)).all()
    if current is None:
        return DecisionState(sha256, graders=graders, deciders=deciders,
                             exported_to=tuple(d for d, _ in sent), exported_at=sent[-1][1] if sent else None)
    return DecisionState(
        sha256, graders=graders, deciders=deciders, verdict_id=current.id, verdict=Verdict(current.verdict),
        source=current.source, actor=current.actor, decided_at=current.created_at,
        confirm_required=bool(current.confirm_required),
        confirmed_by=confirmation.actor if confirmation else None,
        confirmed_at=confirmation.created_at if confirmation else None,
        exported_to=tuple(d for d, _ in sent), exported_at=sent[-1][1] if sent else None)


def check_unchanged(conn: sa.Connection, sha256: str, seen: SeenState | None) -> DecisionState:
    """The item's decision state, read in the deciding transaction after ``lock_items``;
    ``DecidedMeanwhile`` when it is no longer the state ``seen`` (None: nothing to compare)."""
    state = read_decision_state(conn, sha256)
    if seen is not None and (change := state.changes_since(seen)) is not None:
        raise DecidedMeanwhile(sha256, change)
    return state


class ReviewMixin(Database):
    def record_matches(self, found: Sequence[MatchRecord], *, actor: str = "matcher") -> int:
        """Store matches; each matched item still awaiting a decision takes the verdict of its
        closest match (illegal before review before not-illegal, exact before near, then by
        distance) and leaves the queue, the verdict recording what produced it. An item
        whose best match decides nothing (a category its set does not map) gets no verdict:
        it stays for review, the match shown as a hint. Neither does a match only near (PDQ
        distance) in a partner's set: a partner's verdict on a look-alike is a hint for an
        analyst, not a decision.

        Returns how many items were auto-classified."""
        if not found:
            return 0
        now = utcnow()
        best: dict[str, MatchRecord] = {}
        # a match that says illegal outranks one that leaves the item to review, which
        # outranks a not-illegal one (known-benign, not pertinent): in doubt, review
        for m in sorted(found, key=lambda m: (_rank(m.verdict), m.match_type in ("pdq", "vpdq"),
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
                        verdict=REVIEW if m.verdict is None else str(m.verdict),
                        known_id=m.known_id,
                        category=m.category,
                        matched_at=now,
                        provenance=m.provenance(),
                        row_key=m.row_key,
                    )
                    for m in found
                ],
            )
            deciding = [s for s, m in best.items() if m.verdict is not None]
            undecided = set(
                conn.scalars(
                    sa.select(media.c.sha256).where(
                        media.c.sha256.in_(deciding), media.c.status.in_(("new", "hashed", "queued"))
                    )
                )
            )
            sources = {name: source for name, source in conn.execute(
                sa.select(known_sets.c.name, known_sets.c.source).where(
                    known_sets.c.name.in_({m.set_name for m in best.values()})))}
            undecided = {s for s in undecided
                         if not (best[s].match_type in NEAR_MATCHES and is_partner_source(sources.get(best[s].set_name)))}
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
                        provenance=m.provenance(),
                    )
                )
                audit(conn, actor, "verdict.auto", sha256, verdict=str(m.verdict), **m.provenance())
            if undecided:
                conn.execute(media.update().where(media.c.sha256.in_(undecided)).values(status="known"))
        return len(undecided)

    def matches_of(self, sha256: str) -> list[MatchRecord]:
        """Every known-set match recorded for an item, with what produced it."""
        with self.read() as conn:
            rows = conn.execute(sa.select(matches).where(matches.c.sha256 == sha256).order_by(matches.c.id)).all()
        return [match_from_row(dict(r._mapping)) for r in rows]

    def withdraw_verdicts(self, sha256s: Sequence[str], *, actor: str, reason: str) -> list[str]:
        """Withdraw the current automatic (known-set) verdict of each of these items and put
        the item back in the review queue (audited per item). Items whose current verdict is
        an analyst's, or that have none, are left alone. Returns the items sent back."""
        with self.write() as conn:
            return withdraw_automatic(conn, sha256s, actor=actor, reason=reason)

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
            hints: dict[str, list[str]] = {}
            for m in conn.execute(sa.select(matches).where(matches.c.sha256.in_([r.sha256 for r in rows]))
                                  .order_by(matches.c.distance, matches.c.set_name)):
                hints.setdefault(m.sha256, []).append(
                    f"{m.set_name}: {m.verdict} ({m.match_type} distance {m.distance})")
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
                hints=tuple(hints.get(r.sha256, ())),
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
                       confirm_required: bool = False, expected: SeenState | None = None,
                       rules: ReviewRules | None = None) -> int:
        """Record an analyst's verdict on an item (audited). Returns the verdict's ID.
        ``expected``: the item's decisions as the analyst saw them, ``rules``: the review
        rules ``confirm_required`` was worked out under; when either changed meanwhile the
        verdict is refused (``DecidedMeanwhile``, ``RulesChanged``)."""
        with self.write() as conn:
            status = classifiable_status(conn, sha256)
            check_unchanged(conn, sha256, expected)
            check_rules(conn, rules)
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
            sa.select(media, cv.c.verdict, cv.c.source, cv.c.set_name, cv.c.actor, cv.c.reason, cv.c.provenance)
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
                provenance=r.provenance,
            )
            for r in rows
        ]


def match_from_row(m: Mapping[str, Any]) -> MatchRecord:
    """A ``matches`` row as a ``MatchRecord`` (what produced it from its provenance)."""
    p = m.get("provenance") or {}
    evidence = p.get("match") or {}
    return MatchRecord(
        sha256=m["sha256"], set_name=m["set_name"], match_type=m["match_type"], distance=m["distance"],
        verdict=None if m["verdict"] == REVIEW else Verdict(m["verdict"]), known_id=m["known_id"],
        category=m["category"], set_version=p.get("set_version"), category_profile=p.get("category_profile"),
        quality=evidence.get("quality"), known_hash=p.get("known_hash"),
    )


def withdraw_automatic(
    conn: sa.Connection, sha256s: Sequence[str], *, actor: str, reason: str, set_name: str | None = None
) -> list[str]:
    """``withdraw_verdicts`` in ``conn``'s transaction; ``set_name``: only verdicts from that set."""
    cv = current_verdicts()
    query = (
        sa.select(cv.c.id, cv.c.sha256, cv.c.verdict, cv.c.set_name)
        .where(cv.c.sha256.in_(list(dict.fromkeys(sha256s))), cv.c.source == "known-set")
        .order_by(cv.c.sha256)
    )
    if set_name is not None:
        query = query.where(cv.c.set_name == set_name)
    rows = conn.execute(query).all()
    now = utcnow()
    for r in rows:
        conn.execute(verdict_withdrawals.insert().values(verdict_id=r.id, sha256=r.sha256, actor=actor,
                                                         reason=reason, at=now))
        audit(conn, actor, "verdict.withdraw", r.sha256, verdict_id=r.id, verdict=r.verdict, set=r.set_name,
              reason=reason)
    sent = [r.sha256 for r in rows]
    if sent:
        conn.execute(media.update().where(media.c.sha256.in_(sent)).values(status="queued"))
    return sent


def _rank(verdict: Verdict | None) -> int:
    return 2 if verdict == Verdict.NOT_ILLEGAL else 1 if verdict is None else 0


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
