"""How a flow command runs its flow on the running ``hotline up``: the service's worker runs
a flow run of the matching deployment (``hotline.services.service_runs``), the command follows
its state (on a terminal, as a progress line, with the progress the run records in the
catalog shown as a run in the command's own process shows it) and reads its summary from the
catalog. The command imports no Prefect; without a service it runs the flow in its own process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotline.cli.output import fail
from hotline.cli.progress import progress_shown
from hotline.progress import Progress, ProgressSink, catch_up, ignore

if TYPE_CHECKING:
    from hotline.installation import Installation
    from hotline.services.service_runs import Deployment, RunState


def run_on_service(api_url: str, deployment: Deployment, parameters: dict[str, Any], inst: Installation,
                   as_json: bool) -> dict[str, Any]:
    """Run ``deployment`` with ``parameters`` on the service and wait for it; the summary the
    run kept in the catalog. A run that does not complete raises ``ServiceRunError`` (one line);
    Ctrl-C stops following it (the run goes on in the service) with exit status 130."""
    import functools
    import time

    from hotline.services.service_files import service_files
    from hotline.services.service_runs import ServiceClient, ServiceRunError, held_back, outcome_error
    from hotline.services.worker_wake import wake

    stage = f"{deployment.name} on the service"
    folder = service_files(inst.settings.data_dir).folder
    with ServiceClient(api_url) as client, progress_shown(as_json) as show:
        for _attempt in range(10):  # a slot that stays taken with no run going: said after the tenth
            run = client.submit(deployment, parameters)
            wake(folder)  # the worker starts it now, not at its next poll
            watch = functools.partial(_watch, inst, run.id, show, {})
            try:
                state = client.follow(run, functools.partial(_show_state, show, stage, run.name), watch)
                watch()  # the figures the run ended with
                # a scheduled run was going (the deployment runs one at a time): wait for it, then ask again
                while held_back(state) and client.others_going(run):
                    show(Progress(stage, unit="", note="waiting for the run already going"))
                    time.sleep(2)
            except KeyboardInterrupt:
                fail(f"stopped following {deployment.name} run {run.name!r}: it goes on in the service "
                     "(`hotline status`; the Prefect UI shows it)", code=130)
            if not held_back(state):
                break
    if (error := outcome_error(run, state)) is not None:
        raise ServiceRunError(error)
    ran = inst.catalog.get_run(run.id)
    if ran is None or ran.summary is None:
        raise ServiceRunError(f"{deployment.name} run {run.name!r} completed on the service but left no summary "
                              "in the catalog: is the service on another data directory or catalog?")
    return ran.summary


def _show_state(show: ProgressSink, stage: str, name: str, state: RunState) -> None:
    show(Progress(stage, unit="", note=f"{name}: {state.name}"))


def _watch(inst: Installation, run_id: str, show: ProgressSink, shown: dict[str, Any]) -> bool:
    """Show what the run recorded of its progress in the catalog since ``shown``; whether
    its work has ended."""
    ran = inst.catalog.get_run(run_id)
    if ran is None:
        return False
    if ran.progress and show is not ignore:
        for event in catch_up(shown, ran.progress):
            show(event)
    return ran.ended_at is not None
