"""export-partners: send each partner hotline the confirmed items seen hosted in its
countries (URLs, hosting details, hashes; media only where its agreement says so) for notice
and takedown, again while a re-check still finds it up (re-notices; escalated ones also to
the escalation destination, if any); then each configured abuse contact, by e-mail, the URLs
on its hosts where no partner handles the hosting country, on the same schedule (a contact
whose mail server is down fails alone, is shown, and its notice waits in the outbox); with
``hash_sets=True``, our analysts' new confirmed
hashes instead, as Parquet and Project VIC VICS JSON inside the bundle; with ``lists=True``,
our handled list (keyed hashes of the URLs we investigate and the items we decided), so no
case is worked twice. One task per partner: a partner whose
destination is down fails alone, with the reason, and does not hold up the others; its
bundle waits in the outbox for the next scheduled run (each S3 call retries within the
installation's S3 budget, the one retry level).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.common import installation
from flows.runs import run_recorded
from hotline.services.abuse_notices import notify_abuse_contacts
from hotline.services.network_lists import send_handled_list
from hotline.services.partner_exchange import delivery_table, export_escalations, export_to_partner

FLOW = "export-partners"


@task
def partner_names(only: list[str] | None) -> list[str]:
    names = [p.name for p in installation().catalog.partners()]
    return [n for n in names if only is None or n in only]


@task
def unrouted_locations() -> int:
    return installation().catalog.count_unrouted_locations()


@task
def deliver_to_partner(name: str, hash_sets: bool, lists: bool = False) -> list[dict[str, Any]]:
    if lists:
        return [vars(send_handled_list(installation(), name, actor="export-lists"))]
    actor = "export-hashsets" if hash_sets else "export-partners"
    return [vars(d) for d in export_to_partner(installation(), name, hash_set=hash_sets, actor=actor)]


@task
def deliver_abuse_notices() -> dict[str, Any]:
    run = notify_abuse_contacts(installation(), actor="export-partners")
    return {"contacts": [vars(r) for r in run.results], "unmatched": run.unmatched}


@task
def deliver_escalations() -> list[dict[str, Any]]:
    return [vars(d) for d in export_escalations(installation(), actor="export-partners")]


@flow(name=FLOW)
def export_partners(partners: list[str] | None = None, hash_sets: bool = False, lists: bool = False) -> dict[str, Any]:
    """Deliver to every registered partner (or the named ones); ``lists``: our handled list
    (what we investigate and decided, keyed hashes only) instead."""
    with run_recorded(FLOW) as run:
        names = partner_names(partners)
        states = {n: deliver_to_partner.submit(n, hash_sets, lists) for n in names}
        delivered: dict[str, list[dict[str, Any]]] = {}
        failed: dict[str, str] = {}
        for name, future in states.items():
            future.wait()
            state = future.state
            if state.is_completed():
                delivered[name] = future.result()
            else:
                failed[name] = str(state.message or state.name)
        unrouted = 0 if hash_sets or lists else unrouted_locations()
        kind = "lists" if lists else "hashsets" if hash_sets else "partners"
        abuse: dict[str, Any] = {"contacts": [], "unmatched": 0} if hash_sets or lists else deliver_abuse_notices()
        # items partners and abuse contacts were notified of too often while they stay up (none
        # without a destination)
        escalated = [] if hash_sets or lists else deliver_escalations()
        create_table_artifact(
            key=f"export-{kind}-summary",
            table=delivery_table(delivered, failed, unrouted, abuse, escalated),
            description={"lists": "Handled lists (keyed hashes) sent to partners", "hashsets": "Hash sets sent to partners",
                         "partners": "Notice-and-takedown bundles sent to partners"}[kind],
        )
        if failed:
            raise RuntimeError(f"delivery failed for partner(s) {sorted(failed)!r}: {failed!r}")
        summary = {"partners": names, "deliveries": delivered, "unrouted_locations": unrouted, "escalations": escalated,
                   "abuse_notices": abuse, "items": sum(d["items"] for ds in delivered.values() for d in ds)}
        run.summary = summary  # for a command that started this run on the service
    return summary


if __name__ == "__main__":
    print(export_partners())
