"""Review actions: claim a cluster, decide it with one grading, split an item off,
confirm (four-eyes), set a verdict by hand, and recompute verdicts when a law profile changes.

Plain functions over the catalog, shared by the web app (``review/``) and the command line,
so the rules hold on every path:

* who decides is an active ``analyst`` or ``senior`` (a user, not a typed name);
* the installation's review rules are read from the catalog on every decision (``four_eyes``:
  baseline and national verdicts wait for a confirmation before export);
* a decision carries the item's state as the analyst saw it and the rules it was made
  under; the catalog reads both again in the transaction that writes it, with the item
  locked, and refuses it when another writer changed either meanwhile (``DecidedMeanwhile``,
  ``RulesChanged``) instead of writing over that change;
* a decision that changes another decision's outcome is an override: it needs a reason and is
  audited as ``verdict.override``; under four-eyes it waits for a third reviewer (whoever
  confirms has neither graded nor decided the item, the catalog checks);
* changing an exported or confirmed verdict needs a senior and a reason; a changed exported
  verdict also waits for a second senior's confirmation (it goes out as a correction);
* an undetermined outcome (unclear age group or depiction) waits for a senior;
* recomputation acts as the operator account (``SYSTEM``): it never counts as anyone's look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from catalog.catalog import Catalog
from catalog.decisions.records import (
    OWN_MATCH,
    PARTNER_DECISION,
    Decision,
    DecisionState,
    GradingRecord,
    SeenState,
    Verdict,
)
from catalog.decisions.store import ReviewStore
from catalog.errors import CatalogError, ChangedMeanwhile, DecidedMeanwhile, InvalidState
from catalog.users.records import User
from catalog.users.store import MEDIA_ROLES, SYSTEM, UserStore
from classification.clusters import ClusteringConfig, cluster_queue
from classification.derive import decide, main_verdict
from classification.errors import LeaseLost, NotAllowed, ReviewError
from classification.profiles import ProfileSet


@dataclass(frozen=True)
class ReviewConfig:
    """How an installation reviews: its law profiles, lease length, queue priority and
    clustering. (The review rules, such as four-eyes, are the catalog's: ``Catalog.review_rules``.)"""

    profiles: ProfileSet
    lease: timedelta = timedelta(minutes=15)
    priority: tuple[str, ...] = ("new", "report_age")
    clustering: ClusteringConfig = ClusteringConfig()


def claim_next(catalog: ReviewStore, config: ReviewConfig, analyst: str, cluster_id: int | None = None) -> int | None:
    """Claim ``cluster_id``, or the next free cluster by priority; None when none is free."""
    return catalog.claim_cluster(analyst, lease=config.lease, cluster_id=cluster_id, priority=config.priority)


def reviewer(catalog: UserStore, name: str) -> User:
    """The active analyst or senior ``name``; NotAllowed for anyone else (including names
    that are no user)."""
    try:
        user = catalog.user(name)
    except CatalogError:
        raise NotAllowed(f"{name!r} is no user: only an analyst or a senior decides") from None
    if not user.active or user.role not in MEDIA_ROLES:
        raise NotAllowed(f"{name!r} is {'inactive' if not user.active else user.role}: only an active analyst "
                         "or senior decides")
    return user


def current_state(catalog: ReviewStore, sha256: str, expected: SeenState | None = None) -> DecisionState:
    """The item's decision state now; ``DecidedMeanwhile`` when it is no longer the one the
    analyst saw (``expected``). The catalog checks again when it writes the decision."""
    state = catalog.decision_state(sha256)
    if expected is not None and (change := state.changes_since(expected)) is not None:
        raise DecidedMeanwhile(sha256, change)
    return state


def amending(state: DecisionState, user: User, verdict: Verdict, reason: str | None,
             four_eyes: bool) -> tuple[bool, bool]:
    """(confirm_required, amends) for ``user`` giving the item in ``state`` the verdict
    ``verdict``, under the rules for an item that may have been decided before; NotAllowed
    when the rules forbid it."""
    sha256, current = state.sha256, state.verdict
    if current is Verdict.UNDETERMINED and user.role != "senior":
        raise NotAllowed(f"{sha256[:12]!r} is undetermined (unclear age group or depiction): a senior decides it")
    fixed = "exported" if state.exported else "confirmed" if state.confirmed else None
    if fixed and user.role != "senior":
        raise NotAllowed(f"the verdict of {sha256[:12]!r} was {fixed}: only a senior may change it")
    changes = current is not None and current is not verdict and current is not Verdict.UNDETERMINED
    amends = changes or fixed is not None
    if amends and not (reason and reason.strip()):
        what = f"was {fixed}" if fixed else f"is {current.value if current else None!r}"
        raise NotAllowed(f"the verdict of {sha256[:12]!r} {what}: changing it is an override and needs a reason")
    others = (state.graders | state.deciders) - {user.name}
    disagrees = changes and bool(others)  # two people saw it differently: a third one decides
    # a changed verdict of an exported item goes to every destination that had it, as a
    # correction: a second senior confirms it first, whatever the four-eyes rule
    corrects = changes and state.exported
    return corrects or (four_eyes and (verdict.exportable or disagrees)), amends


def _senior_for_undetermined(user: User, config: ReviewConfig, decision: Decision) -> None:
    """Setting a verdict by hand over an undetermined outcome is the senior's call."""
    if (decision.overridden and user.role != "senior"
            and main_verdict(decision.jurisdictions, config.profiles.home.jurisdiction) is Verdict.UNDETERMINED):
        raise NotAllowed("the grading leaves the outcome undetermined (unclear age group or depiction): "
                         "a senior decides it; record the grading without a verdict")


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
    """One grading for every item still waiting in the cluster, or for ``items`` of it (the
    ones the analyst saw: an item that joined the cluster since is left waiting, one that
    someone decided since refuses the decision, ``DecidedMeanwhile``): each gets its
    jurisdiction verdicts and main verdict. The analyst must hold the lease. Returns the
    verdict IDs."""
    user = reviewer(catalog, analyst)
    chosen = [m.sha256 for m in catalog.cluster_members(cluster_id)] if items is None else list(dict.fromkeys(items))
    if not chosen:
        raise ReviewError(f"cluster {cluster_id} has no items waiting" if items is None
                          else f"no items of cluster {cluster_id} were chosen")
    # queued items have no decision yet: only the rules and the role matter
    rules = catalog.review_rules()
    decisions = [decide(s, grading, config.profiles, verdict=verdict, reason=reason, four_eyes=rules.four_eyes)
                 for s in chosen]
    _senior_for_undetermined(user, config, decisions[0])
    try:
        return catalog.record_decisions(cluster_id, analyst, decisions, rules=rules)
    except ChangedMeanwhile:
        raise
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
    expected: SeenState | None = None,
) -> int:
    """Grade one item outside the web queue (the command line, the item page). Refused while
    another analyst holds the item's cluster, and (``DecidedMeanwhile``) when the item's
    decisions are no longer as the analyst saw them: ``expected``, or as this call found
    them."""
    user = reviewer(catalog, analyst)
    cluster_id = catalog.cluster_of(sha256)
    holder = catalog.lease_holder(cluster_id) if cluster_id is not None else None
    if holder is not None and holder != analyst:
        raise LeaseLost(f"{holder} is reviewing the cluster of {sha256[:12]!r}")
    decision = decide(sha256, grading, config.profiles, verdict=verdict, reason=reason)
    _senior_for_undetermined(user, config, decision)
    state, rules = current_state(catalog, sha256, expected), catalog.review_rules()
    confirm_required, amends = amending(state, user, decision.verdict, reason, rules.four_eyes)
    decision = replace(decision, confirm_required=confirm_required, amends=amends,
                       reason=decision.reason or (reason or "").strip() or None, seen=expected or state.seen)
    (verdict_id,) = catalog.record_decisions(None, analyst, [decision], rules=rules)
    if state.verdict_id is not None:  # items that took its earlier decision went back to review
        cluster_queue(catalog, config.clustering)
    else:
        catalog.refresh_open_clusters()
    return verdict_id


