"""Review actions: claim a cluster, decide it with one grading, split an item off,
confirm (four-eyes), set a verdict by hand, and recompute verdicts when a law profile changes.

Plain functions over the catalog, shared by the web app (``review/``) and the command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from catalog import Catalog, Verdict
from catalog.errors import InvalidState
from catalog.records import GradingRecord
from classification.clusters import ClusteringConfig
from classification.derive import decide, main_verdict
from classification.errors import LeaseLost, NotAllowed, ReviewError
from classification.profiles import ProfileSet


@dataclass(frozen=True)
class ReviewConfig:
    """How an installation reviews: its law profiles, the four-eyes rule, lease length,
    queue priority and clustering."""

    profiles: ProfileSet
    four_eyes: bool = False
    lease: timedelta = timedelta(minutes=15)
    priority: tuple[str, ...] = ("new", "report_age")
    clustering: ClusteringConfig = ClusteringConfig()


def claim_next(catalog: Catalog, config: ReviewConfig, analyst: str, cluster_id: int | None = None) -> int | None:
    """Claim ``cluster_id``, or the next free cluster by priority; None when none is free."""
    return catalog.claim_cluster(analyst, lease=config.lease, cluster_id=cluster_id, priority=config.priority)


def _lease_error(exc: InvalidState) -> ReviewError:
    return LeaseLost(str(exc)) if "not claimed" in str(exc) else ReviewError(str(exc))


def decide_cluster(
    catalog: Catalog,
    config: ReviewConfig,
    cluster_id: int,
    analyst: str,
    grading: GradingRecord,
    *,
    verdict: Verdict | None = None,
    reason: str | None = None,
    items: Sequence[str] | None = None,
) -> list[int]:
    """One grading for every item still waiting in the cluster (or for ``items`` of it):
    each gets its jurisdiction verdicts and main verdict. The analyst must hold the lease.
    Returns the verdict IDs."""
    waiting = [m.sha256 for m in catalog.cluster_members(cluster_id)]
    chosen = waiting if items is None else [s for s in waiting if s in set(items)]
    if not chosen:
        raise ReviewError(f"cluster {cluster_id} has no items waiting" if items is None
                          else f"none of those items is waiting in cluster {cluster_id}")
    decisions = [decide(s, grading, config.profiles, verdict=verdict, reason=reason, four_eyes=config.four_eyes)
                 for s in chosen]
    try:
        return catalog.record_decisions(cluster_id, analyst, decisions)
    except InvalidState as exc:
        raise _lease_error(exc) from exc


def decide_item(
    catalog: Catalog,
    config: ReviewConfig,
    sha256: str,
    analyst: str,
    grading: GradingRecord,
    *,
    verdict: Verdict | None = None,
    reason: str | None = None,
) -> int:
    """Grade one item outside the web queue (the command line). Refused while another
    analyst holds the item's cluster."""
    cluster_id = catalog.cluster_of(sha256)
    holder = catalog.lease_holder(cluster_id) if cluster_id is not None else None
    if holder is not None and holder != analyst:
        raise LeaseLost(f"{holder} is reviewing the cluster of {sha256[:12]!r}")
    decision = decide(sha256, grading, config.profiles, verdict=verdict, reason=reason, four_eyes=config.four_eyes)
    (verdict_id,) = catalog.record_decisions(None, analyst, [decision])
    catalog.refresh_open_clusters()
    return verdict_id


def split_item(catalog: Catalog, cluster_id: int, sha256: str, analyst: str) -> int:
    """Split an item that differs from the rest into a cluster of its own; returns its ID."""
    try:
        return catalog.split_item(cluster_id, sha256, analyst)
    except InvalidState as exc:
        raise _lease_error(exc) from exc


def confirm(catalog: Catalog, verdict_id: int, analyst: str) -> None:
    """A second analyst confirms a verdict under the four-eyes rule."""
    try:
        catalog.confirm_verdict(verdict_id, analyst)
    except InvalidState as exc:
        raise NotAllowed(str(exc)) from exc


def set_by_hand(catalog: Catalog, config: ReviewConfig, sha256: str, verdict: Verdict, analyst: str,
                reason: str) -> int:
    """Set an item's main verdict by hand (a senior's override, or an analyst's own call),
    with the reason. Under four-eyes an exportable verdict needs a second analyst unless the
    one setting it is not the one who graded the item: then two people have looked."""
    graded_by = {g["actor"] for g in catalog.item_decisions(sha256)["gradings"]}
    needs_second = config.four_eyes and verdict.exportable and (not graded_by or analyst in graded_by)
    verdict_id = catalog.override_verdict(sha256, verdict, actor=analyst, reason=reason,
                                          confirm_required=needs_second)
    catalog.refresh_open_clusters()
    return verdict_id


@dataclass(frozen=True)
class RecomputeSummary:
    items: int  # graded items looked at
    jurisdiction_changes: int  # jurisdiction verdicts re-derived (a profile changed)
    verdict_changes: int  # main verdicts that changed
    kept_exported: int  # would change, but the item was exported: it stays as exported
    kept_by_hand: int  # would change, but the verdict was set by hand


def profiles_changed(catalog: Catalog, config: ReviewConfig) -> bool:
    """Whether verdicts were derived under other profile files than the ones loaded now, or
    a jurisdiction now applied has no verdicts yet (then ``recompute`` has work to do)."""
    used = catalog.profile_fingerprints()
    if not used:
        return False
    loaded = {(p.jurisdiction, p.sha256) for p in config.profiles.all}
    applied = {j for j, _ in loaded}
    return bool({u for u in used if u[0] in applied} - loaded) or bool(applied - {j for j, _ in used})


def recompute(catalog: Catalog, config: ReviewConfig, actor: str) -> RecomputeSummary:
    """Re-derive verdicts under the current profiles. A jurisdiction verdict is re-recorded
    when its profile file changed or its outcome did; the main verdict changes only when it
    was derived (not set by hand) and the item has not been exported."""
    changes = []
    kept_exported = kept_by_hand = j_changes = v_changes = 0
    graded = catalog.graded_items()
    for item in graded:
        fresh = config.profiles.evaluate(item["grading"])
        current = item["jurisdictions"]
        changed_j = [j for j in fresh if j.jurisdiction not in current
                     or (current[j.jurisdiction].source == "derived"
                         and (current[j.jurisdiction].profile_sha256 != j.profile_sha256
                              or bool(current[j.jurisdiction].illegal) != j.illegal))]
        new_main = main_verdict(fresh, config.profiles.home.jurisdiction)
        change: dict[str, object] = {"sha256": item["sha256"], "grading_id": item["grading_id"],
                                     "jurisdictions": changed_j}
        if new_main != item["verdict"]:
            if item["exported"]:
                kept_exported += 1
            elif not item["derived"]:
                kept_by_hand += 1
            else:
                names = ", ".join(f"{p.jurisdiction}@{p.sha256[:12]}" for p in config.profiles.all)
                change.update(verdict=new_main, previous=item["verdict"], reason=f"recomputed under {names}",
                              confirm_required=config.four_eyes and new_main.exportable)
                v_changes += 1
        if changed_j or "verdict" in change:
            j_changes += len(changed_j)
            changes.append(change)
    if changes:
        catalog.record_recomputed(actor, changes, {p.jurisdiction: p.sha256 for p in config.profiles.all})
    return RecomputeSummary(items=len(graded), jurisdiction_changes=j_changes, verdict_changes=v_changes,
                            kept_exported=kept_exported, kept_by_hand=kept_by_hand)
