"""recheck-takedowns: fetch again the URLs where confirmed material (current verdict
baseline or national) was seen, and record whether it is still up, changed, missing or
(missing at enough consecutive checks) removed.

One task, one worker process for the whole batch: the logic is ``spiders.takedown_recheck``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.common import installation
from flows.runs import run_recorded
from spiders.takedown_recheck import recheck_confirmed

FLOW = "recheck-takedowns"


@task(retries=1, retry_delay_seconds=30)
def recheck_urls(limit: int | None) -> dict[str, int]:
    inst = installation()
    summary = recheck_confirmed(inst.catalog, inst.recheck_request, limit=limit or inst.settings.recheck_limit,
                                removed_after=inst.settings.recheck_removed_after)
    return asdict(summary)


@flow(name=FLOW)
def recheck_takedowns(limit: int | None = None) -> dict[str, Any]:
    """Re-check up to ``limit`` URLs (default: the ``recheck_limit`` setting)."""
    with run_recorded(FLOW) as run:
        summary: dict[str, Any] = recheck_urls(limit)
        create_table_artifact(
            key="recheck-takedowns-summary",
            table=[{"outcome": k, "urls": str(v)} for k, v in summary.items()],
            description="What this run of recheck-takedowns found",
        )
        run.summary = summary  # for a command that started this run on the service
    return summary


if __name__ == "__main__":
    print(recheck_takedowns())
