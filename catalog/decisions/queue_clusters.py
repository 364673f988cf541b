"""The review queue in clusters: near-duplicate queued items decided together, one lease per
cluster (tables ``clusters``, ``cluster_members``, ``cluster_leases``), and the plain queue
of items waiting for an analyst.

Clustering itself (which item joins which cluster) is ``classification.clusters``; this
module stores its plans and serves the queue. Claims and splits are audited in the
transaction that makes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.db import Database, inserted_id, utcnow
from catalog.decisions.records import (
    ClusterCandidate,
    ClusterMember,
    ClusterPlan,
    ClusterSummary,
    LocalFeatures,
    PlacedPlans,
    QueueItem,
)
from catalog.errors import InvalidState, NotFound
from catalog.schema import (
    audit_log,
    cluster_leases,
    cluster_members,
    clusters,
    hashes,
    matches,
    media,
    media_features,
    reports,
    sightings,
)
from catalog.users.audit import audit

PDQ_VARIANTS = ("rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")
"""The PDQ variants hashing stores as ``pdq_<name>`` (a turned or mirrored copy's PDQ is one of them)."""

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


def check_lease(conn: sa.Connection, cluster_id: int, actor: str, now: datetime) -> None:
    """Refuse (InvalidState) unless ``actor`` holds an unexpired lease on the cluster."""
    row = conn.execute(sa.select(cluster_leases).where(cluster_leases.c.cluster_id == cluster_id)).first()
    if row is None or row.holder != actor or row.expires_at <= now:
        who = f"; {row.holder} holds it" if row is not None and row.expires_at > now else ""
        raise InvalidState(f"cluster {cluster_id} is not claimed by {actor!r}{who}")


def sightings_by_media(
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


class ClusterQueue(Database):
    """Part of ``ReviewStore``: the queue, its clusters and their leases."""

    # -- the plain queue --------------------------------------------------------------

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
            seen = sightings_by_media(conn, [r.sha256 for r in rows])
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
            variants: dict[str, list[tuple[str, str]]] = {}
            usable = [r.sha256 for r in rows if r.value and (r.quality is None or r.quality >= min_quality)]
            for chunk in range(0, len(usable), 500):
                for sha, algorithm, value in conn.execute(
                    sa.select(hashes.c.sha256, hashes.c.algorithm, hashes.c.value)
                    .where(hashes.c.sha256.in_(usable[chunk:chunk + 500]),
                           hashes.c.algorithm.in_([f"pdq_{n}" for n in PDQ_VARIANTS]))
                    .order_by(hashes.c.sha256, hashes.c.algorithm)):
                    variants.setdefault(sha, []).append((algorithm.removeprefix("pdq_"), value))
        usable_set = set(usable)
        return [
            ClusterCandidate(
                sha256=r.sha256, kind=r.kind, first_seen_at=r.first_seen_at, oldest_report_at=r.at,
                signature=r.value if r.sha256 in usable_set else None, variants=tuple(variants.get(r.sha256, ())),
            )
            for r in rows
        ]

    # -- local features -----------------------------------------------------------------
    def local_features(self, sha256s: Sequence[str]) -> dict[str, LocalFeatures]:
        """The stored local features of these items (those that have them)."""
        out: dict[str, LocalFeatures] = {}
        wanted = list(dict.fromkeys(sha256s))
        with self.read() as conn:
            for chunk in range(0, len(wanted), 500):
                for r in conn.execute(sa.select(media_features).where(
                        media_features.c.sha256.in_(wanted[chunk:chunk + 500]))):
                    out[r.sha256] = LocalFeatures(r.sha256, r.width, r.height, r.points, r.descriptors)
        return out

    def add_local_features(self, found: Sequence[LocalFeatures]) -> None:
        """Keep the local features of items (compact records, no pixels); once per item."""
        if not found:
            return
        with self.write() as conn:
            have = set(conn.scalars(sa.select(media_features.c.sha256).where(
                media_features.c.sha256.in_([f.sha256 for f in found]))))
            rows = [dict(sha256=f.sha256, width=f.width, height=f.height, points=f.points,
                         descriptors=f.descriptors) for f in found if f.sha256 not in have]
            if rows:
                conn.execute(media_features.insert(), rows)

    def decided_local_features(self) -> dict[str, LocalFeatures]:
        """The local features of items already decided by an analyst: a queued picture that
        verifies against one of them is not new content."""
        with self.read() as conn:
            return {r.sha256: LocalFeatures(r.sha256, r.width, r.height, r.points, r.descriptors)
                    for r in conn.execute(sa.select(media_features).join(media, media.c.sha256 == media_features.c.sha256)
                                          .where(media.c.status == "classified"))}

    def member_evidence(self, cluster_id: int) -> dict[str, dict[str, Any]]:
        """Why each item of a cluster joined it (stage, variant and distance or inliers, the
        member it matched); items that founded it or came before this was kept have none."""
        with self.read() as conn:
            return {sha: dict(why) for sha, why in conn.execute(
                sa.select(cluster_members.c.sha256, cluster_members.c.evidence)
                .where(cluster_members.c.cluster_id == cluster_id)) if why}

    def open_cluster_signatures(self) -> list[tuple[int, str, str | None, str]]:
        """(cluster ID, kind, representative's PDQ, representative) of every open cluster
        that can be joined: by PDQ, or (videos) by the representative's frames."""
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(  # type: ignore[misc]
                sa.select(clusters.c.id, clusters.c.kind, clusters.c.signature, clusters.c.representative)
                .where(clusters.c.status == "open",
                       sa.or_(clusters.c.signature.is_not(None), clusters.c.kind == "video")))]

    def open_cluster_faces(self, per_cluster: int = 8, min_quality: int = 50) -> list[tuple[int, str, str | None, str]]:
        """What new items are compared with: (cluster ID, kind, PDQ, member) of up to
        ``per_cluster`` queued members of every open cluster, its representative first, then
        in the order they joined (a PDQ below ``min_quality`` is left out, as for candidates)."""
        faces = [(cid, kind, sig, rep) for cid, kind, sig, rep in self.open_cluster_signatures()]
        reps = {cid: rep for cid, _, _, rep in faces}
        kinds = {cid: kind for cid, kind, _, _ in faces}
        count = dict.fromkeys(reps, 1)
        pdq = hashes.alias("pdq")
        with self.read() as conn:
            rows = conn.execute(
                sa.select(cluster_members.c.cluster_id, cluster_members.c.sha256, pdq.c.value, pdq.c.quality)
                .join(clusters, clusters.c.id == cluster_members.c.cluster_id)
                .join(media, media.c.sha256 == cluster_members.c.sha256)
                .outerjoin(pdq, sa.and_(pdq.c.sha256 == cluster_members.c.sha256, pdq.c.algorithm == "pdq"))
                .where(clusters.c.status == "open", clusters.c.kind == "image", media.c.status == "queued")
                .order_by(cluster_members.c.cluster_id, cluster_members.c.joined_at, cluster_members.c.sha256)).all()
        for cid, sha, value, quality in rows:
            if cid not in reps or sha == reps[cid] or count[cid] >= per_cluster:
                continue
            count[cid] += 1
            usable = value if value and (quality is None or quality >= min_quality) else None
            faces.append((cid, kinds[cid], usable, sha))
        return faces

    def decided_signatures(self) -> list[tuple[str, str]]:
        """(SHA-256, PDQ) of items already decided (by an analyst or a known set): a cluster
        near one of them is not new content."""
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(  # type: ignore[misc]
                sa.select(hashes.c.sha256, hashes.c.value)
                .join(media, media.c.sha256 == hashes.c.sha256)
                .where(hashes.c.algorithm == "pdq", media.c.status.in_(("classified", "known"))))]

    def apply_cluster_plans(self, plans: Sequence[ClusterPlan], candidates: Sequence[ClusterCandidate]) -> PlacedPlans:
        """Store clustering's plans in one transaction; items already placed (by a run in
        parallel) or no longer queued are left out. Returns how many items were placed and
        the cluster each plan went to (None when none of its items could be placed)."""
        info = {c.sha256: c for c in candidates}
        now = utcnow()
        placed = 0
        ids: list[int | None] = []
        with self.write() as conn:
            wanted = [s for p in plans for s, _ in p.members]
            taken = set(conn.scalars(sa.select(cluster_members.c.sha256).where(cluster_members.c.sha256.in_(wanted))))
            queued = set(conn.scalars(sa.select(media.c.sha256).where(
                media.c.sha256.in_(wanted), media.c.status == "queued")))
            for plan in plans:
                members = [(s, d) for s, d in plan.members if s not in taken and s in queued]
                if not members:
                    ids.append(None)
                    continue
                firsts = [info[s].first_seen_at for s, _ in members if s in info]
                reported = [at for s, _ in members if s in info and (at := info[s].oldest_report_at) is not None]
                cluster_id = plan.cluster_id
                if cluster_id is None:
                    cluster_id = inserted_id(conn.execute(clusters.insert().values(
                        kind=plan.kind, representative=plan.representative or members[0][0],
                        signature=plan.signature, status="open", waiting=0, novel=plan.novel,
                        similar_to=plan.similar_to, similar_evidence=dict(plan.similar_evidence or {}) or None,
                        oldest_report_at=min(reported) if reported else None,
                        first_seen_at=min(firsts) if firsts else now, split_from=plan.split_from, created_at=now,
                    )))
                elif reported:
                    current = conn.scalar(sa.select(clusters.c.oldest_report_at).where(clusters.c.id == cluster_id))
                    oldest = min([*reported, *([current] if current else [])])
                    conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(oldest_report_at=oldest))
                conn.execute(cluster_members.insert(), [
                    dict(sha256=s, cluster_id=cluster_id, distance=d, joined_at=now,
                         evidence=dict(plan.evidence[s]) if s in plan.evidence else None) for s, d in members])
                conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(
                    waiting=clusters.c.waiting + len(members), status="open", decided_at=None))
                placed += len(members)
                ids.append(int(cluster_id))
        return PlacedPlans(placed, tuple(ids))

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

    # -- the queue of clusters ---------------------------------------------------------
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
            similar_evidence=r.similar_evidence,
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

    def split_item(self, cluster_id: int, sha256: str, actor: str) -> int:
        """Move a queued item that differs out of its cluster into a cluster of its own
        (audited); ``actor`` must hold the cluster's lease. Returns the new cluster's ID."""
        now = utcnow()
        with self.write() as conn:
            check_lease(conn, cluster_id, actor, now)
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
                cluster_id=new_id, distance=0, joined_at=now, evidence=None))
            conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(waiting=clusters.c.waiting - 1))
            if parent.representative == sha256:  # the cluster keeps the nearest remaining item as its face
                nearest = conn.scalar(sa.select(cluster_members.c.sha256).where(
                    cluster_members.c.cluster_id == cluster_id).order_by(cluster_members.c.distance).limit(1))
                conn.execute(clusters.update().where(clusters.c.id == cluster_id).values(representative=nearest))
            audit(conn, actor, "cluster.split", sha256, cluster=cluster_id, new_cluster=new_id)
        return int(new_id)
