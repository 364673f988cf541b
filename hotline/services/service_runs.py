"""Runs a deployment of the running ``hotline up`` from a command, over the Prefect REST API
with httpx: the command imports no Prefect and runs no flow; the service's worker does.

Prefect's REST API (3.x): ``GET /deployments/name/{flow}/{deployment}`` finds the
deployment, ``POST /deployments/{id}/create_flow_run`` creates a scheduled run of it with
the command's parameters, and ``GET /flow_runs/{id}`` tells the run's state until it is
final. The run's summary does not come back through Prefect (its results are not
persisted): the flow keeps it in the catalog under its flow run ID (``flows.runs``), where
the command reads it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hotline.services.service_files import ServiceError

if TYPE_CHECKING:
    import httpx

FINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
# the first answers come quickly (a run with nothing to do takes about a second once the
# worker has it); a long run is asked about twice a second, a cheap read that ends the
# command at most half a second after the run (at once a second it cost 0.3 s on average)
POLL_S = (0.1, 0.2, 0.3, 0.5)
# between answers the command looks at the run's record in the catalog (a local read): its
# progress, and whether its work has ended, when the final state is a moment away and is
# asked for every ENDING_S (the half second between answers cost 0.25 s on average)
WATCH_S = 0.2
ENDING_S = 0.1
ENDING_ANSWERS = 20  # then the usual pace again: a run whose process is stuck telling Prefect
RETRY_STATUS = {429, 502, 503}  # "busy, ask again": Prefect's client retries these too
RETRY_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # about a minute in all, then the answer is the error


@dataclass(frozen=True)
class Deployment:
    """A deployment of ``prefect.yaml``: its flow's name (``@flow(name=...)``) and its own."""

    flow: str
    name: str


PROCESS_REPORTS = Deployment("process-report", "process-reports")
RECHECK_TAKEDOWNS = Deployment("recheck-takedowns", "recheck-takedowns")
EXPORT_INTERPOL = Deployment("export-bundles", "export-interpol")
EXPORT_PARTNERS = Deployment("export-partners", "export-partners")
EXPORT_HASHSETS = Deployment("export-partners", "export-hashsets")
EXPORT_LISTS = Deployment("export-partners", "export-lists")
IMPORT_BUNDLES = Deployment("import-bundles", "import-bundles")


@dataclass(frozen=True)
class RunState:
    """A flow run's state as Prefect reports it: its ``type`` (SCHEDULED, PENDING, RUNNING,
    COMPLETED, FAILED, CRASHED, CANCELLED, ...), its ``name`` (Late, Retrying, ...) and message."""

    type: str
    name: str
    message: str | None = None

    @property
    def final(self) -> bool:
        return self.type in FINAL


@dataclass(frozen=True)
class ServiceRun:
    """A flow run created on the service: its ID (the catalog's ``runs.id``) and name."""

    id: str
    name: str
    deployment: Deployment
    deployment_id: str


class ServiceRunError(ServiceError):
    """A run on the service that could not be created or followed, or did not complete."""


