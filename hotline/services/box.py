"""``hotline up``: what a single-box installation runs, as one supervised service.

1. a Prefect server on the catalog's database engine: SQLite in ``<data_dir>/prefect``, or
   a database ``<catalog>_prefect`` on the catalog's PostgreSQL server (created if missing);
2. the deployments of ``prefect.yaml`` (the work pool ``hotline`` created first, its flow runs
   started by the ``starter``: ``flow_starter``), and the starter;
3. a process worker polling that pool (and woken by commands that created a run:
   ``worker_wake``), and the review app (``hotline serve``).

Every component gets this process's ``HOTLINE_*`` environment with the data directory made
absolute, so flow runs open the same installation. ``<data_dir>/service`` holds the pid,
state and (detached) log files (``service_files``).
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from hotline.services import flow_starter
from hotline.services.service_files import (
    ComponentState,
    ServiceError,
    ServiceFiles,
    ServiceState,
    api_answers,
    service_files,
)
from hotline.services.supervisor import Component, Supervisor
from hotline.settings import Settings

REPO = Path(__file__).resolve().parents[2]  # prefect.yaml and the flows' entrypoints
POOL = "hotline"
PREFECT = [sys.executable, "-m", "prefect"]


def prefect_database_url(settings: Settings) -> str:
    """The Prefect server's database: the setting, else on the catalog's engine."""
    if settings.prefect_database_url:
        return settings.prefect_database_url
    catalog = sa.make_url(settings.catalog)
    if catalog.get_backend_name() == "postgresql":
        return catalog.set(drivername="postgresql+asyncpg", database=f"{catalog.database}_prefect").render_as_string(
            hide_password=False)
    return f"sqlite+aiosqlite:///{(settings.data_dir / 'prefect' / 'prefect.db').resolve()}"


def ensure_prefect_database(settings: Settings) -> None:
    """PostgreSQL: create the Prefect server's database if it is missing (Prefect creates
    its tables, not its database)."""
    url = sa.make_url(prefect_database_url(settings))
    if url.get_backend_name() != "postgresql":
        return
    admin = sa.create_engine(url.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}):
                conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    except sa.exc.SQLAlchemyError as exc:
        raise ServiceError(f"cannot create the Prefect database {url.database!r} on "
                           f"{url.render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}") from exc
    finally:
        admin.dispose()


def check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServiceError(f"port {port} on {host} ({what}) is in use: stop what listens there, or choose "
                               f"another port ({exc.strerror})") from exc


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(HOTLINE_DATA_DIR=str(settings.data_dir.resolve()), PREFECT_HOME=str((settings.data_dir / "prefect").resolve()),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", PYTHONUNBUFFERED="1", **extra)
    return env


def components(settings: Settings, prefect_port: int, review_port: int) -> list[list[Component]]:
    """The stages of a single box: the server; the deployments; the worker and the review app."""
    api_url = f"http://127.0.0.1:{prefect_port}/api"
    client = _env(settings, PREFECT_API_URL=api_url)
    server = Component("server", [sys.executable, "-m", "hotline.services.box", "server", "--port", str(prefect_port)],
                       _env(settings, PREFECT_API_DATABASE_CONNECTION_URL=prefect_database_url(settings)),
                       REPO, ready=lambda: api_answers(api_url))
    deploy = Component("deploy", [sys.executable, "-m", "hotline.services.box", "deploy"], client, REPO, step=True)
    folder = service_files(settings.data_dir).folder
    starter = Component("starter", [sys.executable, "-m", "hotline.services.flow_starter", "serve", str(folder.resolve())],
                        client, REPO, ready=lambda: (folder / flow_starter.SOCKET).exists())
    worker = Component("worker", [sys.executable, "-m", "hotline.services.box", "worker", str(folder.resolve())],
                       {**client, "PREFECT_WORKER_QUERY_SECONDS": str(settings.worker_poll_s)}, REPO)
    review = Component("review", [sys.executable, "-m", "hotline.cli", "serve", "--host", settings.review_host,
                                  "--port", str(review_port)], client, REPO,
                       ready=lambda: _listening(settings.review_host, review_port))
    return [[server], [deploy, starter], [worker, review]]


def deploy() -> None:
    """The work pool (created, or its job template brought up to date), then ``prefect
    deploy --all`` from the repository: run as the ``deploy`` step with PREFECT_API_URL set.
    The pool's command starts each flow run from the ``starter`` (``flow_starter``)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    folder = service_files(Settings().data_dir).folder
    template["variables"]["properties"]["command"]["default"] = shlex.join(flow_starter.command(folder))
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process", base_job_template=template))
            print(f"work pool {POOL!r} created", flush=True)
        except ObjectAlreadyExists:
            client.update_work_pool(POOL, WorkPoolUpdate(base_job_template=template))
    # prefect.yaml's pull step names the working directory as {{ $PWD }}: the repository
    done = subprocess.run([*PREFECT, "--no-prompt", "deploy", "--all"], cwd=REPO, check=False,
                          env={**os.environ, "PWD": str(REPO)})
    raise SystemExit(done.returncode)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def up(settings: Settings, out: TextIO, prefect_port: int | None = None, review_port: int | None = None) -> None:
    """Run the box in this process until SIGINT or SIGTERM, logging to ``out``."""
    files = service_files(settings.data_dir)
    files.claim()
    try:
        p_port, r_port = prefect_port or settings.prefect_port, review_port or settings.review_port
        check_port_free("127.0.0.1", p_port, "the Prefect server")
        check_port_free(settings.review_host, r_port, "the review app")
        ensure_prefect_database(settings)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        api_url = f"http://127.0.0.1:{p_port}/api"

        def on_change(states: tuple[ComponentState, ...]) -> None:
            files.write_state(ServiceState(os.getpid(), api_url, f"http://{settings.review_host}:{r_port}/",
                                           started, supervisor.ready, states))

        supervisor = Supervisor(out, on_change)
        on_change(())  # the API URL, for `hotline status`, while the server starts
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: supervisor.stop.set())
        supervisor.say("hotline", f"Prefect API {api_url}, database "
                                  f"{sa.make_url(prefect_database_url(settings)).render_as_string(hide_password=True)}")
        supervisor.run(components(settings, p_port, r_port))
        supervisor.say("hotline", "down")
    finally:
        files.release()


