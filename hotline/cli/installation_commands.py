"""Commands that set up and look after an installation: init, doctor, backup and restore,
purge, repair; the audit log; the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from hotline.cli.output import emit_json, fail, table
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, load_settings, open_installation, use_running_service

commands = typer.Typer()


@commands.command()
@handles_errors
def init(as_json: JsonOpt = False) -> None:
    """Create the data directory: catalog, evidence store and this installation's keys."""
    from hotline.installation import Installation

    inst = Installation.init(load_settings())
    info: dict[str, Any] = {
        "data_dir": str(inst.settings.data_dir.resolve()),
        "catalog": inst.settings.catalog,
        "schema_revision": inst.catalog.schema_revision(),
        "keys": inst.keys.describe(),
    }
    if as_json:
        emit_json(info)
    else:
        table("hotline installation", ["what", "value"],
              [(k, v) for k, v in info.items() if k != "keys"] + [(f"key {k}", v) for k, v in info["keys"].items()])


@commands.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check keys, catalog integrity and schema, evidence (a sample decrypts, orphaned objects),
    quarantined items, free space and Prefect. Each check is ok, warn or fail; the exit status
    is the worst: 0 ok, 1 warn, 2 fail. Reads only; never ends in a traceback."""
    from hotline.services.doctor import LEVELS, Check, run_doctor, worst

    try:
        use_running_service()  # the Prefect server to check is that of a running `hotline up`
        checks = run_doctor(load_settings())
    except Exception as exc:  # noqa: BLE001 - bad settings: still one document for monitoring
        checks = [Check("settings", False, " ".join(str(exc).split()) or type(exc).__name__)]
    level = worst(checks)
    if as_json:
        emit_json({"level": level, "checks": checks})
    else:
        table("hotline doctor", ["check", "level", "detail"],
              [(c.name, c.level if c.level == "ok" else c.level.upper(), c.detail) for c in checks])
    raise typer.Exit(LEVELS.index(level))


@commands.command()
@handles_errors
def backup(
    destination: Annotated[
        Path | None, typer.Argument(help="Folder to write the backup into (a hotline-backup-<time> folder).")
    ] = None,
    verify: Annotated[
        Path | None, typer.Option("--verify", help="Check this backup folder, and the evidence store against it.")
    ] = None,
    decrypt: Annotated[
        bool, typer.Option("--decrypt", help="With --verify: also decrypt every object (reads the whole store).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Back up the catalog (SQLite online backup, or pg_dump), the keys, and a manifest of the
    evidence objects; or, with --verify, check a backup and hold the evidence store against
    its manifest (exit 1 when objects are missing)."""
    from hotline.services.installation_backup import BackupError, make_backup, verify_backup

    if (destination is None) == (verify is None):
        raise ValueError("give a destination folder, or --verify BACKUP")
    try:
        if destination is not None:
            info = make_backup(open_installation(read_only=True), destination)
            if as_json:
                emit_json(info)
            else:
                ev = info.evidence
                typer.echo(f"backup {info.folder} in {info.seconds:.1f} s: {info.catalog['kind']} catalog "
                           f"({info.catalog['bytes']} bytes, revision {info.catalog['schema_revision']}), "
                           f"{len(info.keys)} key file(s), manifest of {ev['objects']} stored object(s) "
                           f"({ev['missing']} item(s) without evidence, {ev['orphans']} object(s) unknown to the catalog)")
                typer.echo("it holds private keys: keep it encrypted and offline (docs/operations.md)")
            return
        assert verify is not None
        meta, check = verify_backup(open_installation(read_only=True), verify, decrypt=decrypt)
    except BackupError as exc:
        fail(str(exc))
        return
    if as_json:
        emit_json({"backup": str(verify), "created_at": meta["created_at"], "evidence": check, "ok": check.ok})
    else:
        typer.echo(f"backup {verify.name} of {meta['created_at']}: files intact; evidence: {check.present} of "
                   f"{check.expected} object(s) present" + (" and decrypted" if decrypt else "")
                   + f", {check.missing} missing, {check.resized} changed in size, {check.unreadable} unreadable; "
                   f"{check.newer} stored since")
        for example in check.examples:
            typer.echo(f"  {example}")
    if not check.ok:
        raise typer.Exit(1)


