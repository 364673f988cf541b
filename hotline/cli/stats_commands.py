"""``hotline stats``: the figures, snapshots for statisticians, the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.output import emit_json, table
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, open_installation

commands = typer.Typer()
stats_app = typer.Typer(help="Statistics: the figures, snapshots for statisticians, the HTML report.")
commands.add_typer(stats_app, name="stats")


FromSnapshotOpt = Annotated[
    bool, typer.Option("--from-snapshot", help="Read the current snapshot instead of the catalog.")
]


JurisdictionOpt = Annotated[
    str | None, typer.Option(help="Whose law the verdicts are under: HOTLINE_COUNTRY (default), INTERPOL, ...")
]


def _figures(from_snapshot: bool, jurisdiction: str | None, *, read_only: bool = False):  # noqa: ANN202
    from stats import SnapshotOptions, compute_figures, snapshot_figures

    inst = open_installation(read_only=read_only)
    s = inst.settings
    if from_snapshot:
        return inst, snapshot_figures(s.snapshot_dir, jurisdiction)
    return inst, compute_figures(inst.catalog, SnapshotOptions(country=s.country, urls=s.stats_urls), jurisdiction)


@stats_app.callback(invoke_without_command=True)
@handles_errors
def stats(
    ctx: typer.Context,
    from_snapshot: FromSnapshotOpt = False,
    jurisdiction: JurisdictionOpt = None,
    period: Annotated[str, typer.Option(help="Periods of the last table: week or month.")] = "month",
    as_json: JsonOpt = False,
) -> None:
    """The figures hotlines publish (docs/statistics.md), computed with DuckDB."""
    if ctx.invoked_subcommand is not None:
        return
    from stats import console_tables

    if period not in ("week", "month"):
        raise ValueError(f"--period is week or month, not {period!r}")
    _, figures = _figures(from_snapshot, jurisdiction, read_only=True)
    if as_json:
        emit_json(figures)
        return
    for title, columns, rows in console_tables(figures, grain=period):
        table(title, columns, rows)


@stats_app.command("snapshot")
@handles_errors
def stats_snapshot(as_json: JsonOpt = False) -> None:
    """Write a media-free snapshot (DuckDB file and Parquet) for statisticians; make it current."""
    from hotline.cli.progress import progress_shown
    from hotline.progress import Steps
    from stats import SnapshotOptions, write_snapshot
    from stats.snapshot_versions import SNAPSHOT_STEPS

    inst = open_installation()
    s = inst.settings
    with progress_shown(as_json) as progress:
        steps = Steps("snapshot", SNAPSHOT_STEPS, progress)
        info = write_snapshot(inst.catalog, s.snapshot_dir, SnapshotOptions(country=s.country, urls=s.stats_urls),
                              keep=s.stats_keep, actor=actor_of(inst), on_step=steps)
        steps.finish()
    if as_json:
        emit_json(info)
    else:
        typer.echo(f"snapshot {info.version} ({info.rows['reports']} reports, {info.rows['items']} items, "
                   f"URLs: {info.url_policy}) in {info.seconds:.1f} s: {s.snapshot_dir / 'current' / 'hotline.duckdb'}")


@stats_app.command("report")
@handles_errors
def stats_report(
    out: Annotated[Path, typer.Option("--out", help="Folder to write index.html into.")],
    from_snapshot: FromSnapshotOpt = False,
    jurisdiction: JurisdictionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the HTML report (charts and tables; opens without a network)."""
    from stats import write_report

    inst, figures = _figures(from_snapshot, jurisdiction)
    path = write_report(figures, out)
    inst.catalog.audit(actor_of(inst), "stats.report", str(path), jurisdiction=figures.jurisdiction,
                       snapshot=figures.version)
    if as_json:
        emit_json({"report": path, "jurisdiction": figures.jurisdiction, "snapshot": figures.version})
    else:
        typer.echo(f"report written: {path}")
