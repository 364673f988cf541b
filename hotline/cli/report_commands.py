"""``hotline report``: file and inspect reports."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from catalog.decisions.records import OWN_MATCH, PARTNER_DECISION
from hotline.cli.output import emit_json, table
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, open_installation

commands = typer.Typer()
report_app = typer.Typer(help="File and inspect reports.", no_args_is_help=True)
commands.add_typer(report_app, name="report")


@report_app.command("add")
@handles_errors
def report_add(
    url: Annotated[str | None, typer.Argument(help="The reported URL (or --from FILE).")] = None,
    from_file: Annotated[str | None, typer.Option(
        "--from", help="A file of reports: one URL a line, or CSV with a header (url, pathway, user_agent, "
        "reporter_ref, received_at, referer); - reads stdin.")] = None,
    referer: Annotated[str | None, typer.Option(help="Where the reporter found the URL.")] = None,
    source: Annotated[str, typer.Option(help="Who reported it: public or a partner's name.")] = "public",
    pathway: Annotated[
        list[str] | None,
        typer.Option(help="A page the reporter went through before URL; repeat, in order (replayed)."),
    ] = None,
    user_agent: Annotated[str | None, typer.Option(help="The reporter's browser user agent (replayed).")] = None,
    again: Annotated[bool, typer.Option("--again", help="Crawl even a URL reported within the duplicate window "
                                        "(else it is linked to the earlier report).")] = False,
    crawl_anyway: Annotated[
        bool, typer.Option("--crawl-anyway", help="Crawl it even if a partner already handles the URL.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """File a report of URL, or of every URL in a file; `hotline run` processes them. A URL
    reported within `intake_duplicate_window_days` is linked to the earlier report, and a URL a
    partner already handles to the partner's case (unless --crawl-anyway), not crawled again."""
    from hotline.services.intake import IntakeEntry, file_reports, open_text, read_entries

    if (url is None) == (from_file is None):
        raise typer.BadParameter("give either a URL or --from FILE")
    inst = open_installation()
    if from_file is not None:
        if crawl_anyway:
            raise ValueError("--crawl-anyway is for one URL; for a report of a file use "
                             "hotline report crawl-anyway ID")
        with open_text(from_file) as stream:
            summary = file_reports(inst.catalog, read_entries(stream), inst.settings, actor=actor_of(inst),
                                   source=source, via="stdin" if from_file == "-" else from_file, again=again)
        _print_summary(summary, as_json)
        return
    assert url is not None
    entry = IntakeEntry(line=1, url=url, pathway=tuple(pathway or ()), user_agent=user_agent, referer=referer)
    result = file_reports(inst.catalog, [entry], inst.settings, actor=actor_of(inst), source=source,
                          via="command line", again=again or crawl_anyway, keep_results=True).results[0]
    if result.status == "refused":
        raise ValueError(result.reason)
    if result.linked_to:
        if as_json:
            emit_json({"id": result.id, "url": url, "status": "linked", "linked_to": result.linked_to})
        else:
            typer.echo(f"report {result.id} filed: {url}, linked to report {result.linked_to} (reported within "
                       f"{inst.settings.intake_duplicate_window_days:g} days; --again crawls it anew)")
        return
    report_id = result.id
    assert report_id is not None  # added: it has its row
    if crawl_anyway:
        inst.catalog.crawl_anyway(report_id, actor=actor_of(inst))
    else:  # looked up in the partners' lists at once, so the operator knows before any run
        from hotline.services.network_lists import check_reports

        check_reports(inst, [report_id], actor=actor_of(inst))
    partners = inst.catalog.partner_handling(report_id=report_id)
    if as_json:
        emit_json({"id": report_id, "url": url, "status": "linked" if partners and not crawl_anyway else "pending",
                   **({"partners": partners} if partners else {})})
        return
    typer.echo(f"report {report_id} filed: {url}")
    for h in partners:
        typer.echo(f"already handled by partner {h.partner} since {h.since:%Y-%m-%d %H:%M} UTC (its case {h.case_ref}): "
                   f"linked, not crawled (crawl it anyway: hotline report crawl-anyway {report_id})")


