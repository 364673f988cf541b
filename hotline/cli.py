"""The ``hotline`` command line. Thin: it parses arguments, calls the library, and turns
library errors into a message on stderr and a non-zero exit status."""

from __future__ import annotations

import os

# Prefect must not phone home; set before anything imports it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Without PREFECT_API_URL each flow command starts a temporary server; Prefect's default 20 s
# for its start fails on a loaded machine (about 20 s at load 10 on two cores).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")

import functools  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Any, TypeVar  # noqa: E402

import typer  # noqa: E402

from hotline.output import emit_json, fail, table  # noqa: E402

app = typer.Typer(help="hotline: crawl reported URLs, hash, match, review and export.", no_args_is_help=True)
report_app = typer.Typer(help="File and inspect reports.", no_args_is_help=True)
known_app = typer.Typer(help="Known-hash sets.", no_args_is_help=True)
queue_app = typer.Typer(help="The review queue.", no_args_is_help=True)
bundle_app = typer.Typer(help="Open and verify bundles.", no_args_is_help=True)
export_app = typer.Typer(help="Export bundles, and the export ledger.")
app.add_typer(report_app, name="report")
app.add_typer(known_app, name="known")
app.add_typer(queue_app, name="queue")
app.add_typer(bundle_app, name="bundle")
app.add_typer(export_app, name="export")
keys_app = typer.Typer(help="This installation's keys.", no_args_is_help=True)
partner_app = typer.Typer(help="Partner hotlines we exchange bundles with.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(partner_app, name="partner")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(func: F) -> F:
    """Library errors become a clean message on stderr and exit status 1."""
    from catalog import CatalogError
    from catalog.errors import database_fault
    from evidence import EvidenceError
    from exports.errors import BundleError, DeliveryError, KeyFileError
    from hashing.errors import HashingError
    from hotline.installation import NotInitialised
    from stats.errors import StatsError

    expected = (CatalogError, EvidenceError, BundleError, KeyFileError, DeliveryError, HashingError, NotInitialised,
                ValueError, FileNotFoundError, PermissionError, StatsError)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except expected as exc:
            fail(str(exc) or type(exc).__name__)
        except Exception as exc:
            fault = database_fault(exc, where=_catalog_where())
            if fault is None:
                raise
            fail(str(fault))

    return wrapper  # type: ignore[return-value]


def _catalog_where() -> str | None:
    """The catalog's URL, for messages; None when the settings themselves are wrong."""
    try:
        return _settings().catalog
    except ValueError:
        return None


def _settings():  # noqa: ANN202 - imported lazily to keep `--help` fast
    from hotline.settings import Settings

    return Settings()


def _open(*, read_only: bool = False):  # noqa: ANN202
    """The installation; ``read_only`` for commands that only look: they then also work on
    a read-only disk, and cannot change the catalog by mistake."""
    from hotline.installation import Installation

    return Installation.open(_settings(), read_only=read_only)


def _actor(inst: Any) -> str:
    """Who a command acts as: the logged-in user, else the operator account (never a typed name)."""
    from hotline.services.identity import actor

    return actor(inst)


@app.callback()
def main_options(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", envvar="HOTLINE_DATA_DIR", help="Data directory.")
    ] = None,
) -> None:
    if data_dir is not None:
        os.environ["HOTLINE_DATA_DIR"] = str(data_dir)


@app.command()
@handles_errors
def init(as_json: JsonOpt = False) -> None:
    """Create the data directory: catalog, evidence store and this installation's keys."""
    from hotline.installation import Installation

    inst = Installation.init(_settings())
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


