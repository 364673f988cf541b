"""Known-set matches people can undo: automatic verdicts sent back to review, matches a
senior analyst contests, and known rows held out of matching.

A contested match ("this known row is wrong for this item") withdraws the item's automatic
verdict, sends it back to the review queue, holds the row out of matching here, and leaves
feedback for the set's source: the hold is the queue (``feedback_sent`` empty until a
bundle to the partner or an export file carries it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from catalog.catalog import Catalog
from catalog.errors import InvalidState, NotFound
from catalog.known_sets.records import KnownHold, known_row_key
from catalog.known_sets.store import KnownSetStore

if TYPE_CHECKING:
    from classification.clusters import ClusteringConfig

CONTEST_ROLES = frozenset({"senior"})


@dataclass(frozen=True)
class Contest:
    """What contesting one match did."""

    sha256: str
    set_name: str
    row_key: str
    hold_id: int
    sent_to_review: bool  # False when the item's current verdict was not the automatic one


def send_rechecks_to_review(catalog: Catalog, *, actor: str, clustering: ClusteringConfig | None = None
                            ) -> list[str]:
    """Send back to review every automatic verdict the earlier category rule produced (see
    ``Catalog.known_rechecks``); returns the items sent back, now queued and clustered."""
    sent = catalog.send_rechecks_to_review(actor=actor)
    if sent:
        _recluster(catalog, clustering)
    return sent


def contest_match(
    catalog: Catalog, media_id: str, set_name: str, *, actor: str, reason: str,
    match_type: str | None = None, clustering: ClusteringConfig | None = None,
) -> Contest:
    """A senior analyst says the match of item ``media_id`` (ID or prefix) in ``set_name``
    is wrong: the row is held out of matching (``contested``), the item's automatic verdict
    is withdrawn and the item goes back to review; the hold waits as feedback for the
    set's source. ``match_type`` picks one of the item's matches in the set (default: the
    one that produced its verdict, else the closest)."""
    if not reason.strip():
        raise ValueError("contesting a match needs a reason")
    user = catalog.user(actor)
    if user.role not in CONTEST_ROLES or not user.active:
        raise InvalidState(f"{actor!r} is {user.role!r}: only a senior analyst contests a known-set match")
    sha256 = catalog.resolve_media_id(media_id)
    found = [m for m in catalog.matches_of(sha256) if m.set_name == set_name]
    if match_type is not None:
        found = [m for m in found if m.match_type == match_type]
    if not found:
        raise NotFound(f"item {sha256[:12]!r} has no match in known set {set_name!r}"
                       + (f" of type {match_type!r}" if match_type else ""))
    match = min(found, key=lambda m: (m.match_type in ("pdq", "vpdq"), m.distance))
    # the whole row stops matching: by its id when it has one, else by the hash that matched
    key = known_row_key("id", match.known_id) if match.known_id is not None else match.row_key
    if key is None:
        raise InvalidState(f"the match of {sha256[:12]!r} in {set_name!r} does not name its known row")
    detail: dict[str, object] = {"match": match.provenance()}
    hold_id = catalog.hold_known_row(set_name, key, kind="contested", reason=reason.strip(), actor=actor,
                                     sha256=sha256, detail=detail)
    sent = catalog.withdraw_verdicts([sha256], actor=actor, reason=f"contested match in {set_name!r}: {reason}")
    if sent:
        _recluster(catalog, clustering)
    return Contest(sha256, set_name, key, hold_id, bool(sent))


def _recluster(catalog: Catalog, clustering: ClusteringConfig | None) -> None:
    """The queue clustered again (default: ``ClusteringConfig()``). Imported here: the
    clustering brings NumPy, which the exports that read contested feedback do not need."""
    from classification.clusters import ClusteringConfig, cluster_queue

    cluster_queue(catalog, clustering if clustering is not None else ClusteringConfig())


def contested_feedback(catalog: KnownSetStore, *, source: str | None = None, unsent_only: bool = True) -> list[KnownHold]:
    """Contested matches owed to a set's source: all, or those of sets from ``source``
    (e.g. ``partner:at-hotline``), not yet sent (``unsent_only``)."""
    sources = {e.name: e.source for e in catalog.known_sets()}
    return [
        h for h in catalog.known_holds(kind="contested")
        if (source is None or sources.get(h.set_name) == source) and not (unsent_only and h.feedback_sent)
    ]


def feedback_rows(holds: list[KnownHold]) -> list[dict[str, object]]:
    """Contested matches as their source reads them: set, row, why; no item, no media, no
    URL (the source needs to know which of its rows is wrong, not what we saw)."""
    rows = []
    for h in holds:
        match = (h.detail or {}).get("match")
        info = match if isinstance(match, dict) else {}
        rows.append({
            "set": h.set_name, "row_key": h.row_key, "known_id": info.get("known_id"),
            "known_hash": info.get("known_hash"), "match_type": (info.get("match") or {}).get("type"),
            "category": info.get("category"), "set_version": info.get("set_version"),
            "reason": h.reason, "contested_at": h.created_at.isoformat() + "Z",
        })
    return rows
