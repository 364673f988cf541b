"""``hotline up`` as an operator runs it: in the background on a fresh data directory, a
flow command that finds its Prefect server by itself, a component that dies restarted,
``status`` and ``down``; a stale pid file, a port in use, and a temporary server that does
not start each end in one line, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.demo.local_site import unused_port

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PREFECT_"))}
    env.update(HOTLINE_DATA_DIR=str(data_dir), PREFECT_UI_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
               PREFECT_HOME=str(data_dir.parent / "prefect-client"), **extra)
    return env


def hotline(data_dir: Path, *args: str, timeout: float = 900, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HOTLINE, *args], env=_env(data_dir, **extra), capture_output=True, text=True,
                          timeout=timeout, check=False)


def _status(data_dir: Path) -> dict[str, Any]:
    return json.loads(hotline(data_dir, "status", "--json").stdout)


def _watched(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``hotline args`` whose last stderr line says which of Prefect and the flows it imported."""
    watch = ("import atexit, sys\n"
             "atexit.register(lambda: print('imported:', *sorted({m.split('.')[0] for m in sys.modules}"
             " & {'prefect', 'flows'}), file=sys.stderr))\n"
             "from hotline.cli import main\nmain()\n")
    return subprocess.run([sys.executable, "-c", watch, *args], env=_env(data_dir), capture_output=True, text=True,
                          timeout=900, check=False)


def _catalog_run(data_dir: Path, run_id: str) -> Any:
    from hotline.installation import Installation
    from hotline.settings import Settings

    inst = Installation.open(Settings(data_dir=data_dir), read_only=True)
    try:
        return inst.catalog.get_run(run_id)
    finally:
        inst.close()


