"""process-report: crawl each pending report, hash what it found, match the hashes against
the known sets, and queue the unknown items for review.

Tasks pass references (report IDs, SHA-256s), never media. Each crawl runs in its own
process; crawls of several reports run concurrently.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from catalog import MatchRecord
from classification import triage
from flows.common import installation
from hashing import hash_stored_media, match_stored_media
from spiders import crawl


@task
def claim_reports(report_ids: list[int] | None, limit: int) -> list[int]:
    catalog = installation().catalog
    return [r.id for r in catalog.claim_pending_reports(limit=limit, ids=report_ids)]


@task(retries=1, retry_delay_seconds=5)
def crawl_report(report_id: int) -> int:
    """Crawl one report into the evidence store; returns how many media items it found."""
    inst = installation()
    report = inst.catalog.get_report(report_id)
    result = crawl(inst.crawl_request(report), inst.settings.evidence_dir, inst.settings.data_key_file)
    inst.catalog.record_crawl(report_id, result)
    return len(result.media)


@task
def hash_media(report_ids: list[int]) -> list[str]:
    """Hash the new media of these reports (images and videos, by their bytes); returns
    the SHA-256s hashed."""
    inst = installation()
    batch = hash_stored_media(
        inst.evidence.get, inst.catalog.media_of_reports(report_ids, status="new"), inst.media_config()
    )
    inst.catalog.record_hashes(batch.records, batch.frames)
    for sha256, reason in batch.failed.items():
        inst.catalog.mark_media_error(sha256, reason, report_ids)
    return batch.hashed


@task
def match_media(sha256s: list[str]) -> list[MatchRecord]:
    """Match hashed items against the enabled known sets (videos the vPDQ way)."""
    inst = installation()
    s = inst.settings
    return match_stored_media(
        inst.catalog, sha256s, min_quality=s.pdq_min_quality, vpdq_threshold=s.vpdq_threshold
    )


@task
def queue_media(sha256s: list[str], found: list[MatchRecord]) -> dict[str, int]:
    result = triage(installation().catalog, sha256s, found)
    return {"auto_classified": result.auto_classified, "queued": result.queued}


@task
def finish_reports(report_ids: list[int]) -> dict[str, Any]:
    """Close each report: ``failed`` when nothing could be collected and errors say why."""
    catalog = installation().catalog
    statuses: dict[int, str] = {}
    error_count = 0
    for report_id in report_ids:
        errors = catalog.report_errors(report_id)
        error_count += len(errors)
        failed = not catalog.media_of_reports([report_id]) and bool(errors)
        catalog.finish_report(report_id, failed=failed, error=errors[0].reason if failed else None)
        statuses[report_id] = "failed" if failed else "done"
    return {"statuses": statuses, "errors": error_count}


@flow(name="process-report")
def process_report(report_ids: list[int] | None = None, limit: int = 100) -> dict[str, Any]:
    """Process the given reports, or up to ``limit`` pending ones."""
    claimed = claim_reports(report_ids, limit)
    media = sum(crawl_report.map(claimed).result()) if claimed else 0
    hashed = hash_media(claimed)
    found = match_media(hashed)
    counts = queue_media(hashed, found)
    closed = finish_reports(claimed)
    summary = {"reports": claimed, "media": media, "hashed": len(hashed), **counts, **closed}
    create_table_artifact(
        key="process-report-summary",
        table=[{"figure": k, "value": str(v)} for k, v in summary.items()],
        description="What this run of process-report did",
    )
    return summary


if __name__ == "__main__":
    print(process_report())
