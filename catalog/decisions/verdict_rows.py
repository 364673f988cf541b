"""Verdicts (``verdicts``, ``verdict_withdrawals``) and their four-eyes confirmations
(``confirmations``): a verdict row is never changed; a new decision is a new row, and an
item's current verdict is its newest row that was not withdrawn.

Every decision on an item locks it (``lock_items``) and reads its state again in the
transaction that writes it (``check_unchanged``): a decision made on a state another writer
changed meanwhile is refused (``DecidedMeanwhile``), never written over that change.
Withdrawing an automatic (known-set) verdict sends its item back to review, and so does any
new decision on an item whose decision other items took (``release_followers``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from catalog.db import Database, inserted_id, utcnow
from catalog.decisions.queue_clusters import sightings_by_media
from catalog.decisions.records import (
    OWN_MATCH,
    DecisionState,
    ItemOutcome,
    PendingConfirmation,
    ReviewRules,
    SeenState,
    Verdict,
)
from catalog.decisions.rules import check_rules
from catalog.errors import DecidedMeanwhile, Forbidden, InvalidState, NotFound
from catalog.schema import (
    audit_log,
    confirmations,
    export_items,
    exports,
    gradings,
    media,
    sightings,
    verdict_withdrawals,
    verdicts,
)
from catalog.users.audit import audit
from catalog.users.store import SYSTEM, require_role


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
    """Who graded and decided the item, and its current verdict (the newest one not
    withdrawn): confirmed, exported? A withdrawn verdict is no decision to override: the item
    went back to review to be decided afresh."""
    graders = frozenset(conn.scalars(sa.select(gradings.c.actor).where(gradings.c.sha256 == sha256)))
    withdrawn = sa.select(verdict_withdrawals.c.verdict_id).where(verdict_withdrawals.c.sha256 == sha256)
    current = conn.execute(sa.select(verdicts).where(verdicts.c.sha256 == sha256, verdicts.c.id.not_in(withdrawn))
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


def decided_status(verdict: Verdict | str) -> str:
    """The media status an item takes with this verdict: an undetermined one waits for a senior."""
    return "escalated" if str(verdict) == Verdict.UNDETERMINED.value else "classified"


def withdraw_automatic(
    conn: sa.Connection, sha256s: Sequence[str], *, actor: str, reason: str, set_name: str | None = None,
    source: str = "known-set",
) -> list[str]:
    """``withdraw_verdicts`` in ``conn``'s transaction; ``set_name``: only verdicts from that
    set (or, for ``source`` ``partner``, that partner)."""
    cv = current_verdicts()
    query = (
        sa.select(cv.c.id, cv.c.sha256, cv.c.verdict, cv.c.set_name)
        .where(cv.c.sha256.in_(list(dict.fromkeys(sha256s))), cv.c.source == source)
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


def release_followers(conn: sa.Connection, sources: Sequence[str], *, actor: str, reason: str) -> list[str]:
    """Send back to review every item whose current verdict was taken from one of these
    items' decisions (source ``own-match``), in ``conn``'s transaction: called by every write
    that gives one of them a new verdict (a correction, an override, a recomputation, a new
    verdict waiting for its confirmation). The followers' verdicts are withdrawn (audited per
    item) and they are queued again, for an analyst; none is re-derived from the new
    decision, which may itself be wrong or unconfirmed yet. Returns the items sent back.

    Only items decided before can have followers, so callers pass those alone; the lookup
    reads the ``own-match`` verdicts (corrections are rare, first decisions many)."""
    wanted = list(dict.fromkeys(sources))
    if not wanted:
        return []
    origin = verdicts.c.provenance["source_sha256"].as_string()
    rows = conn.execute(sa.select(verdicts.c.id, verdicts.c.sha256, verdicts.c.verdict, origin.label("origin"))
                        .where(verdicts.c.source == OWN_MATCH, origin.in_(wanted))).all()
    if not rows:
        return []
    followers = sorted({r.sha256 for r in rows})
    lock_items(conn, followers)
    newest = dict(conn.execute(
        sa.select(verdicts.c.sha256, sa.func.max(verdicts.c.id))
        .where(verdicts.c.sha256.in_(followers),
               verdicts.c.id.not_in(sa.select(verdict_withdrawals.c.verdict_id)))
        .group_by(verdicts.c.sha256)).tuples().all())
    now = utcnow()
    sent = []
    for r in sorted(rows, key=lambda r: r.sha256):
        if newest.get(r.sha256) != r.id:  # no longer its current verdict
            continue
        conn.execute(verdict_withdrawals.insert().values(verdict_id=r.id, sha256=r.sha256, actor=actor,
                                                         reason=reason, at=now))
        audit(conn, actor, "verdict.withdraw", r.sha256, verdict_id=r.id, verdict=r.verdict, source=r.origin,
              reason=reason)
        sent.append(r.sha256)
    if sent:
        conn.execute(media.update().where(media.c.sha256.in_(sent)).values(status="queued"))
    return sent


FOLLOWERS_REASON = "the decision it was taken from changed: back to review"


class VerdictRows(Database):
    """Part of ``ReviewStore``: verdicts, withdrawals and confirmations."""

    # -- verdicts ----------------------------------------------------------------------
    def withdraw_verdicts(self, sha256s: Sequence[str], *, actor: str, reason: str, source: str = "known-set",
                          set_name: str | None = None) -> list[str]:
        """Withdraw the current automatic verdict (from ``source``: a known set's, or a
        partner's decision) of each of these items and put the item back in the review queue
        (audited per item). Items whose current verdict is an analyst's, or another
        source's, or that have none, are left alone. Returns the items sent back."""
        with self.write() as conn:
            return withdraw_automatic(conn, sha256s, actor=actor, reason=reason, source=source, set_name=set_name)

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
            if status in ("classified", "escalated"):
                release_followers(conn, [sha256], actor=actor, reason=FOLLOWERS_REASON)
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
            seen = sightings_by_media(conn, [r.sha256 for r in rows], report_ids)
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

    # -- an item's decision state; four eyes, overrides -------------------------------------
    def decision_state(self, sha256: str) -> DecisionState:
        """Who has graded and decided the item, and its current verdict: whether it was
        confirmed or exported (the rules for a new decision depend on these). A decision
        made on it carries its ``seen`` back, so that a change meanwhile refuses it."""
        with self.read() as conn:
            return read_decision_state(conn, sha256)

    def confirm_verdict(self, verdict_id: int, actor: str) -> None:
        """A second analyst confirms a verdict (four-eyes; audited). The confirmer is an active
        senior who neither graded nor decided the item and has revealed it (an audited
        ``media.reveal``); the verdict must still be the item's current one
        (``DecidedMeanwhile`` otherwise: it was replaced meanwhile) and not confirmed yet."""
        with self.write() as conn:
            row = conn.execute(sa.select(verdicts).where(verdicts.c.id == verdict_id)).first()
            if row is None:
                raise NotFound(f"no verdict {verdict_id}")
            lock_items(conn, [row.sha256])
            state = read_decision_state(conn, row.sha256)
            if state.verdict_id != verdict_id:
                raise DecidedMeanwhile(row.sha256, f"verdict {verdict_id} is no longer current: "
                                                   f"{state.changes_since(SeenState(verdict_id))}")
            require_role(conn, actor, {"senior"}, "confirm a verdict")
            if actor in state.graders or actor in state.deciders:
                raise Forbidden(f"{actor!r} graded or decided {row.sha256[:12]!r}: a confirmation needs "
                                "someone who did neither")
            if not conn.scalar(sa.select(audit_log.c.id).where(
                    audit_log.c.action == "media.reveal", audit_log.c.actor == actor,
                    audit_log.c.subject == row.sha256).limit(1)):
                raise Forbidden(f"{actor!r} has not opened {row.sha256[:12]!r}: reveal the item before confirming it")
            if not row.confirm_required:
                raise InvalidState(f"verdict {verdict_id} needs no confirmation")
            if state.confirmed:
                raise InvalidState(f"verdict {verdict_id} is confirmed already, by {state.confirmed_by}"
                                   f" at {state.confirmed_at:%Y-%m-%d %H:%M:%S} UTC")
            conn.execute(confirmations.insert().values(verdict_id=verdict_id, sha256=row.sha256, actor=actor,
                                                       created_at=utcnow()))
            audit(conn, actor, "verdict.confirm", row.sha256, verdict_id=verdict_id, verdict=row.verdict,
                  first=row.actor)

    def override_verdict(self, sha256: str, verdict: Verdict, *, actor: str, reason: str,
                         confirm_required: bool = False, expected: SeenState | None = None,
                         rules: ReviewRules | None = None) -> int:
        """Set an item's verdict by hand, with the reason (audited as ``verdict.override``);
        the item's grading stays as it was. Returns the verdict's ID. ``expected``: the
        item's decisions as the analyst saw them, ``rules``: the review rules
        ``confirm_required`` was worked out under; when either changed meanwhile the verdict
        is refused (``DecidedMeanwhile``, ``RulesChanged``)."""
        if not reason.strip():
            raise ValueError("a verdict set by hand needs a reason")
        now = utcnow()
        with self.write() as conn:
            classifiable_status(conn, sha256)
            check_unchanged(conn, sha256, expected)
            check_rules(conn, rules)
            previous = conn.execute(sa.select(verdicts.c.id, verdicts.c.verdict, verdicts.c.grading_id,
                                              verdicts.c.baseline_profile_sha256)
                                    .where(verdicts.c.sha256 == sha256).order_by(verdicts.c.id.desc()).limit(1)).first()
            verdict_id = inserted_id(conn.execute(verdicts.insert().values(
                sha256=sha256, verdict=str(verdict), source="analyst", actor=actor, reason=reason.strip(),
                created_at=now, grading_id=previous.grading_id if previous else None,
                confirm_required=confirm_required, basis="hand")))
            conn.execute(media.update().where(media.c.sha256 == sha256).values(status=decided_status(verdict)))
            audit(conn, actor, "verdict.override", sha256, verdict=str(verdict), reason=reason.strip(),
                  previous=previous.verdict if previous else None, previous_id=previous.id if previous else None,
                  confirm_required=confirm_required)
            if previous is not None:
                release_followers(conn, [sha256], actor=actor, reason=FOLLOWERS_REASON)
        return int(verdict_id)

    def pending_confirmations(self, limit: int = 200) -> list[PendingConfirmation]:
        """Current exportable verdicts that need a second analyst and have none yet."""
        cv = current_verdicts()
        query = (sa.select(cv).where(cv.c.confirm_required.is_(True),
                                     cv.c.id.not_in(sa.select(confirmations.c.verdict_id)))
                 .order_by(cv.c.id).limit(limit))
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [PendingConfirmation(verdict_id=r.id, sha256=r.sha256, verdict=Verdict(r.verdict), actor=r.actor,
                                    reason=r.reason, created_at=r.created_at) for r in rows]

    def escalated_items(self, limit: int = 200) -> list[PendingConfirmation]:
        """Items whose current verdict is undetermined: they wait for a senior."""
        cv = current_verdicts()
        query = sa.select(cv).where(cv.c.verdict == Verdict.UNDETERMINED.value).order_by(cv.c.id).limit(limit)
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [PendingConfirmation(verdict_id=r.id, sha256=r.sha256, verdict=Verdict(r.verdict), actor=r.actor,
                                    reason=r.reason, created_at=r.created_at) for r in rows]

    def verdict_counts(self) -> dict[str, int]:
        """Items by current verdict (no media, no URLs: for every role)."""
        cv = current_verdicts()
        with self.read() as conn:
            return {v: n for v, n in conn.execute(sa.select(cv.c.verdict, sa.func.count()).group_by(cv.c.verdict))}