def split_item(catalog: ReviewStore, cluster_id: int, sha256: str, analyst: str) -> int:
    """Split an item that differs from the rest into a cluster of its own; returns its ID."""
    try:
        return catalog.split_item(cluster_id, sha256, analyst)
    except InvalidState as exc:
        raise _lease_error(exc) from exc


def confirm(catalog: ReviewStore, verdict_id: int, analyst: str) -> None:
    """A second analyst confirms a verdict under the four-eyes rule: an active senior who
    neither graded nor decided the item and has revealed it (the catalog checks, so every
    path does). A verdict replaced or confirmed meanwhile is ``DecidedMeanwhile``."""
    try:
        catalog.confirm_verdict(verdict_id, analyst)
    except ChangedMeanwhile:
        raise
    except (InvalidState, PermissionError) as exc:
        raise NotAllowed(str(exc)) from exc


def set_by_hand(catalog: Catalog, config: ReviewConfig, sha256: str, verdict: Verdict, analyst: str,
                reason: str, expected: SeenState | None = None) -> int:
    """Set an item's main verdict by hand (a senior's override, or an analyst's own call),
    with the reason (audited as ``verdict.override``). Under four-eyes an exportable verdict,
    or one that disagrees with another person's decision, waits for a confirmation by someone
    who has neither graded nor decided the item: a disagreement goes to a third reviewer.
    Refused (``DecidedMeanwhile``) when the item's decisions are no longer as the analyst saw
    them: ``expected``, or as this call found them."""
    if verdict is Verdict.UNDETERMINED:
        raise NotAllowed("undetermined is not a verdict to set by hand: grade the age group or depiction unclear")
    user = reviewer(catalog, analyst)
    if not (reason and reason.strip()):
        raise NotAllowed("a verdict set by hand needs a reason")
    state, rules = current_state(catalog, sha256, expected), catalog.review_rules()
    confirm_required, _ = amending(state, user, verdict, reason, rules.four_eyes)
    verdict_id = catalog.override_verdict(sha256, verdict, actor=analyst, reason=reason,
                                          confirm_required=confirm_required, expected=expected or state.seen,
                                          rules=rules)
    catalog.refresh_open_clusters()
    return verdict_id


