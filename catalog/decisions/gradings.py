"""Gradings (``gradings``) and the verdicts derived from them per jurisdiction
(``jurisdiction_verdicts``): an analyst's decision on items, one grading each, recorded
with its main verdicts in one transaction; each item's history; recomputation when a law
profile changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from catalog.db import Database, inserted_id, utcnow
from catalog.decisions.queue_clusters import check_lease
from catalog.decisions.records import (
    Decision,
    GradingRecord,
    JurisdictionVerdict,
    ReviewRules,
    SeenState,
    Verdict,
)
from catalog.decisions.rules import check_rules
from catalog.decisions.verdict_rows import (
    FOLLOWERS_REASON,
    check_unchanged,
    current_verdicts,
    decided_status,
    lock_items,
    read_decision_state,
    release_followers,
)
from catalog.errors import DecidedMeanwhile, InvalidState, NotFound
from catalog.schema import (
    audit_log,
    cluster_leases,
    cluster_members,
    clusters,
    confirmations,
    export_items,
    gradings,
    jurisdiction_verdicts,
    media,
    verdicts,
)
from catalog.users.audit import audit


def current_gradings() -> sa.Subquery:
    """The newest grading of every item that has one."""
    newest = sa.select(sa.func.max(gradings.c.id).label("id")).group_by(gradings.c.sha256).subquery()
    return sa.select(gradings).join(newest, newest.c.id == gradings.c.id).subquery("current_gradings")


def grading_of(row: Any) -> GradingRecord:
    return GradingRecord(
        age_group=row.age_group, genders=tuple(row.genders), depiction=row.depiction,
        sexual_activity=bool(row.sexual_activity), genital_focus=bool(row.genital_focus),
        severity=int(row.severity), self_generated=row.self_generated, tags=tuple(row.tags),
    )


def _jurisdiction_rows(sha256: str, grading_id: int | None, found: Sequence[JurisdictionVerdict],
                       actor: str, now: datetime) -> list[dict[str, Any]]:
    return [dict(sha256=sha256, jurisdiction=j.jurisdiction, illegal=j.illegal, grading_id=grading_id,
                 profile=j.profile, profile_sha256=j.profile_sha256, rule=j.rule, source=j.source,
                 undetermined=j.undetermined, actor=actor, created_at=now) for j in found]


def _baseline_sha256(found: Sequence[JurisdictionVerdict]) -> str | None:
    return next((j.profile_sha256 for j in found if j.jurisdiction == "INTERPOL"), None)


def record_automatic_decision(conn: sa.Connection, d: Decision, *, source: str, actor: str, now: datetime,
                              reason: str, provenance: dict[str, Any], set_name: str | None = None) -> int:
    """Write a decision nobody here made (an item takes another decision's grading, ours or
    a partner's): the grading, its verdict per jurisdiction, the main verdict from
    ``source`` with ``provenance`` (where it came from), the item's status; audited as
    ``verdict.auto``. In ``conn``'s transaction, the item locked by the caller; returns
    the verdict's ID."""
    grading_id = inserted_id(conn.execute(gradings.insert().values(
        sha256=d.sha256, cluster_id=None, actor=actor, age_group=d.grading.age_group,
        genders=list(d.grading.genders), depiction=d.grading.depiction,
        sexual_activity=d.grading.sexual_activity, genital_focus=d.grading.genital_focus,
        severity=d.grading.severity, self_generated=d.grading.self_generated,
        tags=list(d.grading.tags), created_at=now)))
    conn.execute(jurisdiction_verdicts.insert(), _jurisdiction_rows(d.sha256, grading_id, d.jurisdictions, actor, now))
    verdict_id = inserted_id(conn.execute(verdicts.insert().values(
        sha256=d.sha256, verdict=str(d.verdict), source=source, actor=actor, set_name=set_name, reason=reason,
        created_at=now, grading_id=grading_id, confirm_required=False, basis="grading",
        baseline_profile_sha256=_baseline_sha256(d.jurisdictions), provenance=provenance)))
    conn.execute(media.update().where(media.c.sha256 == d.sha256).values(status=decided_status(d.verdict)))
    audit(conn, actor, "verdict.auto", d.sha256, verdict=str(d.verdict), verdict_id=verdict_id,
          grading=grading_id, jurisdictions={j.jurisdiction: j.illegal for j in d.jurisdictions}, **provenance)
    return verdict_id


DECIDED = ("classified", "escalated", "known")
"""Media statuses of an item that has a verdict."""


def _check_not_decided(conn: sa.Connection, statuses: dict[str, str]) -> None:
    """Items to decide in a cluster that someone decided meanwhile (on the command line or
    the item page) refuse the decision, ``DecidedMeanwhile`` naming who and when."""
    for sha256, status in sorted(statuses.items()):
        if status in DECIDED:
            change = read_decision_state(conn, sha256).changes_since(SeenState(None))
            raise DecidedMeanwhile(sha256, change or f"{sha256[:12]!r} was decided meanwhile")


class GradingRows(Database):
    """Part of ``ReviewStore``: gradings, decisions and their history."""

    # -- decisions ----------------------------------------------------------------------
    def record_decisions(self, cluster_id: int | None, actor: str, decisions: Sequence[Decision], *,
                         rules: ReviewRules | None = None) -> list[int]:
        """Record one decision per item (grading, jurisdiction verdicts, main verdict) in one
        transaction, each audited. With ``cluster_id``, ``actor`` must hold its lease and the
        items must be queued in it; the lease ends when the cluster has no items left.
        A decision made on a state of its item (``Decision.seen``), or under review
        ``rules``, that changed meanwhile is refused (``DecidedMeanwhile``, ``RulesChanged``),
        as is a cluster decision on an item someone decided meanwhile.
        Returns the new verdict IDs, in the order of ``decisions``."""
        now = utcnow()
        wanted = [d.sha256 for d in decisions]
        with self.write() as conn:
            statuses = lock_items(conn, wanted)
            missing = [s for s in wanted if s not in statuses]
            if missing:
                raise NotFound(f"no media item(s) {[s[:12] for s in missing]!r}")
            unready = [s[:12] for s in wanted if statuses[s] in ("new", "error")]
            if unready:
                raise InvalidState(f"media item(s) {unready!r} cannot be classified yet")
            for d in decisions:
                check_unchanged(conn, d.sha256, d.seen)
            if cluster_id is not None:
                _check_not_decided(conn, statuses)  # first: deciding them may have ended the lease
                check_lease(conn, cluster_id, actor, now)
                inside = set(conn.scalars(sa.select(cluster_members.c.sha256).where(
                    cluster_members.c.cluster_id == cluster_id, cluster_members.c.sha256.in_(wanted))))
                stray = [s[:12] for s in wanted if s not in inside or statuses[s] != "queued"]
                if stray:
                    raise InvalidState(f"item(s) {stray!r} are not waiting in cluster {cluster_id}")
            check_rules(conn, rules)
            # a handful of batched statements whatever the cluster's size
            grading_ids = [int(r.id) for r in conn.execute(
                gradings.insert().returning(gradings.c.id, sort_by_parameter_order=True),
                [dict(sha256=d.sha256, cluster_id=cluster_id, actor=actor, age_group=d.grading.age_group,
                      genders=list(d.grading.genders), depiction=d.grading.depiction,
                      sexual_activity=d.grading.sexual_activity, genital_focus=d.grading.genital_focus,
                      severity=d.grading.severity, self_generated=d.grading.self_generated,
                      tags=list(d.grading.tags), created_at=now) for d in decisions])]
            conn.execute(jurisdiction_verdicts.insert(), [
                row for d, gid in zip(decisions, grading_ids, strict=True)
                for row in _jurisdiction_rows(d.sha256, gid, d.jurisdictions, actor, now)])
            verdict_ids = [int(r.id) for r in conn.execute(
                verdicts.insert().returning(verdicts.c.id, sort_by_parameter_order=True),
                [dict(sha256=d.sha256, verdict=str(d.verdict), source="analyst", actor=actor, reason=d.reason,
                      created_at=now, grading_id=gid, confirm_required=d.confirm_required,
                      basis="hand" if d.overridden else "grading",
                      baseline_profile_sha256=_baseline_sha256(d.jurisdictions))
                 for d, gid in zip(decisions, grading_ids, strict=True)])]
            conn.execute(audit_log.insert(), [
                dict(at=now, actor=actor,
                     action="verdict.override" if d.overridden or d.amends else "verdict.record",
                     subject=d.sha256, detail=dict(
                         verdict=str(d.verdict), reason=d.reason, cluster=cluster_id, grading=gid, verdict_id=vid,
                         jurisdictions={j.jurisdiction: j.illegal for j in d.jurisdictions},
                         confirm_required=d.confirm_required, previous=statuses[d.sha256],
                         baseline_profile=_baseline_sha256(d.jurisdictions)))
                for d, gid, vid in zip(decisions, grading_ids, verdict_ids, strict=True)])
            for status in ("classified", "escalated"):
                these = [d.sha256 for d in decisions if decided_status(d.verdict) == status]
                if these:
                    conn.execute(media.update().where(media.c.sha256.in_(these)).values(status=status))
            release_followers(conn, [s for s in wanted if statuses[s] in DECIDED], actor=actor,
                              reason=FOLLOWERS_REASON)
            if cluster_id is not None:
                left = sum(1 for status in conn.scalars(
                    sa.select(media.c.status).join(cluster_members, cluster_members.c.sha256 == media.c.sha256)
                    .where(cluster_members.c.cluster_id == cluster_id)) if status == "queued")
                conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(
                    waiting=left, status="open" if left else "decided", decided_at=None if left else now))
                if not left:
                    conn.execute(cluster_leases.delete().where(cluster_leases.c.cluster_id == cluster_id))
        return verdict_ids

    # -- history, recomputation ------------------------------------------------------------
    def item_decisions(self, sha256: str) -> dict[str, Any]:
        """An item's gradings, verdicts (with confirmations) and jurisdiction verdicts, oldest
        first, and (``seen``) its decision state as they show it: what a decision made on
        this history carries."""
        with self.read() as conn:
            graded = [dict(r._mapping) for r in conn.execute(
                sa.select(gradings).where(gradings.c.sha256 == sha256).order_by(gradings.c.id))]
            decided = [dict(r._mapping) for r in conn.execute(
                sa.select(verdicts, confirmations.c.actor.label("confirmed_by"),
                          confirmations.c.created_at.label("confirmed_at"))
                .outerjoin(confirmations, confirmations.c.verdict_id == verdicts.c.id)
                .where(verdicts.c.sha256 == sha256).order_by(verdicts.c.id))]
            per = [dict(r._mapping) for r in conn.execute(
                sa.select(jurisdiction_verdicts).where(jurisdiction_verdicts.c.sha256 == sha256)
                .order_by(jurisdiction_verdicts.c.id))]
            exported = list(conn.scalars(sa.select(export_items.c.destination).where(export_items.c.sha256 == sha256)))
            seen = read_decision_state(conn, sha256).seen
        return {"gradings": graded, "verdicts": decided, "jurisdictions": per, "exported_to": exported, "seen": seen}

    def graded_items(self) -> list[dict[str, Any]]:
        """Every item with a grading: its current grading, current main verdict (and its
        source), current verdict per jurisdiction, and whether it was exported anywhere (for
        recomputation)."""
        cg, cv = current_gradings(), current_verdicts()
        newest_j = (sa.select(sa.func.max(jurisdiction_verdicts.c.id).label("id"))
                    .group_by(jurisdiction_verdicts.c.sha256, jurisdiction_verdicts.c.jurisdiction).subquery())
        with self.read() as conn:
            rows = conn.execute(
                sa.select(cg, cv.c.id.label("verdict_id"), cv.c.verdict, cv.c.grading_id.label("verdict_grading"),
                          cv.c.basis, cv.c.source.label("verdict_source")).join(cv, cv.c.sha256 == cg.c.sha256)).all()
            per: dict[str, dict[str, Any]] = {}
            for j in conn.execute(sa.select(jurisdiction_verdicts).join(newest_j, newest_j.c.id == jurisdiction_verdicts.c.id)):
                per.setdefault(j.sha256, {})[j.jurisdiction] = j
            exported = set(conn.scalars(sa.select(export_items.c.sha256).distinct()))
        return [dict(sha256=r.sha256, grading_id=r.id, grading=grading_of(r), actor=r.actor,
                     verdict_id=r.verdict_id, verdict=Verdict(r.verdict),
                     derived=r.basis == "grading" and r.verdict_grading == r.id, source=r.verdict_source,
                     jurisdictions=per.get(r.sha256, {}), exported=r.sha256 in exported) for r in rows]

    def profile_fingerprints(self) -> set[tuple[str, str]]:
        """(jurisdiction, profile SHA-256) of the profiles the current derived jurisdiction
        verdicts were made under."""
        jv = jurisdiction_verdicts
        newest = sa.select(sa.func.max(jv.c.id)).group_by(jv.c.sha256, jv.c.jurisdiction)
        with self.read() as conn:
            return {(j, s) for j, s in conn.execute(
                sa.select(jv.c.jurisdiction, jv.c.profile_sha256).where(jv.c.id.in_(newest), jv.c.source == "derived")
                .group_by(jv.c.jurisdiction, jv.c.profile_sha256))}

    def record_recomputed(self, actor: str, changes: Sequence[dict[str, Any]], profiles: dict[str, str], *,
                          requested_by: str | None = None) -> None:
        """Store recomputed verdicts: per change ``sha256``, ``grading_id``, ``jurisdictions``
        (new JurisdictionVerdicts) and optionally ``verdict`` (a new main verdict) with
        ``confirm_required``. One audit entry per item whose main verdict changed, one for the run."""
        now = utcnow()
        with self.write() as conn:
            for c in changes:
                if c["jurisdictions"]:
                    conn.execute(jurisdiction_verdicts.insert(), _jurisdiction_rows(
                        c["sha256"], c["grading_id"], c["jurisdictions"], actor, now))
                if c.get("verdict") is not None:
                    conn.execute(verdicts.insert().values(
                        sha256=c["sha256"], verdict=str(c["verdict"]), source="analyst", actor=actor,
                        reason=c["reason"], created_at=now, grading_id=c["grading_id"],
                        confirm_required=c.get("confirm_required", False), basis="grading",
                        baseline_profile_sha256=profiles.get("INTERPOL")))
                    conn.execute(media.update().where(media.c.sha256 == c["sha256"], media.c.status.in_(
                        ("classified", "escalated"))).values(status=decided_status(c["verdict"])))
                    audit(conn, actor, "verdict.recompute", c["sha256"], verdict=str(c["verdict"]),
                          previous=str(c["previous"]), reason=c["reason"])
            release_followers(conn, [c["sha256"] for c in changes if c.get("verdict") is not None], actor=actor,
                              reason=FOLLOWERS_REASON)
            audit(conn, actor, "profiles.recompute", None, profiles=profiles, items=len(changes),
                  requested_by=requested_by or actor)
