"""The box as one service: ``hotline up`` (in the foreground, or ``--detach``ed), ``down``
and ``status``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hotline.cli.output import emit_json, fail, table
from hotline.cli.shared import JsonOpt, handles_errors, load_settings, open_installation

commands = typer.Typer()

PrefectPort = Annotated[int | None, typer.Option("--prefect-port", help="Prefect server port (default HOTLINE_PREFECT_PORT, 4200).")]
ReviewPort = Annotated[int | None, typer.Option("--review-port", help="Review app port (default HOTLINE_REVIEW_PORT).")]


@commands.command()
@handles_errors
def up(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background (log in the data directory).")] = False,
    prefect_port: PrefectPort = None,
    review_port: ReviewPort = None,
    as_json: JsonOpt = False,
) -> None:
    """Run what the box needs, supervised: a Prefect server (SQLite in the data directory, or
    beside a PostgreSQL catalog), the deployments of prefect.yaml, a worker and the review app.
    Flow commands (run, export, recheck, ...) then use its server. Ctrl-C stops it all."""
    from hotline.services import box

    settings = load_settings()
    open_installation().close()  # fail now, not in every component, when there is no installation
    if not detach:
        box.up(settings, sys.stdout, prefect_port, review_port)
        return
    argv = [sys.executable, "-m", "hotline.cli", "up"]
    argv += ["--prefect-port", str(prefect_port)] if prefect_port else []
    argv += ["--review-port", str(review_port)] if review_port else []
    try:
        state = box.detach(settings, argv)
    except KeyboardInterrupt:
        fail("stopped waiting: hotline up goes on starting in the background (`hotline status`, `hotline down`)")
    if as_json:
        emit_json(box.status(settings))
    else:
        typer.echo(f"hotline is up (pid {state.pid}): Prefect API {state.api_url}, review app {state.review_url}; "
                   f"log {box.service_files(settings.data_dir).log_file}")


@commands.command()
@handles_errors
def down(as_json: JsonOpt = False) -> None:
    """Stop a hotline up running in the background (every component, cleanly)."""
    from hotline.services import box

    stopped = box.down(load_settings())
    if as_json:
        emit_json({"stopped": stopped})
    else:
        typer.echo("hotline was not up" if stopped is None else f"hotline is down (pid {stopped} stopped)")


@commands.command()
@handles_errors
def status(as_json: JsonOpt = False) -> None:
    """Whether hotline up runs on this data directory, its API URL and each component's state.
    Exit status 0 when it runs and its Prefect API answers, else 1."""
    from hotline.services import box

    shown = box.status(load_settings())
    if as_json:
        emit_json(shown)
    elif not shown["running"]:
        typer.echo("hotline is not up" + (" (a stale pid file was left by a service that died)"
                                          if shown["stale_pid_file"] else ""))
    else:
        answers = "answers" if shown["api_answers"] else "does not answer"
        typer.echo(f"hotline is up (pid {shown['pid']}, since {shown['started_at']}): Prefect API "
                   f"{shown['api_url']} {answers}; review app {shown['review_url']}")
        table("components", ["component", "state", "pid", "restarts", "detail"],
              [(c.name, c.state, c.pid, c.restarts, c.detail) for c in shown["components"]])
    if not (shown["running"] and shown["api_answers"]):
        raise typer.Exit(1)
