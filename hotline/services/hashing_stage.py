"""The hashing stage of process-report, fault-tolerant: one batch of stored items hashed,
recorded, and each failure sorted into permanent (quarantined now, with its reason) or
transient (the evidence store unreachable: the item stays ``new``, is counted, and is tried
again by the next run until ``quarantine_after``; see ``catalog.media_items.store``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evidence import EvidenceUnavailable
from hashing import hash_stored_media
from hotline.installation import Installation


@dataclass(frozen=True)
class HashOutcome:
    hashed: list[str]  # SHA-256s hashed and recorded
    failed: int  # quarantined now: the item itself is bad
    deferred: int  # the store failed: tried again by a later run
    quarantined: int  # deferred too often: quarantined now


class _Loader:
    """Wraps the store's ``get``, noting which items failed because the store did."""

    def __init__(self, get: Callable[[str], bytes]) -> None:
        self.get = get
        self.unavailable: set[str] = set()

    def __call__(self, sha256: str) -> bytes:
        try:
            return self.get(sha256)
        except EvidenceUnavailable:
            self.unavailable.add(sha256)
            raise


def hash_batch(inst: Installation, sha256s: Sequence[str], report_ids: Sequence[int]) -> HashOutcome:
    """Hash those of ``sha256s`` (seen in ``report_ids``) still ``new`` and record the
    hashes and the failures; a retried batch skips what its first attempt recorded."""
    catalog = inst.catalog
    pending = catalog.media_in_status(sha256s, "new")
    load = _Loader(inst.evidence.get)
    batch = hash_stored_media(load, [s for s in sha256s if s in pending], inst.media_config())
    catalog.record_hashes(batch.records, batch.frames)
    for sha256, reason in batch.incomplete.items():
        catalog.record_media_reason(sha256, reason, report_ids)
    failed = deferred = quarantined = 0
    for sha256, reason in batch.failed.items():
        if sha256 not in load.unavailable:
            catalog.mark_media_error(sha256, reason, report_ids)
            failed += 1
        elif catalog.record_transient_failure(
            sha256, reason, report_ids, quarantine_after=inst.settings.quarantine_after
        ):
            quarantined += 1
        else:
            deferred += 1
    return HashOutcome(batch.hashed, failed, deferred, quarantined)
