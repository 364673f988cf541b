"""Purging old evidence: the media of items decided (and exported) long ago are deleted;
their hashes, verdicts and sightings stay (``hotline purge``, the retention flow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from catalog.db import utcnow
from hotline.installation import Installation


@dataclass(frozen=True)
class PurgeResult:
    candidates: int
    purged: int
    missing: int  # evidence already gone (recorded as purged all the same)
    dry_run: bool


def purge_evidence(inst: Installation, *, older_than: timedelta, actor: str, dry_run: bool = False) -> PurgeResult:
    """Delete the evidence of items decided (and, if exportable, exported) more than
    ``older_than`` ago; their hashes, verdicts and sightings stay. Audited per item."""
    candidates = inst.catalog.purge_candidates(utcnow() - older_than)
    if dry_run:
        return PurgeResult(len(candidates), 0, 0, True)
    missing = 0
    for sha256 in candidates:
        if not inst.evidence.delete(sha256):
            missing += 1
    purged = inst.catalog.mark_purged(candidates, actor=actor, reason=f"retention: decided over {older_than} ago")
    return PurgeResult(len(candidates), purged, missing, False)
