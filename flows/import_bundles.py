"""import-bundles: poll our inbound directory or S3 prefix and import every partner bundle
not seen before: verify, decrypt, file the reports for our jurisdiction (crawled by the next
process-reports run), merge the partner's baseline hashes into its known set. A refused
bundle is recorded with its reason; the poll goes on.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.common import installation
from flows.runs import run_recorded
from hotline.services.partner_exchange import poll_inbound

FLOW = "import-bundles"


# No task retries: each S3 call retries within the installation's S3 budget; the next
# scheduled poll picks up what this one could not reach.
@task
def poll() -> dict[str, Any]:
    result = poll_inbound(installation(), actor="import-bundles")
    return {"imported": [asdict(r) for r in result.imported], "refused": result.refused, "skipped": result.skipped}


@flow(name=FLOW)
def import_bundles() -> dict[str, Any]:
    with run_recorded(FLOW) as run:
        result = poll()
        create_table_artifact(
            key="import-bundles-summary",
            table=[{"bundle": r["bundle_id"], "partner": r["partner"], "outcome": "imported",
                    "detail": f"{len(r['reports_added'])} report(s), {r['hashes_added']} new hash(es)"}
                   for r in result["imported"]]
            + [{"bundle": loc, "partner": "", "outcome": "refused", "detail": why} for loc, why in result["refused"]],
            description="Partner bundles handled by this poll",
        )
        run.summary = result  # for a command that started this run on the service
    return result


if __name__ == "__main__":
    print(import_bundles())
