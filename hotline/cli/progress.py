"""Progress of long commands, shown the way rich shows it: a bar per stage with its count,
rate and time left (bytes as sizes), on stderr. Only on a terminal, and never with
``--json``: a script or a pipe gets the command's output alone."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich import filesize
from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bars
from rich.text import Text

from hotline.cli.output import errors
from hotline.progress import Progress, ProgressSink, hidden, ignore, reporting_to


def _amount(value: float, unit: str) -> str:
    return filesize.decimal(int(value)) if unit == "bytes" else f"{value:,.0f}"


class _Count(ProgressColumn):
    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "")
        done = _amount(task.completed, unit)
        whole = f"/{_amount(task.total, unit)}" if task.total is not None else ""
        return Text(f"{done}{whole} {'' if unit == 'bytes' else unit}".rstrip())


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed, unit = task.speed, task.fields.get("unit", "")
        if not speed:
            return Text("")
        return Text(f"{filesize.decimal(int(speed))}/s" if unit == "bytes" else f"{speed:,.0f} {unit}/s")


def shows_progress(as_json: bool) -> bool:
    return not as_json and sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress_shown(as_json: bool) -> Iterator[ProgressSink]:
    """A sink showing progress events on the terminal (``ignore`` when there is none, or with
    ``--json``), also the sink of flows run in this process."""
    if not shows_progress(as_json):
        with reporting_to(hidden):
            yield ignore
        return
    bars = Bars(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _Count(), _Rate(),
                TimeRemainingColumn(), console=errors, transient=False)
    tasks: dict[str, Any] = {}

    def show(event: Progress) -> None:
        if event.stage not in tasks:
            tasks[event.stage] = bars.add_task(event.stage, total=event.total, unit=event.unit)
        task = tasks[event.stage]
        changes: dict[str, Any] = {"advance": event.advance}
        if event.total is not None:
            changes["total"] = event.total
        if event.note:
            changes["description"] = f"{event.stage}: {event.note}"
        bars.update(task, **changes)

    with bars, reporting_to(show):
        yield show
