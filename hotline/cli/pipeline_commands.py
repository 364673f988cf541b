"""Commands that drive the pipeline: process pending reports, re-check confirmed URLs; hash
and match files by hand."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from hotline.cli.on_service import run_on_service
from hotline.cli.output import emit_json, fail, table
from hotline.cli.progress import progress_shown
from hotline.cli.shared import JsonOpt, handles_errors, load_settings, open_installation, use_running_service

commands = typer.Typer()


@commands.command()
@handles_errors
def run(
    limit: Annotated[int, typer.Option(help="Process at most this many pending reports.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Process pending reports through the process-report flow (crawl, hash, match, queue)."""
    service = use_running_service()
    inst = open_installation()  # fail early, before Prefect starts, if there is no installation
    if service is not None:
        from hotline.services.service_runs import PROCESS_REPORTS

        summary = run_on_service(service, PROCESS_REPORTS, {"limit": limit}, inst, as_json)
    else:
        summary = _run_here(inst, limit, as_json)
    if as_json:
        emit_json(summary)
    else:
        _print_run_summary(summary)


def _run_here(inst: Any, limit: int, as_json: bool) -> dict[str, Any]:
    """process-report in this process (no service): its result, or the run abandoned in one
    line when the Prefect API went away."""
    from catalog.db import utcnow
    from flows.process_report import process_report
    from flows.runs import prefect_api_failure

    started = utcnow()
    try:
        with progress_shown(as_json):
            return process_report(limit=limit)
    except Exception as exc:
        lost = prefect_api_failure(exc)
        if lost is None:
            raise
        _abandon_run(inst, started, lost, as_json)


def _abandon_run(inst: Any, started: Any, lost: str, as_json: bool) -> NoReturn:
    """The Prefect API went away: print what the run did (the catalog has it) and exit 1 at
    once. A normal exit would first try, for minutes, to deliver Prefect's queued events
    to the API that is gone; what they say is in the catalog and in this output."""
    import socket

    from flows.process_report import FLOW

    ran = inst.catalog.last_run_of_process(FLOW, socket.gethostname(), os.getpid())
    if ran is not None and ran.started_at < started:
        ran = None  # an earlier command's run, in a process that had this one's ID
    summary = ran.summary if ran is not None else None
    if ran is None:
        outcome = "nothing was processed: start the Prefect server (or unset PREFECT_API_URL) and run again"
    elif summary is None:
        outcome = "the run did not finish: the next run takes its reports once their lease expires"
    else:
        outcome = ("the run's work is done and recorded in the catalog; the next run or `hotline doctor`"
                   " marks its Prefect record crashed")
        if as_json:
            emit_json(summary)
        else:
            _print_run_summary(summary)
    try:
        fail(f"the Prefect API could not be reached ({lost}); {outcome}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def _print_run_summary(summary: dict[str, Any]) -> None:
    typer.echo(
        f"{len(summary['reports'])} report(s): {summary['media']} item(s), "
        f"{summary['auto_classified']} auto-classified from known sets, {summary['queued']} queued, "
        f"{summary['errors']} error(s)"
    )
    if summary.get("warning"):
        typer.echo(f"warning: {summary['warning']}", err=True)


@commands.command()
@handles_errors
def recheck(
    limit: Annotated[int | None, typer.Option(help="Re-check at most this many URLs (default: setting).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch again the URLs of confirmed items: still up, changed, missing or removed (takedown tracking)."""
    service = use_running_service()
    from catalog.db import utcnow

    inst = open_installation()  # fail early, before Prefect starts, if there is no installation
    catalog = inst.catalog
    started = utcnow()
    if service is not None:
        from hotline.services.service_runs import RECHECK_TAKEDOWNS

        summary = run_on_service(service, RECHECK_TAKEDOWNS, {"limit": limit}, inst, as_json)
    else:
        from flows.recheck import recheck_takedowns

        with progress_shown(as_json):
            summary = recheck_takedowns(limit=limit)
    if as_json:  # with the whole history of every URL this run checked
        emit_json({**summary, "urls": [t.as_dict() for t in catalog.takedown_history(since=started)]})
    else:
        typer.echo(f"{summary['targets']} URL(s) re-checked: {summary['still_up']} still up, "
                   f"{summary['changed']} changed, {summary['missing']} missing (not yet removed), "
                   f"{summary['removed']} removed, "
                   f"{summary['inconclusive']} inconclusive (reasons recorded on the reports)")


@commands.command("hash")
@handles_errors
def hash_files(files: list[Path], as_json: JsonOpt = False) -> None:
    """Hash image and video files: MD5, SHA-1, SHA-256, PDQ (+quality), pHash; video frames' PDQ.
    Exit status 1 when any file could not be hashed (its `error` says why)."""
    from hotline.installation import Installation
    from hotline.services.file_hashing import hashes_of_files

    results = hashes_of_files(files, Installation(load_settings()).media_config())
    if as_json:
        emit_json(results)
    else:
        table("hashes", ["path", "kind", "sha256", "pdq", "quality", "frames", "error"],
              [(r["path"], r.get("kind"), (r.get("sha256") or "")[:16], (r.get("pdq") or "")[:16],
                r.get("pdq_quality"), len(r.get("frames") or []), r["error"]) for r in results])
    if any(r["error"] for r in results):
        raise typer.Exit(1)


@commands.command("match")
@handles_errors
def match_files(files: list[Path], as_json: JsonOpt = False) -> None:
    """Hash files and match them against the enabled known sets: per file its matches
    (set, match_type md5|sha1|sha256|pdq|vpdq, distance, the variant of the file's hash
    that matched, verdict). Exit status 1 when any file could not be hashed."""
    from hotline.services.file_hashing import matches_of_files

    results = matches_of_files(open_installation(), files)
    if as_json:
        emit_json(results)
    else:
        table("matches", ["path", "set", "type", "distance", "variant", "verdict", "error"],
              [(r["path"], m["set"], m["match_type"], m["distance"], m["variant"], m["verdict"], None)
               for r in results for m in r["matches"]]
              + [(r["path"], "", "", "", "", "", r["error"] or "no match") for r in results if not r["matches"]])
    if any(r["error"] for r in results):
        raise typer.Exit(1)
