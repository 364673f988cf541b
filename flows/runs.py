"""A flow run's identity, its lease on the catalog, and Prefect's record of runs whose
process died.

A run of process-report holds its reports under a lease (``catalog.reports.claims``) named by its
Prefect flow run ID. A process that dies (``kill -9``, a lost machine) or that lost the
Prefect API cannot tell Prefect how it ended, and Prefect shows the run "Running" for good,
which holds a deployment's concurrency limit. The catalog knows better: a run whose lease
expired has stopped working. ``crash_dead_runs`` marks such runs crashed in Prefect; the
next run does it before it claims, and ``hotline doctor`` does it too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from catalog.reports.claims import Heartbeat
from catalog.reports.records import Run
from catalog.reports.store import ReportStore
from flows.common import installation
from hotline import progress

log = logging.getLogger(__name__)


def this_run_id() -> str:
    """The current Prefect flow run's ID, or a new one outside a flow run."""
    from prefect.runtime import flow_run

    return str(flow_run.id or uuid.uuid4())


@contextmanager
def claims_held(run_id: str, flow: str) -> Iterator[Heartbeat]:
    """A ``with`` block in which run ``run_id`` holds its lease, renewed in the background;
    the lease length is the ``claim_lease_s`` setting. Where its stages stand is kept on the
    run's record while it works, when nobody in this process shows it (``hotline.progress``):
    the command that started the run on the service shows it from there."""
    inst = installation()

    def write(figures: list[dict[str, Any]]) -> None:
        try:
            inst.catalog.note_run_progress(run_id, figures)
        except sa.exc.SQLAlchemyError as exc:  # only what a command shows; the run goes on
            log.warning("progress of run %r not recorded: %s", run_id, exc)

    with Heartbeat(inst.catalog, run_id, flow=flow, lease=timedelta(seconds=inst.settings.claim_lease_s)) as held, \
            progress.recorded(write):
        yield held


def run_recorded(flow: str) -> AbstractContextManager[Heartbeat]:
    """``claims_held`` for the current flow run, in a flow that claims no reports: the run is
    registered in the catalog (``runs``) under its Prefect ID while it works, and the summary
    set on it is kept there when it ends. A command that started the run on the service
    reads it back from there (``hotline.services.service_runs``): Prefect does not persist
    flow results."""
    return claims_held(this_run_id(), flow)


def crash_dead_runs(catalog: ReportStore, flow: str, *, settle: bool = True) -> list[str]:
    """Mark crashed, in Prefect, the runs of ``flow`` that Prefect shows unfinished but whose
    catalog lease has expired; returns their IDs. ``settle``: note in the catalog that these
    runs were checked, so later calls skip them (``hotline doctor`` only reads the catalog)."""
    from prefect.client.orchestration import get_client

    dead = catalog.unsettled_runs(flow)
    if not dead:
        return []
    crashed: list[str] = []
    with get_client(sync_client=True) as client:
        for run in dead:
            if _crash_if_unfinished(client, run):
                crashed.append(run.id)
    if settle:
        catalog.settle_runs([run.id for run in dead])
    return crashed


def _crash_if_unfinished(client: Any, run: Run) -> bool:
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    try:
        flow_run = client.read_flow_run(uuid.UUID(run.id))
    except (ValueError, ObjectNotFound):  # a generated ID, or a run another Prefect server knew
        return False
    state = flow_run.state
    if state is None or state.is_final():
        return False
    how = "ended" if run.ended_at is not None else "stopped renewing its lease"
    client.set_flow_run_state(flow_run.id, Crashed(message=(
        f"its process (pid {run.pid} on {run.host}) {how} without telling Prefect how it ended;"
        " marked crashed by a later run of hotline"
    )), force=True)
    return True


def settle_dead_runs(flow: str) -> Sequence[str]:
    """``crash_dead_runs`` for the installation of the current settings, as housekeeping
    before a run's work: a Prefect API that fails here is logged, and the next run tries again."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.logging import get_run_logger

    try:
        return crash_dead_runs(installation().catalog, flow)
    except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
        get_run_logger().warning("runs left running by dead processes not checked: %s", exc)
        return ()


def prefect_api_failure(exc: BaseException) -> str | None:
    """What went wrong, when ``exc`` (or an exception it came from) says the Prefect API
    could not be reached or failed (5xx); None for any other error."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError):
            where = f" at {seen.request.url.copy_with(path='', query=None)}" if _has_request(seen) else ""
            return f"{type(seen).__name__}{where}: {seen}"
        if isinstance(seen, PrefectHTTPStatusError) and seen.response.status_code >= 500:
            return f"{seen.response.status_code} from {seen.request.url}"
        seen = seen.__cause__ or seen.__context__
    return None


def _has_request(exc: Any) -> bool:
    try:
        return exc.request is not None
    except RuntimeError:  # httpx raises when the error carries no request
        return False
