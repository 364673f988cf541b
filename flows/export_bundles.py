"""export-bundles: deliver baseline and nationally illegal items not yet exported, as one
encrypted, signed bundle, to the INTERPOL drop (a directory or S3; see ``hotline.services.partner_exchange``).

Until INTERPOL's keys are configured (``HOTLINE_INTERPOL_KEYS``), the drop is
``<data_dir>/drop`` and the bundle is encrypted to the installation's own drop key, so it can
be opened with ``hotline bundle open``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.common import installation
from flows.runs import run_recorded
from hotline.services.partner_exchange import INTERPOL, export_route, interpol_route, recheck_new_material

FLOW = "export-bundles"


# No task retries: each S3 call retries within the installation's S3 budget (the one retry
# level), and what could not be delivered waits in the outbox for the next scheduled run.
@task
def deliver_pending(destination: str) -> list[dict[str, Any]]:
    inst = installation()
    route = interpol_route(inst)
    if destination != route.name:
        raise ValueError(f"export-bundles delivers to {route.name!r}; partners go through export-partners")
    recheck_new_material(inst, route, actor="export-bundles")  # new material known since: one update
    return [vars(d) for d in export_route(inst, route, actor="export-bundles")]


@flow(name=FLOW)
def export_bundles(destination: str = INTERPOL) -> dict[str, Any]:
    with run_recorded(FLOW) as run:
        deliveries = deliver_pending(destination)
        last = deliveries[-1] if deliveries else None
        create_markdown_artifact(
            key="export-bundles-summary",
            markdown="\n".join(f"- bundle `{d['bundle_id']}`: {d['items']} item(s) to {d['location']}"
                               for d in deliveries) or "Nothing to export.",
        )
        summary = {
            "destination": destination,
            "deliveries": deliveries,
            "bundle_id": last["bundle_id"] if last else None,
            "items": sum(d["items"] for d in deliveries),
            "location": last["location"] if last else None,
        }
        run.summary = summary  # for a command that started this run on the service
    return summary


if __name__ == "__main__":
    print(export_bundles())
