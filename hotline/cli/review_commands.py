"""Decisions: ``classify``, the review app (``serve``), the queue, the review rules and the
law profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.output import emit_json, table
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, load_settings, open_installation

commands = typer.Typer()
queue_app = typer.Typer(help="The review queue.", no_args_is_help=True)
commands.add_typer(queue_app, name="queue")
profile_app = typer.Typer(help="Law profiles: how gradings become each jurisdiction's verdict.", no_args_is_help=True)
commands.add_typer(profile_app, name="profile")
rules_app = typer.Typer(help="The installation's review rules (kept in the catalog; an admin changes them).",
                        no_args_is_help=True)
commands.add_typer(rules_app, name="rules")


@commands.command()
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
    from classification import grading, parse_verdict
    from hotline.services.decisions import decide
    from hotline.services.identity import require_user

    parsed = parse_verdict(verdict) if verdict else None
    inst = open_installation()
    who = require_user(inst, {"analyst", "senior"}, "decide on an item").name
    if age_group is None and depiction is None:
        if parsed is None:
            raise ValueError("give --verdict, or grade with --age-group and --depiction")
        result = decide(inst, media_id, who, verdict=parsed, reason=reason)
    else:
        graded = grading(age_group=age_group or "", depiction=depiction or "", genders=gender or (),
                         sexual_activity=sexual_activity, genital_focus=genital_focus, severity=severity,
                         self_generated=self_generated, tags=tag or ())
        result = decide(inst, media_id, who, verdict=parsed, graded=graded, reason=reason)
    if as_json:
        emit_json(result)
    else:
        waits = " (waits for a senior)" if result["verdict"] == "undetermined" else (
            " (waits for a confirmation)" if result.get("confirm_required") else "")
        typer.echo(f"{result['sha256'][:16]}: {result['verdict']} (by {who}){waits}")


@commands.command()
@handles_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default HOTLINE_REVIEW_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default HOTLINE_REVIEW_PORT).")] = None,
) -> None:
    """Run the review web app: the blurred queue, grading by keyboard, four-eyes, users."""
    from review import serve as serve_app

    inst = open_installation()
    typer.echo(f"review app on http://{host or inst.settings.review_host}:{port or inst.settings.review_port}/")
    serve_app(inst, host=host, port=port)


@queue_app.command("list")
@handles_errors
def queue_list(limit: Annotated[int, typer.Option()] = 100, as_json: JsonOpt = False) -> None:
    """Items waiting for an analyst, oldest first."""
    items = open_installation(read_only=True).catalog.queue(limit=limit)
    if as_json:
        emit_json(items)
    else:
        table("review queue", ["item", "kind", "size", "first seen", "reports", "url", "hint"],
              [(i.sha256[:16], i.kind, i.size, i.first_seen_at, ",".join(map(str, i.report_ids)),
                i.urls[0] if i.urls else "", i.hints[0] if i.hints else "") for i in items])


@queue_app.command("clusters")
@handles_errors
def queue_clusters(limit: Annotated[int, typer.Option()] = 100, as_json: JsonOpt = False) -> None:
    """Clusters of near-duplicates waiting for an analyst, in priority order."""
    from classification import cluster_queue
    from hotline.installation import review_config

    inst = open_installation()
    config = review_config(inst.settings, inst.evidence.get)
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
    waiting = open_installation().catalog.escalated_items(limit=limit)
    if as_json:
        emit_json(waiting)
    else:
        table("undetermined: for a senior", ["item", "graded by", "at"],
              [(w.sha256[:16], w.actor, w.created_at) for w in waiting])


@rules_app.command("show")
@handles_errors
def rules_show(as_json: JsonOpt = False) -> None:
    """The review rules every process of this installation applies."""
    rules = open_installation().catalog.review_rules()
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
    inst = open_installation()
    rules = inst.catalog.set_review_rule(name.replace("-", "_"), switch, actor=actor_of(inst))
    if as_json:
        emit_json(rules)
    else:
        typer.echo(f"{name}: {'on' if getattr(rules, name.replace('-', '_')) else 'off'}")


@profile_app.command("list")
@handles_errors
def profile_list(as_json: JsonOpt = False) -> None:
    """Law profiles available (shipped and the installation's), and which ones apply."""
    from hotline.services.decisions import law_profiles

    rows = law_profiles(load_settings())
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

    inst = open_installation()
    summary = recompute(inst.catalog, review_config(inst.settings), requested_by=actor_of(inst))
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"{summary.items} graded item(s): {summary.verdict_changes} verdict(s) changed, "
                   f"{summary.jurisdiction_changes} jurisdiction verdict(s) re-derived, "
                   f"{summary.kept_exported} kept as exported, {summary.kept_by_hand} kept as set by hand"
                   + (f", {summary.partner_to_review} derived from a partner's decision sent back to review"
                      if summary.partner_to_review else ""))
