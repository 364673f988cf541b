"""retention: purge the evidence of items decided (and, if exportable, exported) more than
``retention_days`` ago (``hotline.services.evidence_purge.purge_evidence``: audited per item; items
under review and quarantined items are never touched; hashes, verdicts and sightings stay).

Does nothing while ``retention_days`` is unset, the default. Safe to kill and run again:
an item is marked purged after its evidence is deleted, and evidence already gone counts
as purged.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.common import IO_RETRIES, installation
from hotline.services.evidence_purge import purge_evidence


@task(**IO_RETRIES)
def purge(days: int, dry_run: bool) -> dict[str, Any]:
    inst = installation()
    result = purge_evidence(inst, older_than=timedelta(days=days), actor="retention", dry_run=dry_run)
    return asdict(result)


@flow(name="retention")
def retention(dry_run: bool = False) -> dict[str, Any]:
    """Purge old evidence under the installation's ``retention_days``."""
    days = installation().settings.retention_days
    if days is None:
        summary: dict[str, Any] = {"enabled": False}
        text = "Retention is off (HOTLINE_RETENTION_DAYS unset): nothing purged."
    else:
        summary = {"enabled": True, "retention_days": days, **purge(days, dry_run)}
        verb = "would purge" if dry_run else "purged"
        count = summary["candidates"] if dry_run else summary["purged"]
        text = f"Evidence decided over {days} days ago: {verb} {count} item(s)."
    create_markdown_artifact(key="retention-summary", markdown=text)
    return summary


if __name__ == "__main__":
    print(retention())