@commands.command()
@handles_errors
def restore(
    backup_folder: Annotated[Path, typer.Argument(help="A hotline-backup-<time> folder.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a catalog that is healthy (changes since are lost).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup: missing keys, then the catalog into a fresh file (or database) that
    takes the old one's place (kept, renamed), then the schema and an evidence check against
    the backup's manifest. Works on a damaged catalog; stop the workers first."""
    from catalog.users.store import SYSTEM
    from hotline.services.installation_backup import BackupError, restore_backup

    settings = load_settings()
    try:
        result = restore_backup(settings, backup_folder, force=force, actor=SYSTEM)
    except BackupError as exc:
        fail(str(exc))
        return
    if as_json:
        emit_json(result)
    else:
        ev = result.evidence
        typer.echo(f"restored {result.backup} (of {result.created_at}) into {result.catalog.catalog} in "
                   f"{result.seconds:.1f} s; schema {result.schema_revision}")
        for kept in result.catalog.kept:
            typer.echo(f"  replaced catalog kept as {kept}")
        if result.keys_restored:
            typer.echo(f"  keys restored: {', '.join(result.keys_restored)}")
        typer.echo(f"evidence: {ev.present} of {ev.expected} object(s) of the backup present, {ev.missing} missing, "
                   f"{ev.resized} changed in size" + (f"; {ev.newer} stored since the backup, unknown to this catalog"
                                                      if ev.newer else ""))
        for example in ev.examples:
            typer.echo(f"  {example}")
    if not result.evidence.ok:
        raise typer.Exit(1)


@commands.command()
@handles_errors
def purge(
    older_than_days: Annotated[int, typer.Option(min=1, help="Purge evidence decided this many days ago or more.")],
    dry_run: Annotated[bool, typer.Option(help="Only count what would be purged.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete the evidence of items decided (and exported, if exportable) long ago; hashes and verdicts stay."""
    from datetime import timedelta

    from hotline.services.evidence_purge import purge_evidence

    inst = open_installation()
    result = purge_evidence(inst, older_than=timedelta(days=older_than_days), actor=actor_of(inst),
                            dry_run=dry_run)
    if as_json:
        emit_json(result)
    else:
        verb = "would purge" if dry_run else "purged"
        typer.echo(f"{verb} the evidence of {result.candidates if dry_run else result.purged} item(s)")


@commands.command()
@handles_errors
def repair(as_json: JsonOpt = False) -> None:
    """Re-attach stored items seen on no report to the report whose crawl stored them, and
    put reports closed with unprocessed items back to be processed (by the next run)."""
    inst = open_installation()
    result = inst.catalog.reattach_media(actor=actor_of(inst))
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"re-attached {len(result.reattached)} item(s); {len(result.unattached)} without a crawl "
                   f"that stored them; {len(result.reports)} report(s) back to pending")
    if result.unattached:
        raise typer.Exit(1)


@commands.command()
@handles_errors
def audit(limit: Annotated[int, typer.Option()] = 50, as_json: JsonOpt = False) -> None:
    """The newest entries of the audit log."""
    entries = open_installation(read_only=True).catalog.audit_entries(limit=limit)
    if as_json:
        emit_json(entries)
    else:
        table("audit log", ["at", "actor", "action", "subject"],
              [(e.at, e.actor, e.action, e.subject) for e in entries])


@commands.command()
@handles_errors
def demo(
    images: Annotated[int, typer.Option(help="How many synthetic images the demo site shows.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Serve a generated benign site on 127.0.0.1, report it, process it and show the outcome."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the demo prints its own summary
    from hotline.demo.gallery_demo import run_demo

    result = run_demo(load_settings(), images=images, quiet=as_json)
    if as_json:
        emit_json(result)