def _print_summary(summary: Any, as_json: bool) -> None:
    if as_json:
        emit_json({**summary.counts(), "first_id": summary.first_id, "last_id": summary.last_id,
                   "linked": [{"line": r.line, "id": r.id, "url": r.url, "linked_to": r.linked_to}
                              for r in summary.linked],
                   "refused": [{"line": r.line, "value": r.url, "reason": r.reason} for r in summary.refused]})
        return
    counts = summary.counts()
    typer.echo(f"{counts['added']} added (reports {summary.first_id}..{summary.last_id}), "
               if counts["added"] else "0 added, ", nl=False)
    typer.echo(f"{counts['linked']} already reported (linked), {counts['refused']} refused")
    shown = 50
    if summary.linked:
        table("linked to an earlier report", ["line", "report", "linked to", "url"],
              [(r.line, r.id, r.linked_to, r.url) for r in summary.linked[:shown]])
    if summary.refused:
        table("refused", ["line", "reason"], [(r.line, r.reason) for r in summary.refused[:shown]])
    if len(summary.linked) > shown or len(summary.refused) > shown:
        typer.echo(f"(the first {shown} of each shown; --json lists them all)")


@report_app.command("list")
@handles_errors
def report_list(
    status: Annotated[str | None, typer.Option(help="pending, processing, done, failed or linked.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List reports."""
    reports = open_installation(read_only=True).catalog.list_reports(status=status)
    if as_json:
        emit_json(reports)
    else:
        table("reports", ["id", "status", "received", "url", "error"],
              [(r.id, r.status, r.received_at, r.url, r.error) for r in reports])


@report_app.command("crawl-anyway")
@handles_errors
def report_crawl_anyway(report_id: int) -> None:
    """Crawl a report although a partner already handles its URL (audited)."""
    inst = open_installation()
    inst.catalog.crawl_anyway(report_id, actor=actor_of(inst))
    typer.echo(f"report {report_id} will be crawled by the next run")


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
    partners = catalog.partner_handling(report_id=report_id)
    decided = {o.sha256: catalog.partner_handling(sha256=o.sha256) for o in outcomes}
    takedowns = catalog.takedown_history(report_id=report_id)
    notices = catalog.notices(sha256s=[o.sha256 for o in outcomes])
    abuse = catalog.abuse_notices([o.sha256 for o in outcomes])
    if as_json:
        emit_json({"report": report, "items": outcomes, "errors": errs, "pending": waiting, "crawl": crawl_counts,
                   "partners": partners, "partner_decisions": {k: v for k, v in decided.items() if v},
                   "takedowns": [t.as_dict() for t in takedowns], "notices": notices,
                   "abuse_notices": abuse})
        return
    if report.linked_to is not None:
        typer.echo(f"linked to report {report.linked_to}: the same URL, reported earlier, is crawled there "
                   f"(hotline report show {report.linked_to})")
    for h in partners:
        typer.echo(f"already handled by partner {h.partner} since {h.since:%Y-%m-%d %H:%M} UTC (its case {h.case_ref}, "
                   f"{h.state}){'' if report.status == 'linked' else '; crawled anyway'}")
    applied = {(o.sha256, o.set_name) for o in outcomes if o.verdict_source == PARTNER_DECISION}
    for sha256, seen in decided.items():
        for h in seen:
            how = ("its grading applied: our law profiles derived our verdict" if (sha256, h.partner) in applied
                   else "shown, not applied: our analysts decide")
            typer.echo(f"item {sha256[:12]} already decided by partner {h.partner} since {h.since:%Y-%m-%d %H:%M} UTC: "
                       f"{h.verdict} ({how})")
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
    if abuse:
        table("takedown notices e-mailed to abuse contacts", ["item", "to", "notice", "escalated", "sent", "reference",
                                                               "urls"],
              [(n.sha256[:12], f"{n.contact} ({', '.join(n.to)})", n.notice, "yes" if n.escalated else "",
                f"{n.sent_at:%Y-%m-%d %H:%M}", n.reference, ", ".join(n.urls)) for n in abuse])
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
    if outcome.verdict_source == PARTNER_DECISION:  # derived from a partner's grading
        return (f"partner {p.get('partner')} decided it ({p.get('partner_verdict')}, its case {p.get('case')}); "
                "our law profiles derived ours from its grading")
    if outcome.verdict_source == OWN_MATCH:  # taken from an item our analysts decided
        match = p.get("match") or {}
        variant = match.get("variant")
        return (f"item {str(p.get('source_sha256'))[:12]} (verdict {p.get('source_verdict_id')}), "
                f"{match.get('type')} distance {match.get('distance')}"
                + (f" of its {variant} variant" if variant and variant != "original" else "")
                + (f" quality {match['quality']}" if match.get("quality") is not None else ""))
    match = p.get("match") or {}
    parts = [f"version {str(p.get('set_version') or '?')[:12]}", f"row {p.get('known_id') or '(no id)'}"]
    if p.get("category") is not None:
        parts.append(f"category {p['category']}" + (f" ({p['category_profile']})" if p.get("category_profile") else ""))
    parts.append(f"{match.get('type')} distance {match.get('distance')}"
                 + (f" quality {match['quality']}" if match.get("quality") is not None else ""))
    return ", ".join(parts)