def _no_traceback(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    made = tmp_path / "data"
    assert hotline(made, "init").returncode == 0
    return made


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_up_runs_the_box_and_flow_commands_use_its_server(data_dir: Path) -> None:
    pid_file = data_dir / "service" / "hotline.pid"
    pid_file.parent.mkdir()
    pid_file.write_text(f"{_dead_pid()}\n")  # left by a service that was killed
    stale = hotline(data_dir, "status")
    assert stale.returncode == 1 and "stale pid file" in stale.stdout

    prefect_port, review_port = unused_port(), unused_port()
    started = hotline(data_dir, "up", "--detach", "--prefect-port", str(prefect_port),
                      "--review-port", str(review_port))
    try:
        assert started.returncode == 0, started.stderr + (data_dir / "service" / "hotline.log").read_text()[-4000:]
        api = f"http://127.0.0.1:{prefect_port}/api"
        status = _status(data_dir)
        assert status["running"] and status["ready"] and status["api_answers"] and status["api_url"] == api
        states = {c["name"]: c["state"] for c in status["components"]}
        assert states == {"server": "running", "deploy": "done", "starter": "running", "worker": "running",
                          "review": "running"}
        assert httpx.get(f"http://127.0.0.1:{review_port}/login", timeout=30).status_code == 200
        deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
        assert {"process-reports", "export-interpol"} <= {d["name"] for d in deployments}

        # a flow command, with no PREFECT_API_URL: the service's worker runs a run of the
        # deployment; the command imports neither Prefect nor the flows, and prints the summary
        # the run kept in the catalog
        ran = _watched(data_dir, "run", "--json", "--limit", "7")
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr.splitlines()[-1] == "imported:", ran.stderr
        summary = json.loads(ran.stdout)
        assert summary["reports"] == [] and summary["errors"] == 0
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=30).json()
        by_command = [r for r in runs if not r["auto_scheduled"]]
        # a scheduled run going at that moment holds the command's back (cancelled, asked for again)
        assert all(r["state"]["message"] == "Deployment concurrency limit reached." for r in by_command
                   if r["state"]["type"] == "CANCELLED"), runs
        by_command = [r for r in by_command if r["state"]["type"] != "CANCELLED"]
        assert [(r["state"]["type"], r["parameters"], r["work_pool_name"]) for r in by_command] == [
            ("COMPLETED", {"limit": 7}, "hotline")], runs
        deployment = httpx.get(f"{api}/deployments/{by_command[0]['deployment_id']}", timeout=30).json()
        assert deployment["name"] == "process-reports"
        assert _catalog_run(data_dir, by_command[0]["id"]).summary == summary
        # the worker started it from the starter (forked, not a new interpreter)
        log = (data_dir / "service" / "hotline.log").read_text()
        assert f"starter | flow run {by_command[0]['id']}: process " in log, log[-4000:]

        # a run that fails on the service: one line, exit status 1, the worker's reason
        drop_key = data_dir / "keys" / "drop.pub"
        drop_key.rename(drop_key.with_suffix(".away"))
        try:
            failed = hotline(data_dir, "export")
        finally:
            drop_key.with_suffix(".away").rename(drop_key)
        assert failed.returncode == 1, failed.stdout
        line = _no_traceback(failed)
        assert line.startswith("error: export-interpol run ") and " on the service failed: " in line, line
        assert "KeyFileError" in line and str(drop_key) in line, line
        exported = hotline(data_dir, "export", "--json")
        assert exported.returncode == 0 and json.loads(exported.stdout)["bundle_id"] is None, exported.stderr

        # a component that dies is started again, and the log says so
        worker = next(c for c in status["components"] if c["name"] == "worker")
        os.killpg(worker["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 300
        while True:
            now = {c["name"]: c for c in _status(data_dir)["components"]}
            if now["worker"]["restarts"] == 1 and now["worker"]["state"] == "running":
                break
            assert time.monotonic() < deadline, now
            time.sleep(1)
        log = (data_dir / "service" / "hotline.log").read_text()
        assert "worker  | exited with status -9; starting again in 1 s" in log
        assert "server  | " in log and "review  | " in log
    finally:
        stopped = hotline(data_dir, "down")
    assert stopped.returncode == 0 and "hotline is down" in stopped.stdout, stopped.stderr
    assert not pid_file.exists() and _status(data_dir)["running"] is False
    for component in status["components"]:
        if component["pid"] is not None and component["name"] != "worker":
            with pytest.raises(ProcessLookupError):
                os.kill(component["pid"], 0)
    log = (data_dir / "service" / "hotline.log").read_text()
    assert log.rstrip().endswith("hotline | down")


def test_a_run_on_the_service_shows_its_progress_on_a_terminal_only(data_dir: Path) -> None:
    """The run's progress reaches the command that follows it from its own process: the bars
    of a run in the command's process (reports crawled, items hashed), on a terminal; with
    --json, or in a pipe, the output alone."""
    from terminal_support import on_terminal

    from hotline.demo.local_site import serve_site, synthetic_image

    pictures = {f"/p/{n}.jpg": synthetic_image(n) for n in range(3)}
    galleries = {f"/gallery/{n}": "".join(f"<img src='{u}'>" for u in pictures).encode() for n in range(3)}
    with serve_site({**galleries, **pictures}) as site:  # type: ignore[arg-type]
        started = hotline(data_dir, "up", "--detach", "--prefect-port", str(unused_port()),
                          "--review-port", str(unused_port()), HOTLINE_CRAWL_ALLOW=site.host_port)
        try:
            assert started.returncode == 0, started.stderr + (data_dir / "service" / "hotline.log").read_text()[-4000:]
            for n in range(3):
                assert hotline(data_dir, "report", "add", site.url(f"/gallery/{n}")).returncode == 0
            out, err = on_terminal([*HOTLINE, "run", "--limit", "1"], {**_env(data_dir), "COLUMNS": "120", "TERM": "xterm"})
            assert "1 report(s): 3 item(s)" in out
            assert "process-reports on the service" in err  # the run was the service's
            assert "reports crawled" in err and "1/1 reports" in err and "items hashed" in err and "3/3 items" in err

            out, err = on_terminal([*HOTLINE, "run", "--limit", "1", "--json"], _env(data_dir, TERM="xterm"))
            assert len(json.loads(out)["reports"]) == 1 and err == ""
            piped = hotline(data_dir, "run", "--limit", "1")
            assert piped.returncode == 0 and piped.stderr == "", piped.stderr
            assert piped.stdout.startswith("1 report(s): 3 item(s)") and "\x1b" not in piped.stdout
        finally:
            assert hotline(data_dir, "down").returncode == 0


def test_a_port_in_use_is_one_line(data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = hotline(data_dir, "up", "--prefect-port", str(port), "--review-port", str(unused_port()))
    assert done.returncode == 1
    assert _no_traceback(done).startswith(f"error: port {port} on 127.0.0.1 (the Prefect server) is in use")
    assert not (data_dir / "service" / "hotline.pid").exists()


def test_down_and_status_with_a_stale_pid_file(data_dir: Path) -> None:
    pid_file = data_dir / "service" / "hotline.pid"
    pid_file.parent.mkdir()
    for pid in (_dead_pid(), 1):  # a dead process; a live one that is no hotline (the pid was reused)
        pid_file.write_text(f"{pid}\n")
        status = hotline(data_dir, "status", "--json")
        assert status.returncode == 1 and json.loads(status.stdout)["stale_pid_file"] is True
        down = hotline(data_dir, "down")
        assert down.returncode == 0 and down.stdout.strip() == "hotline was not up", down.stderr
        assert not pid_file.exists()


def test_a_temporary_server_that_does_not_start_is_one_line(data_dir: Path) -> None:
    done = hotline(data_dir, "export", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    assert done.returncode == 1
    line = _no_traceback(done)
    assert line.startswith("error: the temporary Prefect server did not start within 1 s"), line
    assert "hotline up --detach" in line


def test_the_prefect_database_follows_the_catalogs_engine(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from cluster_support import postgres_database

    from hotline.services.box import ensure_prefect_database, prefect_database_url
    from hotline.settings import Settings

    local = Settings(data_dir=tmp_path / "data")
    assert prefect_database_url(local) == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'prefect' / 'prefect.db').resolve()}"
    with postgres_database() as catalog_url:
        on_postgres = Settings(data_dir=tmp_path / "data", catalog_url=catalog_url)
        url = sa.make_url(prefect_database_url(on_postgres))
        assert url.drivername == "postgresql+asyncpg" and url.database == f"{sa.make_url(catalog_url).database}_prefect"
        admin = sa.create_engine(sa.make_url(catalog_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            for _ in range(2):  # created once, then found
                ensure_prefect_database(on_postgres)
                with admin.connect() as conn:
                    assert conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database})
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()


def test_up_in_the_foreground_stops_everything_on_ctrl_c(data_dir: Path) -> None:
    proc = subprocess.Popen([*HOTLINE, "up", "--prefect-port", str(unused_port()), "--review-port", str(unused_port())],
                            env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    # a box that never comes up ends the output, so the loop below fails instead of waiting forever
    watchdog = threading.Timer(900, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:  # one stream, each line prefixed by its component
            lines.append(line)
            if line.startswith("hotline | up: every component is running"):
                break
        else:
            pytest.fail("".join(lines[-50:]))
        pids = [c["pid"] for c in _status(data_dir)["components"] if c["pid"] is not None]
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=300)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert rest.rstrip().endswith("hotline | down") and "Traceback" not in "".join(lines) + rest
    assert {line.split("|")[0].strip() for line in lines if "|" in line} >= {"hotline", "server", "deploy"}
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (data_dir / "service" / "hotline.pid").exists()


def test_how_a_run_on_the_service_ended_is_one_line() -> None:
    from hotline.services.service_runs import PROCESS_REPORTS, RunState, ServiceRun, outcome_error

    run = ServiceRun("0b6d", "lucky-fox", PROCESS_REPORTS, "5a1e")
    assert outcome_error(run, RunState("COMPLETED", "Completed")) is None
    assert outcome_error(run, RunState("CANCELLED", "Cancelled", "Deployment concurrency limit reached.")) == (
        "process-reports run 'lucky-fox' on the service was cancelled: another run of process-reports is still going"
        " (the deployment runs one at a time); run again once it is done")
    crashed = outcome_error(run, RunState("CRASHED", "Crashed", "Flow run infrastructure exited with\nnon-zero status -9"))
    assert crashed == ("process-reports run 'lucky-fox' on the service crashed: Flow run infrastructure exited with "
                       "non-zero status -9 (the service's log has the details)")


def test_without_a_starter_a_flow_run_starts_the_way_prefect_does(tmp_path: Path) -> None:
    """The work pool's command, when no starter listens (a worker started by hand): it becomes
    ``python -m prefect.engine``, which here refuses a flow run ID that is none."""
    from hotline.services.flow_starter import command

    env = {**_env(tmp_path / "data"), "PREFECT__FLOW_RUN_ID": "not-a-run"}
    done = subprocess.run(command(tmp_path / "service"), env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 1
    assert "Invalid flow run id" in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_busy_answer_from_the_service_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's server answers 503 when its database was busy and it wrote nothing: the
    command asks again (and a run is created once); an API that stays busy is one error."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from hotline.services import service_runs

    monkeypatch.setattr(service_runs, "RETRY_S", (0.01, 0.01, 0.01))
    busy = {"left": 2}
    created: list[str] = []

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (the handler's protocol)
            self._answer(200, {"id": "d-1"})

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            if busy["left"] > 0:
                busy["left"] -= 1
                self._answer(503, {"exception_message": "Service Unavailable"})
                return
            created.append(self.path)
            self._answer(201, {"id": "r-1", "name": "lucky-fox"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"http://127.0.0.1:{server.server_address[1]}/api"
        with service_runs.ServiceClient(api) as client:
            run = client.submit(service_runs.PROCESS_REPORTS, {})
        assert (run.id, created) == ("r-1", ["/api/deployments/d-1/create_flow_run"])
        busy["left"] = 10  # busy longer than the client waits
        with service_runs.ServiceClient(api) as client, pytest.raises(service_runs.ServiceRunError, match="503"):
            client.submit(service_runs.PROCESS_REPORTS, {})
    finally:
        server.shutdown()
