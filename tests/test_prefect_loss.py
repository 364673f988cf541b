"""A Prefect server that goes away for good in the middle of ``hotline run``: the run
finishes its work, prints its summary and exits 1 with one line saying what happened,
instead of hanging; once the server is back, ``hotline doctor`` marks the run that Prefect
still shows running crashed, so it cannot hold a concurrency limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from cluster_support import _base_env, _wait_healthy

from catalog.schema import crawls, runs
from hotline.demo.local_site import Route, serve_site, synthetic_image, unused_port
from hotline.installation import Installation

REPORTS = 3
IMAGES = 6


@contextmanager
def prefect_server(home: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``prefect server start`` on ``port`` (its SQLite database in ``home``), stopped at the end."""
    log = home / f"server-{time.monotonic_ns()}.log"
    home.mkdir(exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=_base_env(home), stdout=out, stderr=subprocess.STDOUT, cwd=home, start_new_session=True,
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/api", server, log)
        yield server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _slow_picture(seed: int) -> Route:
    body = synthetic_image(seed, (240, 180))

    def route(_request: object) -> tuple[bytes, str]:
        time.sleep(0.3)
        return body, "image/jpeg"

    return route


def _rows(inst: Installation, table: sa.Table) -> int:
    with inst.catalog.read() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def test_a_run_that_loses_prefect_finishes_reports_and_exits_1(installation: Installation, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    routes: dict[str, Route] = {}
    for r in range(REPORTS):
        routes[f"/r{r}"] = "".join(f"<img src='/p{r}/{n}.jpg'>" for n in range(IMAGES)).encode()
        routes.update({f"/p{r}/{n}.jpg": _slow_picture(r * IMAGES + n) for n in range(IMAGES)})
    home, port = tmp_path / "prefect", unused_port()
    api = f"http://127.0.0.1:{port}/api"
    with serve_site(routes) as site:
        ids = [installation.catalog.add_report(site.url(f"/r{r}"), actor="t") for r in range(REPORTS)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PREFECT_"))}
        env.update(HOTLINE_DATA_DIR=str(installation.settings.data_dir), HOTLINE_CRAWL_ALLOW=site.host_port,
                   HOTLINE_CLAIM_LEASE_S="8", PREFECT_API_URL=api, PREFECT_HOME=str(home / "client"))
        with prefect_server(home, port) as server:
            run = subprocess.Popen([sys.executable, "-m", "hotline.cli", "run"], env=env, start_new_session=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 600
            while _rows(installation, crawls) == 0:  # the flow run is under way
                assert run.poll() is None, run.communicate()[1].decode()[-3000:]
                assert time.monotonic() < deadline, "no crawl recorded in 600 s"
                time.sleep(0.1)
            os.killpg(server.pid, signal.SIGTERM)  # the server goes away for good
            server.wait(timeout=120)
            lost_at = time.monotonic()
            out, err = run.communicate(timeout=600)
        waited = time.monotonic() - lost_at
    assert run.returncode == 1, err.decode()[-3000:]
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("error: the Prefect API could not be reached (ConnectError at"), last
    assert "the run's work is done and recorded in the catalog" in last
    assert f"{REPORTS} report(s): {REPORTS * IMAGES} item(s)" in out.decode()
    assert {installation.catalog.get_report(i).status for i in ids} == {"done"}
    print(f"exited {waited:.0f} s after the Prefect server stopped")
    with installation.catalog.read() as conn:
        (run_id,) = conn.scalars(sa.select(runs.c.id))

    # the server back: Prefect still shows the run running, until doctor marks it crashed
    with prefect_server(home, port), temporary_settings({PREFECT_API_URL: api}):
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(uuid.UUID(run_id)).state.is_running()
        time.sleep(8)  # the run's lease expires
        doctor = subprocess.run([sys.executable, "-m", "hotline.cli", "doctor", "--json"], env=env,
                                capture_output=True, timeout=600)
        checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert checks["prefect runs"]["ok"] and run_id in checks["prefect runs"]["detail"], checks
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(uuid.UUID(run_id)).state.is_crashed()
