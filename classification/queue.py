"""Triage: matched items are auto-classified, the others are queued for an analyst."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog import Catalog, MatchRecord


@dataclass(frozen=True)
class TriageResult:
    auto_classified: int  # items that took a known set's verdict: analyst views spared
    queued: int  # items now waiting for an analyst


def triage(catalog: Catalog, hashed: Sequence[str], found: Sequence[MatchRecord]) -> TriageResult:
    """Give matched items their set's verdict and queue the rest of ``hashed``."""
    auto = catalog.record_matches(found)
    matched = {m.sha256 for m in found}
    queued = catalog.queue_unmatched([s for s in hashed if s not in matched])
    return TriageResult(auto_classified=auto, queued=queued)
