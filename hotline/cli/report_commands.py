"""``hotline report``: file and inspect reports."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hotline.cli.output import emit_json, table
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, open_installation

commands = typer.Typer()
report_app = typer.Typer(help="File and inspect reports.", no_args_is_help=True)
commands.add_typer(report_app, name="report")


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
    inst = open_installation()
    report_id = inst.catalog.add_report(url, actor=actor_of(inst), source=source, referer=referer,
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
    reports = open_installation(read_only=True).catalog.list_reports(status=status)
    if as_json:
        emit_json(reports)
    else:
        table("reports", ["id", "status", "received", "url", "error"],
              [(r.id, r.status, r.received_at, r.url, r.error) for r in reports])


@report_app.command("show")
@handles_errors
def report_show(report_id: int, as_json: JsonOpt = False) -> None:
    """One report: its items and what became of them, and the errors recorded on it."""
    catalog = open_installation(read_only=True).catalog
    report = catalog.get_report(report_id)
    outcomes = catalog.outcomes([report_id])
    errs = catalog.report_errors(report_id)
    waiting = catalog.pending_media(report_id)
    crawl_counts = catalog.crawl_counts(report_id)
    takedowns = catalog.takedown_history(report_id=report_id)
    notices = catalog.notices(sha256s=[o.sha256 for o in outcomes])
    if as_json:
        emit_json({"report": report, "items": outcomes, "errors": errs, "pending": waiting, "crawl": crawl_counts,
                   "takedowns": [t.as_dict() for t in takedowns], "notices": notices})
        return
    table(f"report {report.id} ({report.status}): {report.url}", ["item", "status", "verdict", "by", "how", "url"],
          [(o.sha256[:12], o.status, o.verdict, o.set_name or o.actor, _how(o), o.urls[0] if o.urls else "")
           for o in outcomes])
    if waiting:
        table("waiting to be stored (the next run fetches them again)", ["url", "page", "reason"],
              [(p.media_url, p.page_url, p.reason) for p in waiting])
    if takedowns:
        table("takedown (re-checks, oldest first)", ["item", "url", "now", "removed", "history"],
              [(t.sha256[:12] if t.sha256 else "", t.url, t.outcome, t.removed_at or "", takedown_line(t))
               for t in takedowns])
    if notices:
        table("notified again (the first bundle was notice 1)", ["item", "to", "notice", "escalated", "sent"],
              [(n.sha256[:12], n.destination, n.notice, "yes" if n.escalated else "", n.sent_at or "waiting")
               for n in notices])
    if errs:
        table("errors", ["stage", "url", "reason"], [(e.stage, e.url, e.reason) for e in errs])
    if missing := crawl_counts.get("guessed/failed"):
        typer.echo(f"{missing} media URL(s) guessed from the page text were not there (counted, not errors)")


def takedown_line(history: Any) -> str:
    """A URL's re-checks in one line: ``still-up 12-01 10:00, missing 12-02 10:00, ...``."""
    return ", ".join(f"{c.outcome} {c.checked_at:%m-%d %H:%M}" for c in history.checks)


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
