"""publish-statistics: send our media-free statistics of the last ``HOTLINE_STATS_PUBLISH_MONTHS``
months to the network's coordinator (``HOTLINE_STATS_COORDINATOR``), one signed, encrypted
statistics bundle a month (``hotline.services.network_stats``). Months are sent again on every
run, so a late report or a changed verdict reaches the network figures: the coordinator keeps
the newest statistics of each month and drops the older.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.common import IO_RETRIES, installation
from hotline.services.network_stats import publish_statistics


@task(**IO_RETRIES)
def publish(months: int | None) -> list[dict[str, Any]]:
    inst = installation()
    last = months or inst.settings.stats_publish_months
    return [asdict(p) for p in publish_statistics(inst, last=last, actor="publish-statistics")]


@flow(name="publish-statistics")
def publish_statistics_flow(months: int | None = None) -> list[dict[str, Any]]:
    """Publish the statistics of the last ``months`` months (default: the setting)."""
    published = publish(months)
    create_table_artifact(
        key="publish-statistics-summary",
        table=[{"month": p["period"], "bundle": p["bundle_id"], "bytes": p["size"],
                "reports": p["rows"]["report_facts"], "location": p["location"]} for p in published],
        description="Statistics bundles sent to the coordinator",
    )
    return published


if __name__ == "__main__":
    print(publish_statistics_flow())
