"""Starts the worker's flow runs from a process that has imported Prefect and the flows once.

Prefect's process worker starts each flow run as ``python -m prefect.engine``: a new
interpreter that imports Prefect and the flow's packages again, seconds of CPU a run (most of
what a flow command waits for on the service). ``hotline up`` runs this module as its
``starter`` component instead: it imports them once, then forks a process per flow run,
which runs Prefect's own engine entry point with the run's environment. The work pool's
command (``command``) is this file run as a small script (standard library only, no site):
it hands its standard streams, environment and working directory to the starter over a Unix
socket in ``<data_dir>/service`` (mode 600, same user only), passes on SIGTERM and SIGINT,
and exits with the run's exit status, so that the worker sees it as the flow run's process.
When no starter answers (the service restarts it; a worker started by hand), it becomes
``python -m prefect.engine`` itself, Prefect's own way.

The starter stays single-threaded until it forks: nothing of Prefect runs in it (no client,
no event loop, no logging thread), so each child starts clean.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

SOCKET = "flows.sock"
_PACKET = 1 << 20  # the environment and working directory of a run: a few kilobytes


def command(service_folder: Path) -> list[str]:
    """The work pool's command for a flow run: this file as a script, the starter's socket."""
    return [sys.executable, "-I", "-S", str(Path(__file__).resolve()), "start", str(service_folder.resolve())]


def _connect(folder: str) -> socket.socket:
    """A connection to the starter's socket, reached from its folder: a Unix socket path is
    limited to about 100 bytes, and data directories may be deeper."""
    here = os.getcwd()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        os.chdir(folder)
        sock.connect(SOCKET)
    except OSError:
        sock.close()
        raise
    finally:
        os.chdir(here)
    return sock


def start(folder: str) -> int:
    """The flow run's process, as the worker starts it: the run forked by the starter, or
    Prefect's engine here when there is no starter."""
    here = os.getcwd()
    try:
        sock = _connect(folder)
    except OSError:
        os.execv(sys.executable, [sys.executable, "-m", "prefect.engine"])
    request = json.dumps({"env": dict(os.environ), "cwd": here}).encode()
    socket.send_fds(sock, [request], [0, 1, 2])
    answer = sock.recv(_PACKET)
    if not answer:
        return 1  # the starter went away before it forked
    pid = int(answer)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: _pass_on(pid, signum))
    status = sock.recv(_PACKET)
    return int(status) if status else 1  # no status: the run's process was killed


def _pass_on(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def serve(folder: Path) -> None:
    """The ``starter`` component: import once, then fork a run's process for each request."""
    _preload()
    folder.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    os.chdir(folder)
    (folder / SOCKET).unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mask = os.umask(0o177)
    try:
        listener.bind(SOCKET)
    finally:
        os.umask(mask)
        os.chdir(here)
    listener.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the runs' processes are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ready: flow runs fork from pid {os.getpid()}", flush=True)
    try:
        while True:
            conn, _ = listener.accept()
            if not _same_user(conn):
                conn.close()
                continue
            try:
                message, fds, _flags, _addr = socket.recv_fds(conn, _PACKET, 3)
                request = json.loads(message)
            except (OSError, ValueError) as exc:
                print(f"a request that is no flow run: {exc}", flush=True)
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                _run(conn, request, fds)  # does not return
            print(f"flow run {request['env'].get('PREFECT__FLOW_RUN_ID')}: process {pid}", flush=True)
            for fd in fds:
                os.close(fd)
            conn.close()
    finally:
        listener.close()
        (folder / SOCKET).unlink(missing_ok=True)


def _same_user(conn: socket.socket) -> bool:
    import struct

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


# What Prefect imports on first use in each run's process, after its engine: the task
# engine (a task's first call), the deployment's pull steps and what they import, the
# observers of a deployment's run, the cron schedules read with the deployment. Each run
# imported them again (a tenth of a second of CPU and more); one Prefect version may lack one.
_LAZY = ("prefect.task_engine", "prefect.utilities.visualization", "prefect.deployments.steps", "prefect.runner",
         "prefect._internal.observers", "prefect.concurrency.sync", "prefect.client.schemas.schedules",
         "anyio._backends._asyncio")


def _preload() -> None:
    """Prefect's engine and what it imports on first use; every flow of prefect.yaml: what
    each run would import again."""
    import importlib

    import prefect.engine  # noqa: F401
    import prefect.flow_engine  # noqa: F401
    import yaml

    for name in _LAZY:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    _warm_schedules()
    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo))
    for deployment in yaml.safe_load((repo / "prefect.yaml").read_text())["deployments"]:
        path = deployment["entrypoint"].partition(":")[0]
        importlib.import_module(path.removesuffix(".py").replace("/", "."))


def _warm_schedules() -> None:
    """A run reads its deployment, whose cron schedules Prefect validates: the first
    validation in a process lists every time zone (hundreds of files looked up)."""
    try:
        from prefect.client.schemas.schedules import CronSchedule

        CronSchedule(cron="0 * * * *", timezone="UTC")
    except (ImportError, ValueError):
        pass


def _run(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the run's process (its streams, environment and working
    directory) and run Prefect's engine entry point; stop (SIGTERM, which Prefect's engine
    handles) when the process the worker started goes away."""
    import threading

    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # crawls are subprocesses the run waits for
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for fd, standard in zip(fds, (0, 1, 2), strict=True):
            os.dup2(fd, standard)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        conn.sendall(str(os.getpid()).encode())
        threading.Thread(target=_stop_when_orphaned, args=(conn,), daemon=True).start()
        code = _engine()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - said on the run's stderr, the worker's log
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            conn.sendall(str(code).encode())
        except OSError:
            pass
        os._exit(code)


def _stop_when_orphaned(conn: socket.socket) -> None:
    """The worker's process sends nothing more: the connection ends when it is gone (killed)."""
    try:
        conn.recv(1)
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def _engine() -> int:
    """``python -m prefect.engine`` in this process, with settings read from the run's environment."""
    import runpy
    import warnings

    from prefect.context import SettingsContext, get_settings_context
    from prefect.settings import Settings

    # runpy warns that prefect.engine is imported already: it is, on purpose (``_preload``)
    warnings.filterwarnings("ignore", message="'prefect.engine' found in sys.modules", category=RuntimeWarning)
    sys.argv = ["prefect.engine"]
    current = get_settings_context()
    with SettingsContext(profile=current.profile, settings=Settings()):
        try:
            runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["start"]:
        sys.exit(start(sys.argv[2]))
    if sys.argv[1:2] == ["serve"]:
        serve(Path(sys.argv[2]))