@report_app.command("add")
@handles_errors
def report_add(
    url: str,
    referer: Annotated[str | None, typer.Option(help="Where the reporter found the URL.")] = None,
    source: Annotated[str, typer.Option(help="Who reported it: public or a partner's name.")] = "public",
    pathway: Annotated[
        list[str] | None,
        typer.Option(help="A page the reporter went through before URL; repeat, in order (replayed)."),
    ] = None,
    user_agent: Annotated[str | None, typer.Option(help="The reporter's browser user agent (replayed).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """File a report of URL; `hotline run` processes it."""
    from spiders import CrawlRequest

    steps = tuple(pathway or ())
    # refuses what the crawler would refuse, before it is filed
    replayed: dict[str, Any] = {"user_agent": user_agent} if user_agent else {}
    CrawlRequest(url=url, referer=referer, pathway=steps, **replayed)
    inst = _open()
    report_id = inst.catalog.add_report(url, actor=_actor(inst), source=source, referer=referer,
                                        pathway=steps, user_agent=user_agent)
    if as_json:
        emit_json({"id": report_id, "url": url, "status": "pending"})
    else:
        typer.echo(f"report {report_id} filed: {url}")


@report_app.command("list")
@handles_errors
def report_list(
    status: Annotated[str | None, typer.Option(help="pending, processing, done or failed.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List reports."""
    reports = _open(read_only=True).catalog.list_reports(status=status)
    if as_json:
        emit_json(reports)
    else:
        table("reports", ["id", "status", "received", "url", "error"],
              [(r.id, r.status, r.received_at, r.url, r.error) for r in reports])


@report_app.command("show")
@handles_errors
def report_show(report_id: int, as_json: JsonOpt = False) -> None:
    """One report: its items and what became of them, and the errors recorded on it."""
    catalog = _open(read_only=True).catalog
    report = catalog.get_report(report_id)
    outcomes = catalog.outcomes([report_id])
    errs = catalog.report_errors(report_id)
    waiting = catalog.pending_media(report_id)
    crawl_counts = catalog.crawl_counts(report_id)
    if as_json:
        emit_json({"report": report, "items": outcomes, "errors": errs, "pending": waiting, "crawl": crawl_counts})
        return
    table(f"report {report.id} ({report.status}): {report.url}", ["item", "status", "verdict", "by", "how", "url"],
          [(o.sha256[:12], o.status, o.verdict, o.set_name or o.actor, _how(o), o.urls[0] if o.urls else "")
           for o in outcomes])
    if waiting:
        table("waiting to be stored (the next run fetches them again)", ["url", "page", "reason"],
              [(p.media_url, p.page_url, p.reason) for p in waiting])
    if errs:
        table("errors", ["stage", "url", "reason"], [(e.stage, e.url, e.reason) for e in errs])
    if missing := crawl_counts.get("guessed/failed"):
        typer.echo(f"{missing} media URL(s) guessed from the page text were not there (counted, not errors)")


def _how(outcome: Any) -> str:
    """How an automatic verdict was reached, in one line: set version, row, category, match."""
    p = outcome.provenance
    if not p:
        return outcome.reason or ""
    match = p.get("match") or {}
    parts = [f"version {str(p.get('set_version') or '?')[:12]}", f"row {p.get('known_id') or '(no id)'}"]
    if p.get("category") is not None:
        parts.append(f"category {p['category']}" + (f" ({p['category_profile']})" if p.get("category_profile") else ""))
    parts.append(f"{match.get('type')} distance {match.get('distance')}"
                 + (f" quality {match['quality']}" if match.get("quality") is not None else ""))
    return ", ".join(parts)


@app.command()
@handles_errors
def recheck(
    limit: Annotated[int | None, typer.Option(help="Re-check at most this many URLs (default: setting).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch again the URLs of confirmed items: still up, changed, missing or removed (takedown tracking)."""
    from flows.recheck import recheck_takedowns

    _open()  # fail early, before Prefect starts, if there is no installation
    summary = recheck_takedowns(limit=limit)
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"{summary['targets']} URL(s) re-checked: {summary['still_up']} still up, "
                   f"{summary['changed']} changed, {summary['missing']} missing (not yet removed), "
                   f"{summary['removed']} removed, "
                   f"{summary['inconclusive']} inconclusive (reasons recorded on the reports)")


@app.command()
@handles_errors
def run(
    limit: Annotated[int, typer.Option(help="Process at most this many pending reports.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Process pending reports through the process-report flow (crawl, hash, match, queue)."""
    from catalog.db import utcnow
    from flows.process_report import process_report
    from flows.runs import prefect_api_failure

    inst = _open()  # fail early, before Prefect starts, if there is no installation
    started = utcnow()
    try:
        summary = process_report(limit=limit)
    except Exception as exc:
        lost = prefect_api_failure(exc)
        if lost is None:
            raise
        _abandon_run(inst, started, lost, as_json)
    if as_json:
        emit_json(summary)
    else:
        _print_run_summary(summary)


def _abandon_run(inst: Any, started: Any, lost: str, as_json: bool) -> None:
    """The Prefect API went away: print what the run did (the catalog has it) and exit 1 at
    once. A normal exit would first try, for minutes, to deliver Prefect's queued events
    to the API that is gone; what they say is in the catalog and in this output."""
    import socket
    import sys

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


@known_app.command("import")
@handles_errors
def known_import(
    file: Path,
    set_name: Annotated[str, typer.Option("--set", help="Name of the known set.")],
    verdict: Annotated[
        str | None,
        typer.Option(help="baseline, national or not-illegal: for a set whose rows carry no category."),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the set comes from.")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="parquet, csv, vics or icse (default: detected).")
    ] = None,
    category_profile: Annotated[
        str | None,
        typer.Option("--category-profile",
                     help="What the rows' categories mean: vics-us, caid-uk, icse, hotline or one of your own."),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category",
                     help="CATEGORY=VERDICT (baseline, national, not-illegal or review); before the profile (repeat)."),
    ] = None,
    unknown_category: Annotated[
        str | None,
        typer.Option("--unknown-category", help="What categories nobody mapped become (e.g. review); default: refuse."),
    ] = None,
    pdq_threshold: Annotated[
        int | None, typer.Option(help="Largest PDQ distance that matches (default HOTLINE_PDQ_THRESHOLD).")
    ] = None,
    benign: Annotated[
        bool, typer.Option("--benign", help="Known harmless material (logos, emoji): matches stay out of review.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a known-hash set: Parquet or CSV (columns md5, sha1, sha256, pdq; optional id, category),
    Project VIC VICS JSON (1.x or 2.0), or an ICSE-style semicolon export. Prints what each category
    becomes; a category nobody maps refuses the import."""
    from classification import parse_verdict
    from hashing.known.categories import parse_outcome

    categories = {}
    for pair in category or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--category takes CATEGORY=VERDICT, got {pair!r}")
        categories[key.strip()] = parse_outcome(value)
    inst = _open()
    imported, changed = inst.import_known_set(
        file, set_name, None if verdict is None else parse_verdict(verdict), source=source, fmt=fmt,
        category_verdicts=categories, category_profile=category_profile,
        unknown_category="refuse" if unknown_category is None else parse_outcome(unknown_category),
        pdq_threshold=pdq_threshold, benign=benign, actor=_actor(inst),
    )
    plan = imported.categories
    assert plan is not None
    result = {"set": imported.name, "rows": imported.rows, "verdict": None if plan.verdict is None else plan.verdict.value,
              "category_profile": plan.profile, "categories": plan.table(), "changed": changed,
              "content_sha256": imported.content_sha256, "flat_pdq_left_out": imported.flat_pdq}
    if as_json:
        emit_json(result)
        return
    typer.echo(f"known set {imported.name!r} ({imported.source_format}): {imported.rows} hashes"
               + (f", categories as {plan.profile!r}" if plan.profile else "") + (", benign" if benign else "")
               + (f", {imported.flat_pdq} flat PDQ hash(es) left out" if imported.flat_pdq else "")
               + ("" if changed else " (unchanged: same content already imported)"))
    table("category -> verdict -> rows", ["category", "meaning", "verdict", "by", "rows"],
          [(r["category"], r["meaning"], r["verdict"], r["by"], r["rows"]) for r in plan.table()])


@known_app.command("disable")
@handles_errors
def known_disable(name: str, as_json: JsonOpt = False) -> None:
    """Stop matching against a set (kept, and enabled again with `known enable`)."""
    _known_toggle(name, False, as_json)


@known_app.command("enable")
@handles_errors
def known_enable(name: str, as_json: JsonOpt = False) -> None:
    """Match against a disabled set again."""
    _known_toggle(name, True, as_json)


def _known_toggle(name: str, enabled: bool, as_json: bool) -> None:
    inst = _open()
    changed = inst.catalog.set_known_set_enabled(name, enabled, actor=_actor(inst))
    if as_json:
        emit_json({"set": name, "enabled": enabled, "changed": changed})
    else:
        typer.echo(f"known set {name!r} {'enabled' if enabled else 'disabled'}" + ("" if changed else " (already)"))


@known_app.command("delete")
@handles_errors
def known_delete(name: str, as_json: JsonOpt = False) -> None:
    """Delete a set: its registration, file and index (its past matches and verdicts stay)."""
    inst = _open()
    inst.delete_known_set(name, actor=_actor(inst))
    if as_json:
        emit_json({"set": name, "deleted": True})
    else:
        typer.echo(f"known set {name!r} deleted")


@app.command("hash")
@handles_errors
def hash_files(files: list[Path], as_json: JsonOpt = False) -> None:
    """Hash image and video files: MD5, SHA-1, SHA-256, PDQ (+quality), pHash; video frames' PDQ.
    Exit status 1 when any file could not be hashed (its `error` says why)."""
    from hashing import HashingError, hash_media
    from hashing.media import summarise
    from hotline.installation import Installation

    config = Installation(_settings()).media_config()
    results: list[dict[str, Any]] = []
    for file in files:
        try:
            results.append({"path": str(file), **summarise(hash_media(file.read_bytes(), config, claimed=file.name)),
                            "error": None})
        except (HashingError, OSError) as exc:
            results.append({"path": str(file), "kind": None, "error": str(exc) or type(exc).__name__})
    if as_json:
        emit_json(results)
    else:
        table("hashes", ["path", "kind", "sha256", "pdq", "quality", "frames", "error"],
              [(r["path"], r.get("kind"), (r.get("sha256") or "")[:16], (r.get("pdq") or "")[:16],
                r.get("pdq_quality"), len(r.get("frames") or []), r["error"]) for r in results])
    if any(r["error"] for r in results):
        raise typer.Exit(1)


@app.command("match")
@handles_errors
def match_files(files: list[Path], as_json: JsonOpt = False) -> None:
    """Hash files and match them against the enabled known sets: per file its matches
    (set, match_type md5|sha1|sha256|pdq|vpdq, distance, verdict). Exit status 1 when any
    file could not be hashed."""
    from hashing import HashingError, Matcher, hash_media, known_sets_of
    from hashing.known.categories import outcome_text

    inst = _open()
    config, s = inst.media_config(), inst.settings
    matcher = Matcher(known_sets_of(inst.catalog), min_quality=s.pdq_min_quality, vpdq_threshold=s.vpdq_threshold)
    results: list[dict[str, Any]] = []
    for file in files:
        try:
            hashes = hash_media(file.read_bytes(), config, claimed=file.name)
        except (HashingError, OSError) as exc:
            results.append({"path": str(file), "sha256": None, "matches": [], "error": str(exc) or type(exc).__name__})
            continue
        found = [{"set": m.set_name, "match_type": m.match_type, "distance": m.distance,
                  "verdict": outcome_text(m.verdict), "known_id": m.known_id, "category": m.category}
                 for m in matcher.match([hashes])]
        results.append({"path": str(file), "sha256": hashes.sha256, "matches": found, "error": None})
    if as_json:
        emit_json(results)
    else:
        table("matches", ["path", "set", "type", "distance", "verdict", "error"],
              [(r["path"], m["set"], m["match_type"], m["distance"], m["verdict"], None)
               for r in results for m in r["matches"]]
              + [(r["path"], "", "", "", "", r["error"] or "no match") for r in results if not r["matches"]])
    if any(r["error"] for r in results):
        raise typer.Exit(1)


@known_app.command("list")
@handles_errors
def known_list(as_json: JsonOpt = False) -> None:
    """List known-hash sets."""
    sets = _open().catalog.known_sets()
    if as_json:
        emit_json(sets)
    else:
        table("known sets", ["name", "verdict", "categories", "rows", "enabled", "benign", "format", "source",
                             "version", "imported"],
              [(s.name, s.verdict or "by category", s.category_profile or ("mapped" if s.category_verdicts else ""),
                s.rows, s.enabled, s.benign, s.format, s.source, s.content_sha256[:12], s.imported_at) for s in sets])


@known_app.command("recheck")
@handles_errors
def known_recheck(
    to_review: Annotated[
        bool, typer.Option("--to-review", help="Send every listed item back to the review queue (audited).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Automatic verdicts the earlier category rule produced (a category the set did not map took
    the set's verdict): list them, or send their items back to review."""
    from classification.known import send_rechecks_to_review

    inst = _open()
    found = inst.catalog.known_rechecks()
    sent = send_rechecks_to_review(inst.catalog, actor=_actor(inst)) if to_review else []
    if as_json:
        emit_json({"rechecks": found, "sent_to_review": sent})
        return
    table("automatic verdicts of the earlier category rule", ["item", "verdict", "set", "category", "reason"],
          [(r.sha256[:12], r.verdict, r.set_name, r.category, r.reason) for r in found])
    if to_review:
        typer.echo(f"{len(sent)} item(s) sent back to review")


@known_app.command("holds")
@handles_errors
def known_holds(
    every: Annotated[bool, typer.Option("--all", help="Released holds too.")] = False, as_json: JsonOpt = False,
) -> None:
    """Known rows held out of matching: quarantined for flooding, or contested."""
    holds = _open().catalog.known_holds(active_only=not every)
    if as_json:
        emit_json(holds)
        return
    table("known rows held out of matching", ["id", "set", "row", "kind", "item", "reason", "since", "released",
                                              "feedback"],
          [(h.id, h.set_name, h.row_key[:40], h.kind, (h.sha256 or "")[:12], h.reason, h.created_at,
            h.released_at or "", h.feedback_sent or "") for h in holds])


@known_app.command("quarantine")
@handles_errors
def known_quarantine(
    set_name: Annotated[str, typer.Argument(help="The known set.")],
    row: Annotated[str, typer.Argument(help="The row: md5:HEX, sha1:HEX, sha256:HEX, pdq:HEX or id:KNOWN_ID.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    as_json: JsonOpt = False,
) -> None:
    """Hold a known row out of matching by hand (audited); `known release` lets it match again."""
    inst = _open()
    inst.catalog.get_known_set(set_name)
    kind, sep, value = row.partition(":")
    if not sep or kind not in ("md5", "sha1", "sha256", "pdq", "id") or not value:
        raise ValueError(f"a row is md5:HEX, sha1:HEX, sha256:HEX, pdq:HEX or id:KNOWN_ID, not {row!r}")
    hold_id = inst.catalog.hold_known_row(set_name, f"{kind}:{value.lower() if kind != 'id' else value}",
                                          kind="quarantine", reason=reason, actor=_actor(inst))
    if as_json:
        emit_json({"hold": hold_id})
    else:
        typer.echo(f"row {row!r} of {set_name!r} quarantined (hold {hold_id})")


@known_app.command("release")
@handles_errors
def known_release(hold_id: int, as_json: JsonOpt = False) -> None:
    """Let a quarantined or contested row match again (audited)."""
    inst = _open()
    hold = inst.catalog.release_known_hold(hold_id, actor=_actor(inst))
    if as_json:
        emit_json(hold)
    else:
        typer.echo(f"hold {hold.id} released: {hold.set_name} {hold.row_key[:40]} matches again")


@known_app.command("contest")
@handles_errors
def known_contest(
    media_id: Annotated[str, typer.Argument(help="The item (ID or its first 8+ hex digits).")],
    set_name: Annotated[str, typer.Option("--set", help="The known set whose match is wrong.")],
    reason: Annotated[str, typer.Option(help="Why the match is wrong (told to the set's source).")],
    match_type: Annotated[str | None, typer.Option(help="md5, sha1, sha256, pdq or vpdq (default: the best).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A senior analyst (logged in: `hotline login`) marks a known-set match as wrong for an item: the item goes back to review,
    the row stops matching here, and the set's source is told (partner bundle or `known feedback`)."""
    from classification.known import contest_match

    inst = _open()
    done = contest_match(inst.catalog, media_id, set_name, actor=_actor(inst), reason=reason,
                         match_type=match_type)
    if as_json:
        emit_json(done)
    else:
        typer.echo(f"match of {done.sha256[:12]} in {set_name!r} contested (hold {done.hold_id}, row "
                   f"{done.row_key[:40]}); " + ("item back in review" if done.sent_to_review
                                                else "its current verdict was not the automatic one"))


@known_app.command("feedback")
@handles_errors
def known_feedback(
    out: Annotated[Path, typer.Option(help="Write the contested matches of external sets to this JSON file.")],
    source: Annotated[str | None, typer.Option(help="Only sets from this source (as imported with --source).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export contested matches not yet told to their source, for the operator to hand over
    (partners' sets are told in the next bundle to the partner instead)."""
    from hotline.services.partner_exchange import export_feedback_file

    inst = _open()
    written = export_feedback_file(inst, out, source=source, actor=_actor(inst))
    if as_json:
        emit_json({"file": str(out), "contested": written})
    else:
        typer.echo(f"{written} contested match(es) written to {out}")


@known_app.command("stats")
@handles_errors
def known_stats(as_json: JsonOpt = False) -> None:
    """Per known set and source: items matched, auto-classified, contested matches, quarantined
    rows; and the PDQ hashes too flat to match (below HOTLINE_PDQ_MIN_QUALITY)."""
    inst = _open()
    figures = inst.catalog.known_set_statistics(min_quality=inst.settings.pdq_min_quality)
    if as_json:
        emit_json(figures)
        return
    table("known sets", ["set", "source", "matched items", "auto-classified", "hints only", "contested",
                         "quarantined rows"],
          [(f["set"], f["source"], f["matched_items"], f["auto_classified"], f["hints_only"], f["contested"],
            f["quarantined_rows"]) for f in figures["sets"]])
    skipped = figures["low_quality"]
    typer.echo(f"too flat to match (PDQ quality < {skipped['min_quality']}): {skipped['images']} image(s), "
               f"{skipped['frames']} video/animation frame(s)")


@queue_app.command("list")
@handles_errors
def queue_list(limit: Annotated[int, typer.Option()] = 100, as_json: JsonOpt = False) -> None:
    """Items waiting for an analyst, oldest first."""
    items = _open(read_only=True).catalog.queue(limit=limit)
    if as_json:
        emit_json(items)
    else:
        table("review queue", ["item", "kind", "size", "first seen", "reports", "url", "hint"],
              [(i.sha256[:16], i.kind, i.size, i.first_seen_at, ",".join(map(str, i.report_ids)),
                i.urls[0] if i.urls else "", i.hints[0] if i.hints else "") for i in items])


@app.command()
@handles_errors
def classify(
    media_id: str,
    verdict: Annotated[
        str | None,
        typer.Option(help="baseline, national or not-illegal; with attributes it sets the verdict by hand (give --reason)."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit log.")] = None,
    age_group: Annotated[
        str | None, typer.Option(help="Grade by attributes: infant-toddler, prepubescent, pubescent, adult, unclear.")
    ] = None,
    depiction: Annotated[str | None, typer.Option(help="real, drawn, cgi, ai-generated or unclear.")] = None,
    gender: Annotated[list[str] | None, typer.Option(help="A gender shown (repeat): female, male, other, unclear.")] = None,
    sexual_activity: Annotated[bool, typer.Option("--sexual-activity", help="Sexual activity is shown.")] = False,
    genital_focus: Annotated[bool, typer.Option("--genital-focus", help="Focus on the genital/anal region.")] = False,
    severity: Annotated[int | None, typer.Option(help="0..3, see docs/classification.md (default: implied).")] = None,
    self_generated: Annotated[bool | None, typer.Option("--self-generated/--not-self-generated")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A free tag (repeat).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a decision on a media item (full SHA-256 or at least its first 8 digits): a grading
    by attributes (at least --age-group and --depiction; the verdicts are derived by the law
    profiles), or a verdict alone. You act as the analyst or senior logged in with `hotline login`."""
    from classification import classify as record
    from classification import parse_verdict
    from hotline.services.identity import require_user

    parsed = parse_verdict(verdict) if verdict else None
    inst = _open()
    who = require_user(inst, {"analyst", "senior"}, "decide on an item").name
    if age_group is None and depiction is None:
        if parsed is None:
            raise ValueError("give --verdict, or grade with --age-group and --depiction")
        sha256 = record(inst.catalog, media_id, parsed, analyst=who, reason=reason)
        result: dict[str, Any] = {"sha256": sha256, "verdict": parsed.value, "analyst": who}
    else:
        from classification import decide_item, grading
        from hotline.installation import review_config

        graded = grading(age_group=age_group or "", depiction=depiction or "", genders=gender or (),
                         sexual_activity=sexual_activity, genital_focus=genital_focus, severity=severity,
                         self_generated=self_generated, tags=tag or ())
        sha256 = inst.catalog.resolve_media_id(media_id)
        decide_item(inst.catalog, review_config(inst.settings), sha256, who, graded, verdict=parsed, reason=reason)
        history = inst.catalog.item_decisions(sha256)
        newest = history["verdicts"][-1]
        result = {"sha256": sha256, "verdict": newest["verdict"], "analyst": who,
                  "confirm_required": bool(newest["confirm_required"]),
                  "jurisdictions": {j["jurisdiction"]: j["illegal"] for j in history["jurisdictions"]
                                    if j["grading_id"] == newest["grading_id"]}}
    if as_json:
        emit_json(result)
    else:
        waits = " (waits for a senior)" if result["verdict"] == "undetermined" else (
            " (waits for a confirmation)" if result.get("confirm_required") else "")
        typer.echo(f"{sha256[:16]}: {result['verdict']} (by {who}){waits}")


@app.command()
@handles_errors
def login(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Log in as a user of this installation: later commands act as them (token file, mode 0600)."""
    from hotline.services.identity import login as log_in

    inst = _open()
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else str(typer.prompt("Password", hide_input=True))
    path = log_in(inst, name, password)
    if as_json:
        emit_json({"user": name, "token_file": str(path)})
    else:
        typer.echo(f"logged in as {name} (token in {path})")


@app.command()
@handles_errors
def logout(as_json: JsonOpt = False) -> None:
    """End this command line's login (the token stops working and its file is removed)."""
    from hotline.services.identity import logout as log_out

    name = log_out(_open())
    if as_json:
        emit_json({"logged_out": name})
    else:
        typer.echo(f"logged out {name}" if name else "not logged in")


@app.command()
@handles_errors
def whoami(as_json: JsonOpt = False) -> None:
    """Who the command line acts as: the logged-in user, or the operator account."""
    from hotline.services.identity import current_user

    user = current_user(_open())
    info = {"name": user.name, "role": user.role} if user else {"name": "system", "role": "operator account"}
    if as_json:
        emit_json(info)
    else:
        typer.echo(f"{info['name']} ({info['role']})")


# -- the review app, its users, law profiles -------------------------------------
user_app = typer.Typer(help="People who log in to the review app.", no_args_is_help=True)
profile_app = typer.Typer(help="Law profiles: how gradings become each jurisdiction's verdict.", no_args_is_help=True)
rules_app = typer.Typer(help="The installation's review rules (kept in the catalog; an admin changes them).",
                        no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(profile_app, name="profile")
app.add_typer(rules_app, name="rules")


@rules_app.command("show")
@handles_errors
def rules_show(as_json: JsonOpt = False) -> None:
    """The review rules every process of this installation applies."""
    rules = _open().catalog.review_rules()
    if as_json:
        emit_json(rules)
    else:
        table("review rules", ["rule", "value"], [("four_eyes", "on" if rules.four_eyes else "off")])


@rules_app.command("set")
@handles_errors
def rules_set(
    name: Annotated[str, typer.Argument(help="four_eyes: baseline/national verdicts wait for a senior's confirmation.")],
    value: Annotated[str, typer.Argument(help="on or off.")],
    as_json: JsonOpt = False,
) -> None:
    """Change a review rule (log in as an admin; audited as rules.set)."""
    switch = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}.get(value.lower())
    if switch is None:
        raise ValueError(f"a rule is on or off, not {value!r}")
    inst = _open()
    rules = inst.catalog.set_review_rule(name.replace("-", "_"), switch, actor=_actor(inst))
    if as_json:
        emit_json(rules)
    else:
        typer.echo(f"{name}: {'on' if getattr(rules, name.replace('-', '_')) else 'off'}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command()
@handles_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default HOTLINE_REVIEW_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default HOTLINE_REVIEW_PORT).")] = None,
) -> None:
    """Run the review web app: the blurred queue, grading by keyboard, four-eyes, users."""
    from review import serve as serve_app

    inst = _open()
    typer.echo(f"review app on http://{host or inst.settings.review_host}:{port or inst.settings.review_port}/")
    serve_app(inst, host=host, port=port)


@user_app.command("add")
@handles_errors
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="analyst, senior, operator, statistician or admin.")] = "analyst",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a user (the password is stored as an argon2id hash). An admin's job: log in as one;
    the first admin is added by the operator account (no login) while there is none."""
    from review.passwords import hash_password

    inst = _open()
    user = inst.catalog.add_user(name, role, hash_password(_password(password_stdin)), actor=_actor(inst))
    if as_json:
        emit_json(user)
    else:
        typer.echo(f"user {user.name} added ({user.role})")


@user_app.command("set")
@handles_errors
def user_set(
    name: str,
    role: Annotated[str | None, typer.Option(help="A new role.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Let them log in, or not.")] = None,
    reveal_budget: Annotated[int | None, typer.Option(help="Reveals a day.")] = None,
    blur: Annotated[int | None, typer.Option(help="Thumbnail blur strength 0..64.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="A new password, from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role, state, budget, blur or password (an admin's job; ends their sessions and
    command-line logins when needed)."""
    from review.passwords import hash_password

    inst = _open()
    user = inst.catalog.update_user(name, actor=_actor(inst), role=role, active=active, blur=blur,
                                    reveal_budget=reveal_budget,
                                    password_hash=hash_password(_password(True)) if password_stdin else None)
    if as_json:
        emit_json(user)
    else:
        typer.echo(f"user {user.name}: {user.role}, {'active' if user.active else 'inactive'}")


@user_app.command("list")
@handles_errors
def user_list(as_json: JsonOpt = False) -> None:
    """Users of the review app."""
    users = _open().catalog.users()
    if as_json:
        emit_json(users)
    else:
        table("users", ["name", "role", "active", "blur", "reveal budget", "since"],
              [(u.name, u.role, u.active, u.blur, u.reveal_budget, u.created_at) for u in users])


@profile_app.command("list")
@handles_errors
def profile_list(as_json: JsonOpt = False) -> None:
    """Law profiles available (shipped and the installation's), and which ones apply."""
    from classification import available_profiles
    from classification.profiles import baseline_warning

    settings = _settings()
    applied = {"INTERPOL", settings.country.upper(), *(c.upper() for c in settings.law_profiles)}
    found = available_profiles([settings.law_profiles_dir], allow_baseline_override=settings.allow_interpol_profile)
    rows = [{"jurisdiction": p.jurisdiction, "name": p.name, "rules": len(p.rules), "applied": p.jurisdiction in applied,
             "home": p.jurisdiction == settings.country.upper(), "path": p.path, "sha256": p.sha256,
             "warning": baseline_warning(p)}
            for p in found.values()]
    if as_json:
        emit_json(rows)
    else:
        table("law profiles", ["jurisdiction", "name", "rules", "applied", "file"],
              [(r["jurisdiction"] + (" (home)" if r["home"] else ""), r["name"], r["rules"], r["applied"], r["path"])
               for r in rows])
        for r in rows:
            if r["warning"]:
                typer.echo(f"WARNING: {r['warning']}", err=True)


@profile_app.command("check")
@handles_errors
def profile_check(file: Path, as_json: JsonOpt = False) -> None:
    """Read a law profile file and show its rules (errors name the rule and key at fault)."""
    from classification import load_profile

    profile = load_profile(file)
    rules = [{"name": r.name, "verdict": "illegal" if r.illegal else "not-illegal"} for r in profile.rules]
    if as_json:
        emit_json({"jurisdiction": profile.jurisdiction, "name": profile.name, "sha256": profile.sha256,
                   "default": "illegal" if profile.default_illegal else "not-illegal", "rules": rules})
    else:
        table(f"{profile.jurisdiction}: {profile.name}", ["rule", "verdict"], [(r["name"], r["verdict"]) for r in rules])


@profile_app.command("recompute")
@handles_errors
def profile_recompute(as_json: JsonOpt = False) -> None:
    """Re-derive verdicts after a law profile changed (exported and hand-set verdicts stay)."""
    from classification import recompute
    from hotline.installation import review_config

    inst = _open()
    summary = recompute(inst.catalog, review_config(inst.settings), requested_by=_actor(inst))
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"{summary.items} graded item(s): {summary.verdict_changes} verdict(s) changed, "
                   f"{summary.jurisdiction_changes} jurisdiction verdict(s) re-derived, "
                   f"{summary.kept_exported} kept as exported, {summary.kept_by_hand} kept as set by hand")


@queue_app.command("clusters")
@handles_errors
def queue_clusters(limit: Annotated[int, typer.Option()] = 100, as_json: JsonOpt = False) -> None:
    """Clusters of near-duplicates waiting for an analyst, in priority order."""
    from classification import cluster_queue
    from hotline.installation import review_config

    inst = _open()
    config = review_config(inst.settings)
    cluster_queue(inst.catalog, config.clustering)
    shown = inst.catalog.queue_clusters(priority=config.priority, limit=limit, preview=100)
    if as_json:
        emit_json(shown)
    else:
        table("review queue by cluster", ["cluster", "items", "new", "oldest report", "claimed by"],
              [(c.id, c.items, c.novel, c.oldest_report_at, c.holder) for c in shown])


@queue_app.command("undetermined")
@handles_errors
def queue_undetermined(limit: Annotated[int, typer.Option()] = 200, as_json: JsonOpt = False) -> None:
    """Items graded with an unclear age group or depiction that matters: a senior decides them."""
    waiting = _open().catalog.escalated_items(limit=limit)
    if as_json:
        emit_json(waiting)
    else:
        table("undetermined: for a senior", ["item", "graded by", "at"],
              [(w.sha256[:16], w.actor, w.created_at) for w in waiting])


@export_app.callback(invoke_without_command=True)
@handles_errors
def export(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Export baseline and nationally illegal items not yet exported, as a bundle to the drop."""
    if ctx.invoked_subcommand is not None:
        return
    from flows.export_bundles import export_bundles

    _open()
    summary = export_bundles()
    if as_json:
        emit_json(summary)
    elif summary["bundle_id"] is None:
        typer.echo("nothing to export")
    else:
        typer.echo(f"bundle {summary['bundle_id']}: {summary['items']} item(s) -> {summary['location']}")


@export_app.command("status")
@handles_errors
def export_status(as_json: JsonOpt = False) -> None:
    """The export ledger: which bundle went where, when, with how many items."""
    entries = _open().catalog.exports()
    if as_json:
        emit_json(entries)
    else:
        table("exports", ["bundle", "destination", "items", "created", "location"],
              [(e.bundle_id, e.destination, e.items, e.created_at, e.location) for e in entries])


@bundle_app.command("open")
@handles_errors
def bundle_open(
    file: Path,
    key: Annotated[Path | None, typer.Option(help="Recipient's X25519 private key (PEM); default: the local drop's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a bundle's signature, decrypt it and list what it holds."""
    from exports import open_bundle_file
    from exports.inbound import partner_keys

    inst = _open()
    trusted = [*inst.keys.signing_publics(), *(k for p in inst.catalog.partners() for k in partner_keys(p))]
    opened = open_bundle_file(file, key or inst.keys.receiving_keys(), trusted=trusted)
    inst.catalog.audit(_actor(inst), "bundle.open", opened.bundle_id, file=str(file))
    manifest = opened.manifest
    if as_json:
        emit_json({"bundle_id": opened.bundle_id, "sender": opened.sender_fingerprint, "verified": True,
                   "manifest": manifest})
        return
    typer.echo(f"bundle {opened.bundle_id}: signature verified (sender {opened.sender_fingerprint})")
    table("items", ["sha256", "verdict", "md5", "pdq", "sightings"],
          [(i["sha256"][:16], i["verdict"], i["hashes"].get("md5"), (i["hashes"].get("pdq") or "")[:16],
            len(i.get("sightings", []))) for i in manifest.get("items", [])])


# Secure exchange ----------------------------------------------------------------


@keys_app.command("show")
@handles_errors
def keys_show(as_json: JsonOpt = False) -> None:
    """Fingerprints of our keys, and the public key files to give partners (signing, inbox)."""
    keys = _open().keys
    info = {"fingerprints": keys.describe(), "public_files": keys.public_files(), "retired": keys.retired()}
    if as_json:
        emit_json(info)
    else:
        table("keys", ["key", "fingerprint", "public key file", "retired"],
              [(k, fp, info["public_files"][k], ", ".join(info["retired"][k])) for k, fp in info["fingerprints"].items()])


@keys_app.command("rotate")
@handles_errors
def keys_rotate(
    key: Annotated[str, typer.Argument(help="signing, inbox or drop.")],
    as_json: JsonOpt = False,
) -> None:
    """Retire a key pair and create a new one; retired keys still open (inbox, drop) or verify
    (signing) bundles in flight. Give partners the new public key."""
    inst = _open()
    old, new = inst.keys.rotate(key)
    inst.catalog.audit(_actor(inst), "keys.rotate", key, old=old, new=new)
    if as_json:
        emit_json({"key": key, "old": old, "new": new, "public_file": inst.keys.public_files()[key]})
    else:
        typer.echo(f"{key} key rotated: {old} -> {new}; give partners {inst.keys.public_files()[key]}")


@partner_app.command("add")
@handles_errors
def partner_add(
    name: str,
    countries: Annotated[str, typer.Option(help="Country codes it handles, comma-separated (DE,AT).")],
    encryption_key: Annotated[Path, typer.Option(help="Its X25519 public key (PEM): we encrypt to it.")],
    signing_key: Annotated[list[Path], typer.Option(help="Its Ed25519 public key(s) (PEM); added to those known.")],
    destination: Annotated[str, typer.Option(help="A directory, or s3://bucket/prefix.")],
    endpoint_url: Annotated[str | None, typer.Option(help="S3 endpoint URL (default: AWS).")] = None,
    media: Annotated[bool, typer.Option("--media/--no-media", help="The agreement lets media go to it.")] = False,
    hash_sets: Annotated[bool, typer.Option("--hash-sets/--no-hash-sets", help="Send it our confirmed hashes.")] = True,
    replace_signing_keys: Annotated[bool, typer.Option(help="Forget its earlier signing keys.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a partner hotline, or update it."""
    from hotline.services.partner_exchange import partner_from_key_files

    inst = _open()
    partner = partner_from_key_files(
        name, countries=[c.strip() for c in countries.split(",") if c.strip()], encryption_key=encryption_key,
        signing_keys=signing_key, destination=destination, endpoint_url=endpoint_url, media=media,
        hash_sets=hash_sets,
    )
    saved = inst.catalog.save_partner(partner, actor=_actor(inst), replace_signing_keys=replace_signing_keys)
    if as_json:
        emit_json(saved)
    else:
        typer.echo(f"partner {saved.name}: {','.join(saved.countries)} -> {saved.destination}")


@partner_app.command("list")
@handles_errors
def partner_list(as_json: JsonOpt = False) -> None:
    """Registered partner hotlines."""
    partners = _open().catalog.partners()
    if as_json:
        emit_json(partners)
    else:
        table("partners", ["name", "countries", "destination", "media", "hash sets", "signing keys"],
              [(p.name, ",".join(p.countries), p.destination, p.media, p.hash_sets, len(p.signing_keys))
               for p in partners])


@partner_app.command("remove")
@handles_errors
def partner_remove(name: str, as_json: JsonOpt = False) -> None:
    """Stop exchanging bundles with a partner (its ledger entries stay)."""
    inst = _open()
    inst.catalog.remove_partner(name, actor=_actor(inst))
    if as_json:
        emit_json({"removed": name})
    else:
        typer.echo(f"partner {name} removed")


@bundle_app.command("import")
@handles_errors
def bundle_import(file: Path, as_json: JsonOpt = False) -> None:
    """Verify, decrypt and import a partner's bundle: reports for our jurisdiction, its
    baseline hashes as a known set. A refusal is recorded and reported."""
    from hotline.services.partner_exchange import import_bundle_file

    inst = _open()
    result = import_bundle_file(inst, file, actor=_actor(inst))
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"bundle {result.bundle_id} from {result.partner}: {len(result.reports_added)} new report(s), "
                   f"{result.urls_already_reported} URL(s) already reported, {result.hashes_added} new hash(es)")


@bundle_app.command("poll")
@handles_errors
def bundle_poll(as_json: JsonOpt = False) -> None:
    """Import every new bundle in the inbound directory or S3 prefix (the import-bundles flow)."""
    from flows.import_bundles import import_bundles

    _open()
    result = import_bundles()
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"{len(result['imported'])} imported, {len(result['refused'])} refused, "
                   f"{result['skipped']} seen before")


@bundle_app.command("inbound")
@handles_errors
def bundle_inbound(limit: Annotated[int, typer.Option()] = 100, as_json: JsonOpt = False) -> None:
    """Bundles received from partners: imported, or refused and why."""
    entries = _open().catalog.inbound(limit=limit)
    if as_json:
        emit_json(entries)
    else:
        table("inbound bundles", ["received", "bundle", "partner", "status", "reason"],
              [(e.received_at, e.bundle_id, e.partner, e.status, e.reason) for e in entries])


@export_app.command("partners")
@handles_errors
def export_partners_command(
    hash_sets: Annotated[bool, typer.Option("--hash-sets", help="Send hash sets instead of takedown items.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send partners what they have not had (the export-partners flow)."""
    from flows.export_partners import export_partners

    _open()
    summary = export_partners(hash_sets=hash_sets)
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"{summary['items']} item(s) to {len(summary['partners'])} partner(s)")
        if summary.get("unrouted_locations"):
            typer.echo(f"{summary['unrouted_locations']} location(s) have no hosting country: "
                       "route them by hand (hotline export unrouted)")


@export_app.command("resend")
@handles_errors
def export_resend(
    destination: Annotated[str, typer.Option(help="interpol, partner:<name> or hashset:<name>.")],
    bundle: Annotated[str | None, typer.Option(help="Re-send every item of this bundle.")] = None,
    item: Annotated[list[str] | None, typer.Option(help="Re-send this item (SHA-256 or a unique prefix).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit log.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask for items already delivered to go again with the destination's next bundle."""
    inst = _open()
    sha256s = [inst.catalog.resolve_media_id(i) for i in item or []]
    waiting = inst.catalog.request_resend(destination, actor=_actor(inst), sha256s=sha256s,
                                          bundle_id=bundle, reason=reason)
    if as_json:
        emit_json({"destination": destination, "items": waiting})
    else:
        typer.echo(f"{len(waiting)} item(s) will go to {destination} again with its next bundle")


@export_app.command("unrouted")
@handles_errors
def export_unrouted(limit: Annotated[int, typer.Option()] = 1000, as_json: JsonOpt = False) -> None:
    """Locations of decided items whose hosting country is unknown (neither the media's nor
    the page's): no partner route takes them, so route them by hand."""
    locations = _open().catalog.unrouted_locations(limit=limit)
    if as_json:
        emit_json(locations)
    else:
        table("to route by hand (no hosting country)", ["item", "verdict", "report", "media url", "page url", "ip"],
              [(u.sha256[:16], u.verdict, u.report_id, u.media_url, u.page_url, u.ip or u.page_ip or "")
               for u in locations])


@export_app.command("resends")
@handles_errors
def export_resends(as_json: JsonOpt = False) -> None:
    """Re-send requests: which item, to where, asked by whom, sent in which bundle."""
    requests = _open().catalog.resend_requests()
    if as_json:
        emit_json(requests)
    else:
        table("re-send requests", ["requested", "destination", "item", "by", "sent in"],
              [(r.requested_at, r.destination, r.sha256[:16], r.actor, r.bundle_id) for r in requests])


@export_app.command("hashset")
@handles_errors
def export_hashset(
    out: Annotated[Path, typer.Option(help="File to write (hashes only, no media).")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or vics (Project VIC VICS 2.0 JSON).")] = "parquet",
    as_json: JsonOpt = False,
) -> None:
    """Write our analysts' confirmed hashes as Parquet or VICS JSON, for tools such as Griffeye."""
    from exports.hashsets import hash_rows, to_parquet, to_vics

    if fmt not in ("parquet", "vics"):
        raise ValueError(f"--format must be parquet or vics, not {fmt!r}")
    inst = _open()
    items = inst.catalog.export_candidates(None, 1_000_000, sources=("analyst",))  # all, whatever was sent
    out.write_bytes(to_parquet(hash_rows(items)) if fmt == "parquet" else to_vics(items))
    inst.catalog.audit(_actor(inst), "hashset.write", str(out), format=fmt, items=len(items))
    if as_json:
        emit_json({"file": out, "format": fmt, "items": len(items)})
    else:
        typer.echo(f"{len(items)} confirmed item(s) written to {out} ({fmt})")


# Statistics ----------------------------------------------------------------
stats_app = typer.Typer(help="Statistics: the figures, snapshots for statisticians, the HTML report.")
app.add_typer(stats_app, name="stats")
FromSnapshotOpt = Annotated[
    bool, typer.Option("--from-snapshot", help="Read the current snapshot instead of the catalog.")
]
JurisdictionOpt = Annotated[
    str | None, typer.Option(help="Whose law the verdicts are under: HOTLINE_COUNTRY (default), INTERPOL, ...")
]


def _figures(from_snapshot: bool, jurisdiction: str | None, *, read_only: bool = False):  # noqa: ANN202
    from stats import SnapshotOptions, compute_figures, snapshot_figures

    inst = _open(read_only=read_only)
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
    from stats import SnapshotOptions, write_snapshot

    inst = _open()
    s = inst.settings
    info = write_snapshot(inst.catalog, s.snapshot_dir, SnapshotOptions(country=s.country, urls=s.stats_urls),
                          keep=s.stats_keep, actor=_actor(inst))
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
    inst.catalog.audit(_actor(inst), "stats.report", str(path), jurisdiction=figures.jurisdiction,
                       snapshot=figures.version)
    if as_json:
        emit_json({"report": path, "jurisdiction": figures.jurisdiction, "snapshot": figures.version})
    else:
        typer.echo(f"report written: {path}")


@app.command()
@handles_errors
def audit(limit: Annotated[int, typer.Option()] = 50, as_json: JsonOpt = False) -> None:
    """The newest entries of the audit log."""
    entries = _open(read_only=True).catalog.audit_entries(limit=limit)
    if as_json:
        emit_json(entries)
    else:
        table("audit log", ["at", "actor", "action", "subject"],
              [(e.at, e.actor, e.action, e.subject) for e in entries])


@app.command()
@handles_errors
def demo(
    images: Annotated[int, typer.Option(help="How many synthetic images the demo site shows.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Serve a generated benign site on 127.0.0.1, report it, process it and show the outcome."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the demo prints its own summary
    from hotline.demo.gallery_demo import run_demo

    result = run_demo(_settings(), images=images, quiet=as_json)
    if as_json:
        emit_json(result)


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check keys, catalog integrity and schema, evidence (a sample decrypts, orphaned objects),
    quarantined items, free space and Prefect. Each check is ok, warn or fail; the exit status
    is the worst: 0 ok, 1 warn, 2 fail. Reads only; never ends in a traceback."""
    from hotline.services.doctor import LEVELS, Check, run_doctor, worst

    try:
        checks = run_doctor(_settings())
    except Exception as exc:  # noqa: BLE001 - bad settings: still one document for monitoring
        checks = [Check("settings", False, " ".join(str(exc).split()) or type(exc).__name__)]
    level = worst(checks)
    if as_json:
        emit_json({"level": level, "checks": checks})
    else:
        table("hotline doctor", ["check", "level", "detail"],
              [(c.name, c.level if c.level == "ok" else c.level.upper(), c.detail) for c in checks])
    raise typer.Exit(LEVELS.index(level))


@app.command()
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
            info = make_backup(_open(read_only=True), destination)
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
        meta, check = verify_backup(_open(read_only=True), verify, decrypt=decrypt)
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


@app.command()
@handles_errors
def restore(
    backup_folder: Annotated[Path, typer.Argument(help="A hotline-backup-<time> folder.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a catalog that is healthy (changes since are lost).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup: missing keys, then the catalog into a fresh file (or database) that
    takes the old one's place (kept, renamed), then the schema and an evidence check against
    the backup's manifest. Works on a damaged catalog; stop the workers first."""
    from catalog.users import SYSTEM
    from hotline.services.installation_backup import BackupError, restore_backup

    settings = _settings()
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


@app.command()
@handles_errors
def purge(
    older_than_days: Annotated[int, typer.Option(min=1, help="Purge evidence decided this many days ago or more.")],
    dry_run: Annotated[bool, typer.Option(help="Only count what would be purged.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete the evidence of items decided (and exported, if exportable) long ago; hashes and verdicts stay."""
    from datetime import timedelta

    from hotline.services.evidence_purge import purge_evidence

    inst = _open()
    result = purge_evidence(inst, older_than=timedelta(days=older_than_days), actor=_actor(inst),
                            dry_run=dry_run)
    if as_json:
        emit_json(result)
    else:
        verb = "would purge" if dry_run else "purged"
        typer.echo(f"{verb} the evidence of {result.candidates if dry_run else result.purged} item(s)")


@app.command()
@handles_errors
def repair(as_json: JsonOpt = False) -> None:
    """Re-attach stored items seen on no report to the report whose crawl stored them, and
    put reports closed with unprocessed items back to be processed (by the next run)."""
    inst = _open()
    result = inst.catalog.reattach_media(actor=_actor(inst))
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"re-attached {len(result.reattached)} item(s); {len(result.unattached)} without a crawl "
                   f"that stored them; {len(result.reports)} report(s) back to pending")
    if result.unattached:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
