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


NetworkOpt = Annotated[
    bool, typer.Option("--network", help="The network's figures (coordinator): every publishing hotline's.")
]


@stats_app.command("report")
@handles_errors
def stats_report(
    out: Annotated[Path, typer.Option("--out", help="Folder to write index.html into.")],
    from_snapshot: FromSnapshotOpt = False,
    network: NetworkOpt = False,
    jurisdiction: JurisdictionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the HTML report (charts and tables; opens without a network)."""
    from stats import write_report

    if network:
        from stats.network import network_figures

        inst = open_installation()
        figures = network_figures(inst.settings.network_folder / "snapshot", jurisdiction or "home")
    else:
        inst, figures = _figures(from_snapshot, jurisdiction)
    path = write_report(figures, out)
    inst.catalog.audit(actor_of(inst), "stats.report", str(path), jurisdiction=figures.jurisdiction,
                       snapshot=figures.version)
    if as_json:
        emit_json({"report": path, "jurisdiction": figures.jurisdiction, "snapshot": figures.version})
    else:
        typer.echo(f"report written: {path}")


@stats_app.command("publish")
@handles_errors
def stats_publish(
    months: Annotated[int | None, typer.Option(help="The last N months with figures (default: the setting).")] = None,
    every_month: Annotated[bool, typer.Option("--all", help="Every month with figures.")] = False,
    period: Annotated[list[str] | None, typer.Option(help="A month to send (YYYY-MM); repeat for more.")] = None,
    urls: Annotated[bool | None, typer.Option(
        "--urls/--no-urls", help="Also publish the URL rows (URL and host; never media or hashes), only where "
                                 "agreed with the coordinator (default: the setting stats_publish_urls).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send our media-free monthly statistics, signed and encrypted, to the coordinator."""
    from hotline.services.network_stats import publish_statistics

    inst = open_installation()
    last = None if every_month or period else (months or inst.settings.stats_publish_months)
    done = publish_statistics(inst, last=last, periods=period or None, urls=urls, actor=actor_of(inst))
    if as_json:
        emit_json({"published": done})
        return
    table("Statistics published", ["period", "bundle", "bytes", "reports", "items", "location"],
          [[p.period, p.bundle_id, f"{p.size:,}", str(p.rows["report_facts"]), str(p.rows["items"]), p.location]
           for p in done])


@stats_app.command("import")
@handles_errors
def stats_import(
    files: Annotated[list[Path] | None, typer.Argument(help="Bundle files; default: the statistics inbound.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Coordinator: import publishing hotlines' statistics bundles and rebuild the network snapshot."""
    from hotline.services.network_stats import poll_statistics

    inst = open_installation()
    result = poll_statistics(inst, actor=actor_of(inst), files=files or None)
    if as_json:
        emit_json(result)
        return
    table("Statistics bundles", ["hotline", "period", "outcome", "detail"],
          [[r.hotline, r.period, "replaced" if r.replaced else "imported", r.bundle_id] for r in result.imported]
          + [["", "", "refused", f"{where}: {why}"] for where, why in result.refused])
    if result.snapshot is not None:
        typer.echo(f"network snapshot {result.snapshot.version}: {len(result.snapshot.hotlines)} hotline(s), "
                   f"{result.snapshot.periods} month(s): {result.snapshot.path}")
    if result.refused and not result.imported:
        raise typer.Exit(1)


@stats_app.command("network")
@handles_errors
def stats_network(
    rebuild: Annotated[bool, typer.Option(help="Build the network snapshot again from what is kept.")] = False,
    jurisdiction: JurisdictionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Coordinator: the network's figures (summed over hotlines) from the network snapshot."""
    from hotline.services.network_stats import write_network
    from stats.network import network_figures

    inst = open_installation()
    if rebuild:
        write_network(inst)
    figures = network_figures(inst.settings.network_folder / "snapshot", jurisdiction or "home")
    if as_json:
        emit_json(figures)
        return
    table(f"The network, jurisdiction {figures.jurisdiction} ({figures.version})", ["figure", "value"],
          [[k, str(v)] for k, v in figures.overview.items()])


@stats_app.command("publisher")
@handles_errors
def stats_publisher(
    name: Annotated[str, typer.Argument(help="The hotline's name in the network's figures.")],
    signing_key: Annotated[list[Path], typer.Option(help="Its Ed25519 public key(s) (PEM); added to those known.")],
    as_json: JsonOpt = False,
) -> None:
    """Coordinator: take statistics bundles signed with these keys as hotline NAME's."""
    from hotline.services.network_stats import add_publisher

    inst = open_installation()
    prints = add_publisher(inst, name, signing_key, actor=actor_of(inst))
    if as_json:
        emit_json({"publisher": name, "fingerprints": prints})
    else:
        typer.echo(f"publisher {name}: signing keys {', '.join(prints)}")