class ServiceClient:
    """The Prefect API of the running service; one connection for a command's requests."""

    def __init__(self, api_url: str, timeout_s: float = 60.0) -> None:
        import httpx

        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout_s)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def submit(self, deployment: Deployment, parameters: dict[str, Any]) -> ServiceRun:
        """A new run of ``deployment`` with ``parameters`` (over the deployment's own), for
        the service's worker to pick up."""
        found = self._request("GET", f"/deployments/name/{deployment.flow}/{deployment.name}")
        if found.status_code == 404:
            raise ServiceRunError(f"the service's Prefect server has no deployment {deployment.flow}/{deployment.name}"
                                  " (prefect.yaml): `hotline status` tells whether its deploy step is done")
        answer = self._ok(found, f"deployment {deployment.name}").json()
        created = self._request("POST", f"/deployments/{answer['id']}/create_flow_run", json={"parameters": parameters})
        run = self._ok(created, f"a run of {deployment.name}").json()
        return ServiceRun(run["id"], run["name"], deployment, answer["id"])

    def others_going(self, run: ServiceRun) -> bool:
        """Whether another run of ``run``'s deployment is pending or running (a scheduled one)."""
        going = {"flow_runs": {"deployment_id": {"any_": [run.deployment_id]},
                               "state": {"type": {"any_": ["PENDING", "RUNNING"]}}}, "limit": 5}
        found = self._ok(self._request("POST", "/flow_runs/filter", json=going), "the runs going").json()
        return any(r["id"] != run.id for r in found)

    def state(self, run: ServiceRun) -> RunState:
        answer = self._ok(self._request("GET", f"/flow_runs/{run.id}"), f"run {run.name}").json()
        state = answer.get("state") or {}
        return RunState(state.get("type", "SCHEDULED"), state.get("name", "Scheduled"), state.get("message"))

    def follow(self, run: ServiceRun, on_state: Callable[[RunState], None],
               watch: Callable[[], bool] | None = None) -> RunState:
        """Ask for ``run``'s state until it is final; ``on_state`` hears each change.
        ``watch`` is called between answers, every ``WATCH_S``; once it returns True (the
        run's work has ended) the next ``ENDING_ANSWERS`` are asked for every ``ENDING_S``."""
        seen: RunState | None = None
        polls = 0
        ended, ending = False, 0
        while True:
            state = self.state(run)
            if state != seen:
                on_state(state)
                seen = state
            if state.final:
                return state
            if ending:
                ending -= 1
                time.sleep(ENDING_S)
                continue
            deadline = time.monotonic() + POLL_S[min(polls, len(POLL_S) - 1)]
            polls += 1
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, WATCH_S))
                if watch is not None and watch() and not ended:
                    ended, ending = True, ENDING_ANSWERS
                    break

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, asked again after an answer the server means as "try again": 503 is
        how Prefect's server answers when its database was busy (SQLite under a loaded box)
        and wrote nothing, so asking again creates nothing twice. Prefect's own client retries
        the same answers the same way."""
        import httpx

        for attempt in range(len(RETRY_S) + 1):
            try:
                answer = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise ServiceRunError(f"the service's Prefect API at {self.api_url} could not be reached "
                                      f"({type(exc).__name__}: {exc}): `hotline status` tells whether it runs") from exc
            if answer.status_code not in RETRY_STATUS or attempt == len(RETRY_S):
                return answer
            wait = answer.headers.get("Retry-After", "")
            time.sleep(float(wait) if wait.replace(".", "", 1).isdigit() else RETRY_S[attempt] * random.uniform(0.8, 1.2))
        raise AssertionError("unreachable: the last attempt returns")

    def _ok(self, answer: httpx.Response, what: str) -> httpx.Response:
        if answer.is_success:
            return answer
        detail = answer.text.strip().replace("\n", " ")[:300]
        raise ServiceRunError(f"the service's Prefect API answered {answer.status_code} for {what}: {detail}")


def held_back(state: RunState) -> bool:
    """The run was cancelled before it started because another run of its deployment was
    going (``concurrency_limit`` with ``CANCEL_NEW`` in prefect.yaml)."""
    return state.type == "CANCELLED" and "concurrency limit" in (state.message or "")


def outcome_error(run: ServiceRun, state: RunState) -> str | None:
    """What to tell the operator about a run that ended other than completed; None when it completed."""
    if state.type == "COMPLETED":
        return None
    message = " ".join((state.message or "").split())
    where = f"{run.deployment.name} run {run.name!r} on the service"
    if held_back(state):
        return (f"{where} was cancelled: another run of {run.deployment.name} is still going (the deployment runs "
                "one at a time); run again once it is done")
    return f"{where} {state.name.lower()}: {message or 'no reason given'} (the service's log has the details)"
