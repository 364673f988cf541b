"""Progress of long work as typed events, for whoever shows it.

The library packages take plain callbacks (rows done, bytes written, a step begun) and know
nothing of this module; the core and the services turn those into ``Progress`` events for
a sink. Only the command line shows them (with rich, on a terminal); everywhere else the
sink is ``ignore``.

Flows called in a command's own process report to the sink that command installed
(``reporting_to``). A flow run that nobody watches in its own process (the service's worker
started it) keeps a tally of where each stage stands (``recorded``), which its run record in
the catalog carries, and the command that follows the run from its own process shows it
(``catch_up``). On a Dask worker there is no sink.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    """``advance`` more of ``stage`` done (in ``unit``s); ``total`` when the whole is known
    (or became known); ``note`` what is being done now."""

    stage: str
    advance: float = 0
    total: float | None = None
    unit: str = "items"
    note: str = ""


ProgressSink = Callable[[Progress], None]


def ignore(_event: Progress) -> None:
    """The sink of work nobody watches."""


def hidden(_event: Progress) -> None:
    """The sink of a command that runs a flow in its own process and shows nothing (``--json``,
    no terminal): nobody follows that run from elsewhere either, so it records nothing."""


_lock = threading.Lock()
_sink: ProgressSink = ignore


@contextmanager
def reporting_to(sink: ProgressSink) -> Iterator[None]:
    """Within the block, ``report`` in this process (any thread: a flow's tasks) goes to ``sink``."""
    global _sink
    with _lock:
        before, _sink = _sink, sink
    try:
        yield
    finally:
        with _lock:
            _sink = before


def report(event: Progress) -> None:
    """Tell the process's sink (none: nothing happens)."""
    _sink(event)


def counter(stage: str, unit: str, sink: ProgressSink | None = None) -> Callable[[int], None]:
    """A library's plain callback (``n`` more done) as events of ``stage``."""
    target = sink or report
    return lambda n: target(Progress(stage, advance=n, unit=unit))


class Steps:
    """A library's "step begun" callback as events of ``stage``: a step counts as done when
    the next one begins, the last one at ``finish``."""

    def __init__(self, stage: str, total: int, sink: ProgressSink | None = None) -> None:
        self.stage, self.total, self.sink, self.begun = stage, total, sink or report, 0

    def __call__(self, name: str) -> None:
        self.sink(Progress(self.stage, advance=1 if self.begun else 0, total=self.total, unit="steps", note=name))
        self.begun += 1

    def finish(self) -> None:
        self.sink(Progress(self.stage, advance=1, total=self.total, unit="steps", note="done"))


@dataclass
class StageFigures:
    """Where one stage stands: ``done`` of ``total`` (None: not known) ``unit``s, and what
    is being done now (``note``)."""

    stage: str
    done: float = 0
    total: float | None = None
    unit: str = "items"
    note: str = ""


class Tally:
    """A sink that keeps where each stage stands (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, StageFigures] = {}
        self.changes = 0

    def __call__(self, event: Progress) -> None:
        with self._lock:
            figures = self._stages.setdefault(event.stage, StageFigures(event.stage, unit=event.unit))
            figures.done += event.advance
            if event.total is not None:
                figures.total = event.total
            if event.note:
                figures.note = event.note
            self.changes += 1

    def figures(self) -> list[dict[str, Any]]:
        """Each stage's figures (``StageFigures`` as a plain record), in the order they began."""
        with self._lock:
            return [asdict(f) for f in self._stages.values()]


@contextmanager
def recorded(write: Callable[[list[dict[str, Any]]], None], every_s: float = 0.5) -> Iterator[None]:
    """Within the block, when nothing in this process shows progress (no sink), events are
    tallied (``Tally``) and ``write`` gets the figures from a thread of its own, at most
    every ``every_s`` seconds when they changed, and once more at the end of the block.
    With a sink (a command runs the flow in its own process) nothing is recorded."""
    if _sink is not ignore:
        yield
        return
    tally = Tally()
    stop = threading.Event()
    written = 0

    def flush() -> None:
        nonlocal written
        changes = tally.changes
        if changes != written:
            write(tally.figures())
            written = changes

    def keep_writing() -> None:
        while not stop.wait(every_s):
            flush()

    writer = threading.Thread(target=keep_writing, name="progress", daemon=True)
    with reporting_to(tally):
        writer.start()
        try:
            yield
        finally:
            stop.set()
            writer.join()
            flush()


def catch_up(shown: MutableMapping[str, Mapping[str, Any]], figures: Sequence[Mapping[str, Any]]) -> list[Progress]:
    """The events that bring a display which has shown ``shown`` (the figures of each stage
    it showed last) to ``figures`` (``Tally.figures``, as a run recorded them); ``shown`` is
    updated."""
    events = []
    for f in figures:
        before = shown.get(f["stage"])
        if before == f:
            continue
        events.append(Progress(f["stage"], advance=f["done"] - (before["done"] if before else 0), total=f["total"],
                               unit=f["unit"], note=f["note"]))
        shown[f["stage"]] = f
    return events