def detach(settings: Settings, argv: Sequence[str], wait_s: float = 600.0) -> ServiceState:
    """Start ``argv`` (a foreground ``hotline up``) in the background, its output to the log
    file, and wait until every component is ready; its state."""
    files = service_files(settings.data_dir)
    files.folder.mkdir(parents=True, exist_ok=True)
    if (pid := files.live_pid()) is not None:
        raise ServiceError(f"hotline is already up on this data directory (pid {pid}): `hotline status` shows it")
    with files.log_file.open("ab") as log:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"hotline up stopped at once (status {proc.returncode}): {_last_line(files)}")
        state = files.state()
        if state is not None and state.pid == proc.pid and state.ready:
            return state
        time.sleep(0.5)
    raise ServiceError(f"hotline up (pid {proc.pid}) still starting after {wait_s:.0f} s: see {files.log_file}")


def _last_line(files: ServiceFiles) -> str:
    try:
        lines = [line for line in files.log_file.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return "no log"
    return lines[-1] if lines else "no log"


def down(settings: Settings, wait_s: float = 120.0) -> int | None:
    """Stop the running service (SIGTERM, then wait for it to stop its components); the pid
    stopped, or None when none ran (a stale pid file is removed)."""
    files = service_files(settings.data_dir)
    pid = files.live_pid()
    if pid is None:
        files.pid_file.unlink(missing_ok=True)
        files.state_file.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while files.live_pid() == pid:
        if time.monotonic() > deadline:
            raise ServiceError(f"hotline up (pid {pid}) still running {wait_s:.0f} s after SIGTERM: see {files.log_file}")
        time.sleep(0.5)
    return pid


def status(settings: Settings) -> dict[str, Any]:
    """Whether the service runs, its API URL and whether it answers, each component's state."""
    files = service_files(settings.data_dir)
    state = files.state()
    if state is None:
        stale = files.pid() is not None
        return {"running": False, "stale_pid_file": stale, "pid": None, "api_url": None, "api_answers": False,
                "review_url": None, "ready": False, "components": [], "log": str(files.log_file)}
    return {"running": True, "stale_pid_file": False, "pid": state.pid, "api_url": state.api_url,
            "api_answers": api_answers(state.api_url), "review_url": state.review_url, "started_at": state.started_at,
            "ready": state.ready, "components": list(state.components), "log": str(files.log_file)}


def serve_prefect(port: int) -> None:
    """``prefect server start`` on 127.0.0.1, with one disconnect counted as what it is.

    When a worker stops, Prefect's worker channel can read the closing socket once more;
    starlette answers ``WebSocketDisconnected`` and Prefect logs it as a server error with
    two tracebacks, on an ordinary shutdown. It is a disconnect, so it joins the exceptions
    Prefect already treats as one; every other error keeps its traceback.
    """
    from prefect.server.utilities import subscriptions
    from starlette import websockets

    closed = getattr(websockets, "WebSocketDisconnected", None)
    if closed is not None and closed not in subscriptions.NORMAL_DISCONNECT_EXCEPTIONS:
        subscriptions.NORMAL_DISCONNECT_EXCEPTIONS = (*subscriptions.NORMAL_DISCONNECT_EXCEPTIONS, closed)  # type: ignore[assignment]
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    app()


def serve_worker(folder: Path) -> None:
    """``prefect worker start`` for the pool, which also starts runs when a command wakes it
    (``worker_wake``): Prefect's worker, its polling and its command line unchanged, with
    the wake listener beside its loops for as long as it runs."""
    import asyncio

    from prefect.cli import app
    from prefect.workers.process import ProcessWorker

    from hotline.services import worker_wake

    start = ProcessWorker.start

    async def start_and_listen(self: ProcessWorker, *args: Any, **kwargs: Any) -> None:
        # The listener is a task of its own, not a task group around the worker's start: a
        # stop that arrives while the worker is still connecting unwinds Prefect's own cancel
        # scopes, and a task group's scope around them then failed to exit (a traceback).
        listener = asyncio.get_running_loop().create_task(worker_wake.listen(folder, self.get_and_submit_flow_runs))
        try:
            await start(self, *args, **kwargs)
        finally:
            listener.cancel()

    ProcessWorker.start = start_and_listen  # type: ignore[method-assign,assignment]
    sys.argv = ["prefect", "worker", "start", "--pool", POOL, "--type", "process"]
    app()


if __name__ == "__main__":
    if sys.argv[1:] == ["deploy"]:
        deploy()
    elif sys.argv[1:2] == ["worker"] and len(sys.argv) == 3:
        serve_worker(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["server"] and len(sys.argv) == 4 and sys.argv[2] == "--port":
        serve_prefect(int(sys.argv[3]))
