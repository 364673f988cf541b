"""Progress of long work as typed events, for whoever shows it.

The library packages take plain callbacks (rows done, bytes written, a step begun) and know
nothing of this module; the core and the services turn those into ``Progress`` events for
a sink. Only the command line shows them (with rich, on a terminal); everywhere else the
sink is ``ignore``.

Flows called in a command's own process report to the sink that command installed
(``reporting_to``); in a worker's flow run, or on a Dask worker, there is none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


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
