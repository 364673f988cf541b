"""The review queue in clusters: near-duplicate queued items decided together, one lease
per cluster, gradings and derived verdicts recorded per item, four-eyes confirmations.

Clustering itself (which item joins which cluster) is ``classification.clusters``; this
module stores its plans and serves the queue. Every decision, split, confirmation, override
and reveal is audited in the transaction that makes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.audit import audit
from catalog.db import Database, inserted_id, utcnow
from catalog.errors import DecidedMeanwhile, Forbidden, InvalidState, NotFound
from catalog.records import (
    ClusterCandidate,
    ClusterMember,
    ClusterPlan,
    ClusterSummary,
    Decision,
    DecisionState,
    GradingRecord,
    JurisdictionVerdict,
    PendingConfirmation,
    ReviewRules,
    SeenState,
    Verdict,
)
from catalog.review import check_unchanged, classifiable_status, current_verdicts, lock_items, read_decision_state
from catalog.rules import check_rules
from catalog.schema import (
    audit_log,
    cluster_leases,
    cluster_members,
    clusters,
    confirmations,
    export_items,
    gradings,
    hashes,
    jurisdiction_verdicts,
    matches,
    media,
    reports,
    sightings,
    verdicts,
)
from catalog.users import require_role

DECIDED = ("classified", "escalated", "known")
"""Media statuses of an item that has a verdict."""

PRIORITIES = ("new", "report_age", "newest_report", "size", "first_seen")
"""Keys the queue can be ordered by, in the order given (``HOTLINE_QUEUE_PRIORITY``)."""


def _order(priority: Sequence[str]) -> list[Any]:
    c = clusters.c
    keys: dict[str, list[Any]] = {
        "new": [c.novel.desc()],
        "report_age": [c.oldest_report_at.is_(None), c.oldest_report_at.asc()],
        "newest_report": [c.oldest_report_at.is_(None), c.oldest_report_at.desc()],
        "size": [c.waiting.desc()],
        "first_seen": [c.first_seen_at.asc()],
    }
    order: list[Any] = []
    for key in priority:
        if key not in keys:
            raise ValueError(f"unknown queue priority {key!r}; choose from {', '.join(PRIORITIES)}")
        order += keys[key]
    return order + [c.id.asc()]


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


def _check_not_decided(conn: sa.Connection, statuses: dict[str, str]) -> None:
    """Items to decide in a cluster that someone decided meanwhile (on the command line or
    the item page) refuse the decision, ``DecidedMeanwhile`` naming who and when."""
    for sha256, status in sorted(statuses.items()):
        if status in DECIDED:
            change = read_decision_state(conn, sha256).changes_since(SeenState(None))
            raise DecidedMeanwhile(sha256, change or f"{sha256[:12]!r} was decided meanwhile")


def decided_status(verdict: Verdict | str) -> str:
    """The media status an item takes with this verdict: an undetermined one waits for a senior."""
    return "escalated" if str(verdict) == Verdict.UNDETERMINED.value else "classified"


class ClustersMixin(Database):
    # -- clustering ---------------------------------------------------------------------
    def cluster_candidates(self, limit: int = 10_000, min_quality: int = 50) -> list[ClusterCandidate]:
        """Queued items in no cluster yet, oldest first. A PDQ below ``min_quality`` (flat or
        featureless pictures) is not used to group: such items get a cluster of their own."""
        pdq = hashes.alias("pdq")
        oldest = (sa.select(sightings.c.sha256, sa.func.min(reports.c.received_at).label("at"))
                  .join(reports, reports.c.id == sightings.c.report_id).group_by(sightings.c.sha256).subquery())
        query = (
            sa.select(media.c.sha256, media.c.kind, media.c.first_seen_at, pdq.c.value, pdq.c.quality,
                      oldest.c.at)
            .outerjoin(pdq, sa.and_(pdq.c.sha256 == media.c.sha256, pdq.c.algorithm == "pdq"))
            .outerjoin(oldest, oldest.c.sha256 == media.c.sha256)
            .outerjoin(cluster_members, cluster_members.c.sha256 == media.c.sha256)
            .where(media.c.status == "queued", cluster_members.c.sha256.is_(None))
            .order_by(media.c.first_seen_at, media.c.sha256)
            .limit(limit)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [
            ClusterCandidate(
                sha256=r.sha256, kind=r.kind, first_seen_at=r.first_seen_at, oldest_report_at=r.at,
                signature=r.value if r.value and (r.quality is None or r.quality >= min_quality) else None,
            )
            for r in rows
        ]

    def open_cluster_signatures(self) -> list[tuple[int, str, str | None, str]]:
        """(cluster ID, kind, representative's PDQ, representative) of every open cluster
        that can be joined: by PDQ, or (videos) by the representative's frames."""
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(  # type: ignore[misc]
                sa.select(clusters.c.id, clusters.c.kind, clusters.c.signature, clusters.c.representative)
                .where(clusters.c.status == "open",
                       sa.or_(clusters.c.signature.is_not(None), clusters.c.kind == "video")))]

    def decided_signatures(self) -> list[tuple[str, str]]:
        """(SHA-256, PDQ) of items already decided (by an analyst or a known set): a cluster
        near one of them is not new content."""
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(  # type: ignore[misc]
                sa.select(hashes.c.sha256, hashes.c.value)
                .join(media, media.c.sha256 == hashes.c.sha256)
                .where(hashes.c.algorithm == "pdq", media.c.status.in_(("classified", "known"))))]

    def apply_cluster_plans(self, plans: Sequence[ClusterPlan], candidates: Sequence[ClusterCandidate]) -> int:
        """Store clustering's plans in one transaction; items already placed (by a run in
        parallel) or no longer queued are left out. Returns how many items were placed."""
        info = {c.sha256: c for c in candidates}
        now = utcnow()
        placed = 0
        with self.write() as conn:
            wanted = [s for p in plans for s, _ in p.members]
            taken = set(conn.scalars(sa.select(cluster_members.c.sha256).where(cluster_members.c.sha256.in_(wanted))))
            queued = set(conn.scalars(sa.select(media.c.sha256).where(
                media.c.sha256.in_(wanted), media.c.status == "queued")))
            for plan in plans:
                members = [(s, d) for s, d in plan.members if s not in taken and s in queued]
                if not members:
                    continue
                firsts = [info[s].first_seen_at for s, _ in members if s in info]
                reported = [at for s, _ in members if s in info and (at := info[s].oldest_report_at) is not None]
                cluster_id = plan.cluster_id
                if cluster_id is None:
                    cluster_id = inserted_id(conn.execute(clusters.insert().values(
                        kind=plan.kind, representative=plan.representative or members[0][0],
                        signature=plan.signature, status="open", waiting=0, novel=plan.novel,
                        similar_to=plan.similar_to, oldest_report_at=min(reported) if reported else None,
                        first_seen_at=min(firsts) if firsts else now, split_from=plan.split_from, created_at=now,
                    )))
                elif reported:
                    current = conn.scalar(sa.select(clusters.c.oldest_report_at).where(clusters.c.id == cluster_id))
                    oldest = min([*reported, *([current] if current else [])])
                    conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(oldest_report_at=oldest))
                conn.execute(cluster_members.insert(), [
                    dict(sha256=s, cluster_id=cluster_id, distance=d, joined_at=now) for s, d in members])
                conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(
                    waiting=clusters.c.waiting + len(members), status="open", decided_at=None))
                placed += len(members)
        return placed

    def refresh_open_clusters(self) -> None:
        """Recount the queued items of open clusters (items can leave the queue by other
        paths: a verdict from the command line, a known set imported later); a cluster left
        with none is decided and its lease ends."""
        now = utcnow()
        with self.write() as conn:
            counts: dict[int, int] = dict(conn.execute(
                sa.select(cluster_members.c.cluster_id, sa.func.count())
                .join(media, media.c.sha256 == cluster_members.c.sha256)
                .where(media.c.status == "queued").group_by(cluster_members.c.cluster_id)).all())
            stale = [dict(cid=cid, n=counts.get(cid, 0)) for cid, was in conn.execute(
                sa.select(clusters.c.id, clusters.c.waiting).where(clusters.c.status == "open"))
                if counts.get(cid, 0) != was]
            if stale:
                conn.execute(clusters.update().where(clusters.c.id == sa.bindparam("cid"))
                             .values(waiting=sa.bindparam("n")), stale)
            done = sa.select(clusters.c.id).where(clusters.c.status == "open", clusters.c.waiting == 0)
            conn.execute(cluster_leases.delete().where(cluster_leases.c.cluster_id.in_(done)))
            conn.execute(clusters.update().where(clusters.c.status == "open", clusters.c.waiting == 0)
                         .values(status="decided", decided_at=now))

    # -- the queue ----------------------------------------------------------------------
    def queue_clusters(self, *, priority: Sequence[str] = ("new", "report_age"), limit: int = 50,
                       offset: int = 0, preview: int = 4) -> list[ClusterSummary]:
        """Open clusters by priority, with who holds each and its first ``preview`` items."""
        now = utcnow()
        lease = cluster_leases
        query = (
            sa.select(clusters, lease.c.holder, lease.c.expires_at)
            .outerjoin(lease, sa.and_(lease.c.cluster_id == clusters.c.id, lease.c.expires_at > now))
            .where(clusters.c.status == "open", clusters.c.waiting > 0)
            .order_by(*_order(priority)).limit(limit).offset(offset)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
            shown: dict[int, list[str]] = {}
            if rows:
                # driven by the clusters' members (the status is checked here: a filter on it in
                # SQL would lead SQLite's planner to walk every queued item)
                for cid, sha, status in conn.execute(
                    sa.select(cluster_members.c.cluster_id, cluster_members.c.sha256, media.c.status)
                    .join(media, media.c.sha256 == cluster_members.c.sha256)
                    .where(cluster_members.c.cluster_id.in_([r.id for r in rows]))
                    .order_by(cluster_members.c.cluster_id, cluster_members.c.distance, cluster_members.c.sha256)
                ):
                    if status == "queued" and len(shown.setdefault(cid, [])) < preview:
                        shown[cid].append(sha)
        return [self._summary(r, shown.get(r.id, [])) for r in rows]

    @staticmethod
    def _summary(r: Any, members: Sequence[str]) -> ClusterSummary:
        return ClusterSummary(
            id=r.id, kind=r.kind, status=r.status, items=r.waiting, representative=r.representative,
            novel=bool(r.novel), similar_to=r.similar_to, oldest_report_at=r.oldest_report_at,
            first_seen_at=r.first_seen_at, holder=r.holder, lease_expires_at=r.expires_at, members=tuple(members),
        )

    def cluster(self, cluster_id: int) -> ClusterSummary:
        now = utcnow()
        with self.read() as conn:
            row = conn.execute(
                sa.select(clusters, cluster_leases.c.holder, cluster_leases.c.expires_at)
                .outerjoin(cluster_leases, sa.and_(cluster_leases.c.cluster_id == clusters.c.id,
                                                   cluster_leases.c.expires_at > now))
                .where(clusters.c.id == cluster_id)).first()
            if row is None:
                raise NotFound(f"no cluster {cluster_id}")
            members = list(conn.scalars(
                sa.select(cluster_members.c.sha256).where(cluster_members.c.cluster_id == cluster_id)
                .order_by(cluster_members.c.distance, cluster_members.c.sha256)))
        return self._summary(row, members)

    def cluster_of(self, sha256: str) -> int | None:
        with self.read() as conn:
            return conn.scalar(sa.select(cluster_members.c.cluster_id).where(cluster_members.c.sha256 == sha256))

    def queue_counts(self) -> dict[str, int]:
        """Open clusters, items waiting, and the items known-set matching kept from the
        queue (all time and today): the analyst views it spared."""
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.read() as conn:
            open_clusters = conn.scalar(sa.select(sa.func.count()).select_from(clusters).where(
                clusters.c.status == "open", clusters.c.waiting > 0)) or 0
            queued = conn.scalar(sa.select(sa.func.count()).select_from(media).where(media.c.status == "queued")) or 0
            spared = conn.scalar(sa.select(sa.func.count()).select_from(media).where(media.c.status == "known")) or 0
            spared_today = conn.scalar(sa.select(sa.func.count()).select_from(audit_log).where(
                audit_log.c.action == "verdict.auto", audit_log.c.at >= today)) or 0
        return {"clusters": open_clusters, "queued": queued, "spared": spared, "spared_today": spared_today}

    def cluster_members(self, cluster_id: int, *, queued_only: bool = True) -> list[ClusterMember]:
        """The items of a cluster with their sightings (URLs, hosting country) and matches."""
        query = (
            sa.select(media, cluster_members.c.distance)
            .join(cluster_members, cluster_members.c.sha256 == media.c.sha256)
            .where(cluster_members.c.cluster_id == cluster_id)
            .order_by(cluster_members.c.distance, media.c.sha256)
        )
        with self.read() as conn:
            rows = [r for r in conn.execute(query).all() if r.status == "queued" or not queued_only]
            keys = [r.sha256 for r in rows]
            seen: dict[str, list[dict[str, object]]] = {}
            for s in conn.execute(sa.select(sightings).where(sightings.c.sha256.in_(keys)).order_by(sightings.c.id)):
                seen.setdefault(s.sha256, []).append(dict(
                    report_id=s.report_id, media_url=s.media_url, page_url=s.page_url, ip=s.ip,
                    country=s.country, seen_at=s.seen_at))
            found: dict[str, list[dict[str, object]]] = {}
            for m in conn.execute(sa.select(matches).where(matches.c.sha256.in_(keys)).order_by(matches.c.id)):
                found.setdefault(m.sha256, []).append(dict(
                    set_name=m.set_name, match_type=m.match_type, distance=m.distance, verdict=m.verdict))
        return [
            ClusterMember(sha256=r.sha256, kind=r.kind, mime=r.mime, size=r.size, status=r.status,
                          distance=r.distance, sightings=tuple(seen.get(r.sha256, [])),
                          matches=tuple(found.get(r.sha256, [])))
            for r in rows
        ]

    # -- leases -------------------------------------------------------------------------
    def claim_cluster(self, actor: str, *, lease: timedelta, cluster_id: int | None = None,
                      priority: Sequence[str] = ("new", "report_age")) -> int | None:
        """Claim ``cluster_id`` (or the first free open cluster by priority) for ``actor``
        until ``lease`` from now; the actor's other claims are released. Returns the cluster
        ID, or None when nothing is free. A cluster claimed by someone else whose lease has
        not expired is never taken."""
        now = utcnow()
        with self.write() as conn:
            held_by_other = sa.exists().where(
                cluster_leases.c.cluster_id == clusters.c.id, cluster_leases.c.expires_at > now,
                cluster_leases.c.holder != actor)
            query = sa.select(clusters.c.id).where(clusters.c.status == "open", clusters.c.waiting > 0, ~held_by_other)
            if cluster_id is not None:
                query = query.where(clusters.c.id == cluster_id)
            for (candidate,) in conn.execute(query.order_by(*_order(priority)).limit(20)).all():
                taken = conn.execute(cluster_leases.update().where(
                    cluster_leases.c.cluster_id == candidate,
                    sa.or_(cluster_leases.c.expires_at <= now, cluster_leases.c.holder == actor),
                ).values(holder=actor, claimed_at=now, expires_at=now + lease)).rowcount
                if not taken:
                    exists = conn.scalar(sa.select(cluster_leases.c.cluster_id).where(
                        cluster_leases.c.cluster_id == candidate))
                    if exists is not None:
                        continue
                    conn.execute(cluster_leases.insert().values(
                        cluster_id=candidate, holder=actor, claimed_at=now, expires_at=now + lease))
                conn.execute(cluster_leases.delete().where(
                    cluster_leases.c.holder == actor, cluster_leases.c.cluster_id != candidate))
                audit(conn, actor, "cluster.claim", str(candidate), until=(now + lease).isoformat() + "Z")
                return int(candidate)
        return None

    def lease_holder(self, cluster_id: int) -> str | None:
        """Who holds an unexpired lease on the cluster, if anyone."""
        with self.read() as conn:
            return conn.scalar(sa.select(cluster_leases.c.holder).where(
                cluster_leases.c.cluster_id == cluster_id, cluster_leases.c.expires_at > utcnow()))

    def release_cluster(self, cluster_id: int, actor: str) -> bool:
        with self.write() as conn:
            return bool(conn.execute(cluster_leases.delete().where(
                cluster_leases.c.cluster_id == cluster_id, cluster_leases.c.holder == actor)).rowcount)

    @staticmethod
    def _check_lease(conn: sa.Connection, cluster_id: int, actor: str, now: datetime) -> None:
        row = conn.execute(sa.select(cluster_leases).where(cluster_leases.c.cluster_id == cluster_id)).first()
        if row is None or row.holder != actor or row.expires_at <= now:
            who = f"; {row.holder} holds it" if row is not None and row.expires_at > now else ""
            raise InvalidState(f"cluster {cluster_id} is not claimed by {actor!r}{who}")

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
                self._check_lease(conn, cluster_id, actor, now)
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
            if cluster_id is not None:
                left = sum(1 for status in conn.scalars(
                    sa.select(media.c.status).join(cluster_members, cluster_members.c.sha256 == media.c.sha256)
                    .where(cluster_members.c.cluster_id == cluster_id)) if status == "queued")
                conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(
                    waiting=left, status="open" if left else "decided", decided_at=None if left else now))
                if not left:
                    conn.execute(cluster_leases.delete().where(cluster_leases.c.cluster_id == cluster_id))
        return verdict_ids

    def split_item(self, cluster_id: int, sha256: str, actor: str) -> int:
        """Move a queued item that differs out of its cluster into a cluster of its own
        (audited); ``actor`` must hold the cluster's lease. Returns the new cluster's ID."""
        now = utcnow()
        with self.write() as conn:
            self._check_lease(conn, cluster_id, actor, now)
            row = conn.execute(
                sa.select(media.c.kind, media.c.first_seen_at, media.c.status, hashes.c.value)
                .join(cluster_members, cluster_members.c.sha256 == media.c.sha256)
                .outerjoin(hashes, sa.and_(hashes.c.sha256 == media.c.sha256, hashes.c.algorithm == "pdq"))
                .where(cluster_members.c.cluster_id == cluster_id, media.c.sha256 == sha256)).first()
            if row is None or row.status != "queued":
                raise InvalidState(f"item {sha256[:12]!r} is not waiting in cluster {cluster_id}")
            total = conn.scalar(sa.select(sa.func.count()).select_from(cluster_members).where(
                cluster_members.c.cluster_id == cluster_id))
            if total == 1:
                raise InvalidState(f"item {sha256[:12]!r} is alone in cluster {cluster_id}")
            parent = conn.execute(sa.select(clusters).where(clusters.c.id == cluster_id)).one()
            new_id = inserted_id(conn.execute(clusters.insert().values(
                kind=row.kind, representative=sha256, signature=None, status="open", waiting=1, novel=parent.novel,
                similar_to=parent.similar_to, oldest_report_at=parent.oldest_report_at,
                first_seen_at=row.first_seen_at, split_from=cluster_id, created_at=now)))
            conn.execute(cluster_members.update().where(cluster_members.c.sha256 == sha256).values(
                cluster_id=new_id, distance=0, joined_at=now))
            conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(waiting=clusters.c.waiting - 1))
            if parent.representative == sha256:  # the cluster keeps the nearest remaining item as its face
                nearest = conn.scalar(sa.select(cluster_members.c.sha256).where(
                    cluster_members.c.cluster_id == cluster_id).order_by(cluster_members.c.distance).limit(1))
                conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(representative=nearest))
            audit(conn, actor, "cluster.split", sha256, cluster=cluster_id, new_cluster=new_id)
        return int(new_id)

    # -- four eyes, overrides -------------------------------------------------------------
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
        return int(verdict_id)

    def media_kind(self, sha256: str) -> str | None:
        """``image`` or ``video``; None for an unknown item."""
        with self.read() as conn:
            return conn.scalar(sa.select(media.c.kind).where(media.c.sha256 == sha256))

    def verdict_counts(self) -> dict[str, int]:
        """Items by current verdict (no media, no URLs: for every role)."""
        cv = current_verdicts()
        with self.read() as conn:
            return {v: n for v, n in conn.execute(sa.select(cv.c.verdict, sa.func.count()).group_by(cv.c.verdict))}

    # -- reveals ------------------------------------------------------------------------
    def record_reveal(self, actor: str, sha256: str, **detail: Any) -> int:
        """Audit that ``actor`` revealed an item unblurred; returns their reveals today."""
        with self.write() as conn:
            audit(conn, actor, "media.reveal", sha256, **detail)
            return self._reveals_today(conn, actor)

    def reveals_today(self, actor: str) -> int:
        with self.read() as conn:
            return self._reveals_today(conn, actor)

    @staticmethod
    def _reveals_today(conn: sa.Connection, actor: str) -> int:
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        return int(conn.scalar(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.action == "media.reveal", audit_log.c.actor == actor, audit_log.c.at >= today)) or 0)

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
        """Every item with a grading: its current grading, current main verdict, current
        verdict per jurisdiction, and whether it was exported anywhere (for recomputation)."""
        cg, cv = current_gradings(), current_verdicts()
        newest_j = (sa.select(sa.func.max(jurisdiction_verdicts.c.id).label("id"))
                    .group_by(jurisdiction_verdicts.c.sha256, jurisdiction_verdicts.c.jurisdiction).subquery())
        with self.read() as conn:
            rows = conn.execute(
                sa.select(cg, cv.c.id.label("verdict_id"), cv.c.verdict, cv.c.grading_id.label("verdict_grading"),
                          cv.c.basis).join(cv, cv.c.sha256 == cg.c.sha256)).all()
            per: dict[str, dict[str, Any]] = {}
            for j in conn.execute(sa.select(jurisdiction_verdicts).join(newest_j, newest_j.c.id == jurisdiction_verdicts.c.id)):
                per.setdefault(j.sha256, {})[j.jurisdiction] = j
            exported = set(conn.scalars(sa.select(export_items.c.sha256).distinct()))
        return [dict(sha256=r.sha256, grading_id=r.id, grading=grading_of(r), actor=r.actor,
                     verdict_id=r.verdict_id, verdict=Verdict(r.verdict),
                     derived=r.basis == "grading" and r.verdict_grading == r.id,
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
            audit(conn, actor, "profiles.recompute", None, profiles=profiles, items=len(changes),
                  requested_by=requested_by or actor)

