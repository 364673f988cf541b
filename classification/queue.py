"""Triage: matched items are auto-classified, the others are queued for an analyst and
grouped with their near-duplicates into clusters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog import Catalog, MatchRecord
from classification.clusters import ClusteringConfig, cluster_queue


@dataclass(frozen=True)
class TriageResult:
    auto_classified: int  # items that took a known set's verdict: analyst views spared
    queued: int  # items now waiting for an analyst
    clustered: int = 0  # queued items placed into clusters


def triage(
    catalog: Catalog,
    hashed: Sequence[str],
    found: Sequence[MatchRecord],
    clustering: ClusteringConfig = ClusteringConfig(),
) -> TriageResult:
    """Give matched items their set's verdict, queue the rest of ``hashed``, and cluster
    the queue."""
    auto = catalog.record_matches(found)
    # every hashed item without a verdict now: unmatched ones, and those a partner's set
    # matched only by distance (see ``record_matches``)
    queued = catalog.queue_unmatched(list(hashed))
    clustered = cluster_queue(catalog, clustering)
    return TriageResult(auto_classified=auto, queued=queued, clustered=clustered)
