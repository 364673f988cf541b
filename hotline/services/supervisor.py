"""Runs processes as one service: one log stream (each line prefixed by its component's
name), a component that dies restarted after a backoff (said in the log), and all of them
stopped together.

Components start in stages: each stage's services must be ready (their probe answers)
before the next stage starts, and a step (``Component.step``) must have run to success;
a failed step is run again after the backoff. Knows nothing of Prefect or hotline.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hotline.services.service_files import ComponentState

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
STABLE_S = 60.0  # a component that ran this long starts its backoff again from the first step
STOP_WAIT_S = 30.0


@dataclass(frozen=True)
class Component:
    name: str
    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path
    ready: Callable[[], bool] | None = None  # a probe; None: ready once started
    step: bool = False  # runs to completion (exit 0) once, instead of being kept running
    start_timeout_s: float = 600.0  # how long a probe may take to answer before a restart


@dataclass
class _Running:
    component: Component
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    failures: int = 0  # in a row, for the backoff
    retry_at: float | None = None
    state: str = "starting"
    detail: str = ""
    readers: list[threading.Thread] = field(default_factory=list)


class Supervisor:
    """``run(stages)`` until ``stop`` is set; ``on_change`` gets every component's state
    whenever one changes (the service's state file)."""

    def __init__(self, out: TextIO, on_change: Callable[[tuple[ComponentState, ...]], None]) -> None:
        self.out = out
        self.on_change = on_change
        self.stop = threading.Event()
        self.ready = False  # every stage started and ready
        self._lock = threading.Lock()
        self._all: list[_Running] = []

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{name:<8}| {line}\n")
            self.out.flush()

    def run(self, stages: Sequence[Sequence[Component]]) -> None:
        try:
            for stage in stages:
                running = [_Running(c) for c in stage]
                self._all.extend(running)
                for r in running:
                    self._start(r)
                while not self.stop.is_set() and not all(self._settled(r) for r in running):
                    self._tend()
                    self.stop.wait(0.5)
                if self.stop.is_set():
                    return
            self.ready = True
            self.on_change(self.states())
            self.say("hotline", "up: every component is running")
            while not self.stop.is_set():
                self._tend()
                self.stop.wait(0.5)
        finally:
            self._stop_all()

    def _settled(self, r: _Running) -> bool:
        if r.component.step:
            return r.state == "done"
        if r.state == "running":
            return True
        probe = r.component.ready
        if r.proc is not None and r.proc.poll() is None and (probe is None or probe()):
            self._set(r, "running", "")
            return True
        if r.proc is not None and r.proc.poll() is None and time.monotonic() - r.started > r.component.start_timeout_s:
            self.say(r.component.name, f"not ready after {r.component.start_timeout_s:.0f} s: restarting")
            self._terminate(r)
        return False

    def _tend(self) -> None:
        """Note what became ready; restart what died, once its backoff has passed."""
        now = time.monotonic()
        for r in self._all:
            if r.state == "starting" and not r.component.step:
                self._settled(r)
            if r.proc is not None and r.proc.poll() is not None and r.retry_at is None and r.state != "done":
                code = r.proc.returncode
                if r.component.step and code == 0:
                    self._set(r, "done", "")
                    continue
                if now - r.started > STABLE_S:
                    r.failures = 0
                delay = BACKOFF_S[min(r.failures, len(BACKOFF_S) - 1)]
                r.failures += 1
                r.retry_at = now + delay
                what = "failed" if r.component.step else "exited"
                self.say(r.component.name, f"{what} with status {code}; starting again in {delay:.0f} s")
                self._set(r, "restarting", f"{what} with status {code}")
            elif r.retry_at is not None and now >= r.retry_at:
                r.retry_at = None
                r.restarts += 1
                self._start(r)

    def _start(self, r: _Running) -> None:
        c = r.component
        try:
            r.proc = subprocess.Popen(
                list(c.argv), env=c.env, cwd=c.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            self.say(c.name, f"cannot start: {exc}")
            r.proc, r.failures, r.retry_at = None, r.failures + 1, time.monotonic() + BACKOFF_S[-1]
            self._set(r, "restarting", f"cannot start: {exc}")
            return
        r.started = time.monotonic()
        reader = threading.Thread(target=self._relay, args=(c.name, r.proc), daemon=True)
        reader.start()
        r.readers = [reader]
        self._set(r, "starting", "")

    def _relay(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.say(name, raw.decode(errors="replace").rstrip())

    def _set(self, r: _Running, state: str, detail: str) -> None:
        r.state, r.detail = state, detail
        self.on_change(self.states())

    def states(self) -> tuple[ComponentState, ...]:
        return tuple(
            ComponentState(r.component.name, r.state, r.proc.pid if r.proc is not None and r.state != "done" else None,
                           r.restarts, r.detail)
            for r in self._all
        )

    def _stop_all(self) -> None:
        """Stop the components in the reverse order of their start (the server last)."""
        self.ready = False
        for r in reversed(self._all):
            if r.proc is not None and r.proc.poll() is None:
                self.say(r.component.name, "stopping")
                self._terminate(r)
            if r.state != "done":
                r.state = "stopped"
        for r in self._all:
            for reader in r.readers:
                reader.join(timeout=5)
        self.on_change(self.states())

    def _terminate(self, r: _Running) -> None:
        assert r.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(r.proc.pid, signal.SIGTERM)
        try:
            r.proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.say(r.component.name, f"still running {STOP_WAIT_S:.0f} s after SIGTERM: killed")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(r.proc.pid, signal.SIGKILL)
            r.proc.wait()


def _die_with_parent() -> None:
    """Linux: a component gets SIGTERM when the supervisor dies (even by SIGKILL), so none
    is left running without it."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