@dataclass(frozen=True)
class RecomputeSummary:
    items: int  # graded items looked at
    jurisdiction_changes: int  # jurisdiction verdicts re-derived (a profile changed)
    verdict_changes: int  # main verdicts that changed
    kept_exported: int  # would change, but the item was exported: it stays as exported
    kept_by_hand: int  # would change, but the verdict was set by hand
    followed: int = 0  # would change, but was taken from a decided item: it follows that item's change
    partner_to_review: int = 0  # would change, but was derived from a partner's grading: sent back to review


def profiles_changed(catalog: ReviewStore, config: ReviewConfig) -> bool:
    """Whether verdicts were derived under other profile files than the ones loaded now, or
    a jurisdiction now applied has no verdicts yet (then ``recompute`` has work to do)."""
    used = catalog.profile_fingerprints()
    if not used:
        return False
    loaded = {(p.jurisdiction, p.sha256) for p in config.profiles.all}
    applied = {j for j, _ in loaded}
    return bool({u for u in used if u[0] in applied} - loaded) or bool(applied - {j for j, _ in used})


def recompute(catalog: Catalog, config: ReviewConfig, requested_by: str = SYSTEM) -> RecomputeSummary:
    """Re-derive verdicts under the current profiles. A jurisdiction verdict is re-recorded
    when its profile file changed or its outcome did; the main verdict changes only when it
    was derived (not set by hand) and the item has not been exported. The new rows are the
    operator account's (``SYSTEM``), whoever asked (``requested_by``, in the audit log): a
    recomputed verdict is nobody's look at the item, so its grader cannot confirm it."""
    four_eyes = catalog.review_rules().four_eyes
    changes = []
    kept_exported = kept_by_hand = followed = j_changes = v_changes = 0
    partner_items: list[str] = []
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
            elif item["source"] == OWN_MATCH:
                # a decision taken from a decided item follows that item: its own change
                # sends this one back to review (``release_followers``), never to a verdict
                # the operator account would record as an analyst's
                followed += 1
            elif item["source"] == PARTNER_DECISION:
                # derived from a partner's grading, nobody's look here: under the changed law
                # an analyst decides, never the operator account in an analyst's place
                partner_items.append(item["sha256"])
                continue
            else:
                names = ", ".join(f"{p.jurisdiction}@{p.sha256[:12]}" for p in config.profiles.all)
                change.update(verdict=new_main, previous=item["verdict"], reason=f"recomputed under {names}",
                              confirm_required=four_eyes and new_main.exportable)
                v_changes += 1
        if changed_j or "verdict" in change:
            j_changes += len(changed_j)
            changes.append(change)
    if changes:
        catalog.record_recomputed(SYSTEM, changes, {p.jurisdiction: p.sha256 for p in config.profiles.all},
                                  requested_by=requested_by)
    sent = catalog.withdraw_verdicts(partner_items, actor=SYSTEM, source=PARTNER_DECISION,
                                     reason="the law profiles changed the verdict derived from a partner's grading"
                                     ) if partner_items else []
    if v_changes or sent:  # items that took a changed decision went back to review
        cluster_queue(catalog, config.clustering)
    return RecomputeSummary(items=len(graded), jurisdiction_changes=j_changes, verdict_changes=v_changes,
                            kept_exported=kept_exported, kept_by_hand=kept_by_hand, followed=followed,
                            partner_to_review=len(sent))
