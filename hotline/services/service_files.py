"""What a running ``hotline up`` leaves in ``<data_dir>/service`` so that other commands find
it: a pid file, a state file (the Prefect API URL, the review app's URL, each component's
state) and, when detached, its log file.

Flow commands read the state file to run against the service's Prefect server
(``running_api_url``): no PREFECT_API_URL to set. A pid file whose process is gone (a
killed service, a rebooted box) is stale: it counts as not running and is replaced.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path


class ServiceError(Exception):
    """An expected failure of ``hotline up``/``down``/``status``: said in one line."""


@dataclass(frozen=True)
class ComponentState:
    name: str
    state: str  # starting, running, restarting (after a crash), done (a step), stopped
    pid: int | None = None
    restarts: int = 0
    detail: str = ""


@dataclass(frozen=True)
class ServiceState:
    pid: int
    api_url: str
    review_url: str
    started_at: str
    ready: bool = False  # every component started and ready
    components: tuple[ComponentState, ...] = ()


@dataclass(frozen=True)
class ServiceFiles:
    folder: Path

    @property
    def pid_file(self) -> Path:
        return self.folder / "hotline.pid"

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def log_file(self) -> Path:
        return self.folder / "hotline.log"

    def pid(self) -> int | None:
        """The pid in the pid file, if there is one that holds a number."""
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def live_pid(self) -> int | None:
        """The pid of the running service; None when there is none or the pid file is stale."""
        pid = self.pid()
        return pid if pid is not None and _is_service(pid) else None

    def claim(self) -> None:
        """Write our pid, refusing while another service runs on this data directory; a stale
        pid file is replaced."""
        self.folder.mkdir(parents=True, exist_ok=True)
        other = self.live_pid()
        if other is not None and other != os.getpid():
            raise ServiceError(f"hotline is already up on this data directory (pid {other}): "
                               "`hotline status` shows it, `hotline down` stops it")
        _write_atomically(self.pid_file, f"{os.getpid()}\n")

    def release(self) -> None:
        if self.pid() == os.getpid():
            self.pid_file.unlink(missing_ok=True)
            self.state_file.unlink(missing_ok=True)

    def write_state(self, state: ServiceState) -> None:
        _write_atomically(self.state_file, json.dumps(asdict(state), indent=2))

    def state(self) -> ServiceState | None:
        """The state the running service last wrote; None when none runs."""
        if self.live_pid() is None:
            return None
        try:
            raw = json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        components = tuple(ComponentState(**c) for c in raw.pop("components", ()))
        return ServiceState(**raw, components=components)


def service_files(data_dir: Path) -> ServiceFiles:
    return ServiceFiles(data_dir / "service")


def running_api_url(data_dir: Path) -> str | None:
    """The Prefect API URL of the service running on ``data_dir`` when it answers, else None."""
    state = service_files(data_dir).state()
    if state is None or not api_answers(state.api_url):
        return None
    return state.api_url


def api_answers(api_url: str, timeout: float = 3.0) -> bool:
    """Whether the Prefect server at ``api_url`` says it is healthy."""
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except OSError:
        return False


def _is_service(pid: int) -> bool:
    """Whether ``pid`` is alive and is a ``hotline up`` (not a process that reused a dead
    service's pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid
    return any(b"hotline" in part for part in cmdline) and b"up" in cmdline


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
