"""import-statistics (coordinator): import the publishing hotlines' statistics bundles from
the statistics inbound directory or S3 prefix, keep the newest of each hotline and month,
and build the network snapshot again (``hotline.services.network_stats``). A refused bundle
(unknown sender, replayed, not newer than the month kept) is recorded with its reason.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.common import installation
from hotline.services.network_stats import poll_statistics


@task
def poll() -> dict[str, Any]:
    result = poll_statistics(installation(), actor="import-statistics")
    snapshot = result.snapshot
    return {"imported": [{"bundle": r.bundle_id, "hotline": r.hotline, "period": r.period, "replaced": r.replaced}
                         for r in result.imported],
            "refused": result.refused, "skipped": result.skipped,
            "snapshot": None if snapshot is None else {"version": snapshot.version, "path": str(snapshot.path),
                                                       "hotlines": snapshot.hotlines, "periods": snapshot.periods}}


@flow(name="import-statistics")
def import_statistics() -> dict[str, Any]:
    result = poll()
    create_table_artifact(
        key="import-statistics-summary",
        table=[{"hotline": r["hotline"], "month": r["period"], "outcome": "replaced" if r["replaced"] else "imported",
                "detail": r["bundle"]} for r in result["imported"]]
        + [{"hotline": "", "month": "", "outcome": "refused", "detail": f"{loc}: {why}"}
           for loc, why in result["refused"]],
        description="Statistics bundles handled by this poll",
    )
    return result


if __name__ == "__main__":
    print(import_statistics())
