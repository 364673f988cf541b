"""Triage: items matched in a known set, near a picture we decided, or decided by a partner
hotline (with a grading our law profiles take) are auto-classified, the others are queued for
an analyst and grouped with their near-duplicates into clusters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from catalog.catalog import Catalog
from catalog.decisions.records import OwnMatch
from catalog.known_sets.records import MatchRecord
from classification.clusters import ClusteringConfig, cluster_queue
from classification.own import adopt_decisions
from classification.partner import adopt_partner_decisions
from classification.profiles import ProfileSet


@dataclass(frozen=True)
class FloodConfig:
    """When a known row is quarantined for matching far more items than before (see
    ``Catalog.quarantine_floods``)."""

    threshold: int = 25
    window: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class TriageResult:
    auto_classified: int  # items that took a known set's verdict: analyst views spared
    queued: int  # items now waiting for an analyst
    clustered: int = 0  # queued items placed into clusters
    quarantined: int = 0  # known rows quarantined for flooding
    own_decided: int = 0  # items that took the decision of a picture we decided: analyst views spared
    ambiguous: int = 0  # items near pictures we decided differently: queued, with every match audited
    partner_decided: int = 0  # items our profiles decided from a partner's grading: analyst views spared
    partner_to_review: int = 0  # items a partner decided that go to review instead (the reason audited)


def triage(
    catalog: Catalog,
    hashed: Sequence[str],
    found: Sequence[MatchRecord],
    clustering: ClusteringConfig = ClusteringConfig(),
    flood: FloodConfig = FloodConfig(),
    own: Sequence[OwnMatch] = (),
    profiles: ProfileSet | None = None,
    partner_decided: Sequence[str] = (),
) -> TriageResult:
    """Quarantine known rows that flood, give matched items their set's verdict, give the
    items ``own`` matched to pictures we decided those decisions (``classification.own``,
    under ``profiles``; a known set's verdict comes first), give the items of
    ``partner_decided`` that a partner decided our verdict from its grading
    (``classification.partner``, under ``profiles``; after our own decisions), queue the rest
    of ``hashed`` (with the items whose matches decide nothing), and cluster the queue."""
    quarantined = catalog.quarantine_floods(found, threshold=flood.threshold, window=flood.window)
    held = {(h.set_name, h.row_key) for h in quarantined}
    # a quarantined row's matches are kept as hints; they decide nothing
    found = [replace(m, verdict=None) if (m.set_name, m.row_key) in held else m for m in found]
    auto = catalog.record_matches(found)
    adopted = adopt_decisions(catalog, own, profiles) if own and profiles is not None else None
    partners = adopt_partner_decisions(catalog, partner_decided, profiles) \
        if partner_decided and profiles is not None else None
    # items a match decided are no longer 'hashed'; the others are queued: unmatched ones,
    # those whose match decides nothing (a category its set does not map, a quarantined
    # row) and those a partner's set matched only by distance (see ``record_matches``)
    queued = catalog.queue_unmatched(list(hashed))
    clustered = cluster_queue(catalog, clustering)
    return TriageResult(auto_classified=auto, queued=queued, clustered=clustered, quarantined=len(quarantined),
                        own_decided=adopted.decided if adopted else 0, ambiguous=adopted.ambiguous if adopted else 0,
                        partner_decided=partners.decided if partners else 0,
                        partner_to_review=partners.to_review if partners else 0)
