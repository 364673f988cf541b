"""export-bundles: deliver baseline and nationally illegal items not yet exported, as one
encrypted, signed bundle, to the INTERPOL drop.

Until recipients are configured (a later issue), the drop is ``<data_dir>/drop`` and the
bundle is encrypted to the installation's own drop key, so it can be opened with
``hotline bundle open``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from exports import LocalDirectoryDrop, export_pending
from flows.common import installation

DESTINATION = "interpol"


@task(retries=2, retry_delay_seconds=10)
def deliver_pending(destination: str) -> list[dict[str, Any]]:
    inst = installation()
    deliveries = export_pending(
        inst.catalog,
        inst.evidence.get,
        destination_name=destination,
        destination=LocalDirectoryDrop(inst.settings.drop_dir),
        outbox=inst.settings.outbox_dir,
        sender=inst.keys.signing_private(),
        recipients=[inst.keys.drop_public()],
        include_media=inst.settings.export_media,
        sender_country=inst.settings.country,
        actor="export-bundles",
    )
    return [vars(d) for d in deliveries]


@flow(name="export-bundles")
def export_bundles(destination: str = DESTINATION) -> dict[str, Any]:
    deliveries = deliver_pending(destination)
    last = deliveries[-1] if deliveries else None
    create_markdown_artifact(
        key="export-bundles-summary",
        markdown="\n".join(f"- bundle `{d['bundle_id']}`: {d['items']} item(s) to {d['location']}"
                           for d in deliveries) or "Nothing to export.",
    )
    return {
        "destination": destination,
        "deliveries": deliveries,
        "bundle_id": last["bundle_id"] if last else None,
        "items": sum(d["items"] for d in deliveries),
        "location": last["location"] if last else None,
    }


if __name__ == "__main__":
    print(export_bundles())
