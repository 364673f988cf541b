"""What every flow shares: opening the installation named by the settings, where tasks
run (threads here, or a Dask cluster), and how I/O tasks retry."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Without PREFECT_API_URL each flow command starts a temporary server; Prefect's default 20 s
# for its start fails on a loaded machine (about 20 s at load 10 on two cores).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")

from collections.abc import Sequence  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

from prefect.states import State  # noqa: E402
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner  # noqa: E402
from prefect.tasks import exponential_backoff  # noqa: E402

from hotline.installation import Installation  # noqa: E402
from hotline.settings import Settings  # noqa: E402

T = TypeVar("T")

# Network and storage tasks: retried after about 2, 4 and 8 s (with jitter, so that many
# workers hit by the same outage do not come back at the same instant).
IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
}


def _transient_database_fault(_task: object, _task_run: object, state: State[Any]) -> bool:
    from catalog.errors import database_fault

    exc = state.data if isinstance(state.data, BaseException) else None
    fault = database_fault(exc) if exc is not None else None
    return fault is not None and fault.transient


# Catalog tasks: retried only when the database connection dropped (a PostgreSQL restart or
# failover, a terminated connection), after about 1, 2 and 4 s; every other error is a
# fault that waiting does not heal, and fails at once.
CATALOG_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=1),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": _transient_database_fault,
}


def installation() -> Installation:
    """The installation of the current settings (environment, ``HOTLINE_CONFIG``), shared
    by the tasks of this process (``Installation.shared``)."""
    return Installation.shared(Settings())


def task_runner(settings: Settings | None = None) -> TaskRunner[Any]:
    """Where a flow's mapped tasks run: ``flow_threads`` threads in the flow's process
    (single profile; each crawl is a process of its own, so this bounds them too), or
    a Dask cluster (cluster profile): the scheduler at ``dask_address``, or a local cluster
    of ``dask_workers`` processes started for the flow run, which share the
    ``flow_threads`` between them (a crawl task mostly waits on its Scrapy process, so
    one thread a worker would leave the machine idle). Read when the flow module is
    imported, i.e. in each flow run's own process."""
    s = settings or Settings()
    if not (s.dask_address or s.dask_workers):
        return ThreadPoolTaskRunner(max_workers=s.flow_threads)
    from prefect_dask import DaskTaskRunner

    if s.dask_address:
        return DaskTaskRunner(address=s.dask_address)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": s.dask_workers, "processes": True,
        "threads_per_worker": max(1, s.flow_threads // s.dask_workers), "dashboard_address": None,
    })


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in consecutive lists of at most ``size``."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def publish_summary(key: str, summary: dict[str, Any], description: str) -> None:
    """``summary`` as a table artifact of the flow run. A Prefect API that cannot be reached
    (after the client's own retries) is logged, not raised: the run's work is done and
    recorded in the catalog, and failing the run now would not tell Prefect either."""
    import httpx
    from prefect.artifacts import create_table_artifact
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.logging import get_run_logger

    if not prefect_api_reachable():  # saves the client's minute of retries
        get_run_logger().warning("summary artifact not saved: the Prefect API cannot be reached")
        return
    try:
        create_table_artifact(
            key=key, table=[{"figure": k, "value": str(v)} for k, v in summary.items()], description=description
        )
    except (httpx.TransportError, PrefectHTTPStatusError) as exc:
        get_run_logger().warning("summary artifact not saved, the Prefect API failed: %s", exc)


def prefect_api_reachable(timeout: float = 5.0) -> bool:
    """Whether the Prefect server at ``PREFECT_API_URL`` answers at all (one request, no
    retries); True without one (the in-process server of a local run)."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return True
    try:
        httpx.get(url.rstrip("/") + "/health", timeout=timeout)
    except httpx.TransportError:
        return False
    return True  # any answer, even a refusal, means the server is there
