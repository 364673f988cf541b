"""The ``hotline`` command line. Thin: each command parses its arguments, calls the core, a
service or a library package, and prints (``output``: one JSON document with ``--json``,
else tables); library errors become a message on stderr and a non-zero exit status
(``shared.handles_errors``).

One module per group of commands, each with a Typer of its own merged into ``app`` here:
``installation_commands`` (init, doctor, backup, restore, purge, repair, audit, demo),
``pipeline_commands`` (run, recheck, hash, match), ``report_commands``, ``known_commands``,
``review_commands`` (classify, serve, queue, rules, profile), ``user_commands`` (login,
logout, whoami, passwd, user), ``exchange_commands`` (export, bundle, keys, partner),
``stats_commands`` and ``service_commands`` (up, down, status).
"""

from __future__ import annotations

import os

# Prefect must not phone home; set before anything imports it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Without PREFECT_API_URL each flow command starts a temporary server; Prefect's default 20 s
# for its start fails on a loaded machine (about 20 s at load 10 on two cores).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from hotline.cli import (  # noqa: E402
    exchange_commands,
    installation_commands,
    known_commands,
    pipeline_commands,
    report_commands,
    review_commands,
    service_commands,
    stats_commands,
    user_commands,
)

app = typer.Typer(help="hotline: crawl reported URLs, hash, match, review and export.", no_args_is_help=True)
for group in (installation_commands, pipeline_commands, report_commands, known_commands, review_commands,
              user_commands, exchange_commands, stats_commands, service_commands):
    app.add_typer(group.commands)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"hotline {version('hotline')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("hotline (version unknown: not installed)")
        raise typer.Exit()


@app.callback()
def main_options(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", envvar="HOTLINE_DATA_DIR", help="Data directory.")
    ] = None,
    show_version: Annotated[bool, typer.Option("--version", help="Print hotline's version and exit.",
                                               callback=_print_version, is_eager=True)] = False,
) -> None:
    if data_dir is not None:
        os.environ["HOTLINE_DATA_DIR"] = str(data_dir)


def main() -> None:
    app()
