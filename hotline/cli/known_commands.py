"""``hotline known``: known-hash sets, their rows held out of matching, contested matches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.output import emit_json, table
from hotline.cli.progress import progress_shown
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, open_installation

commands = typer.Typer()
known_app = typer.Typer(help="Known-hash sets.", no_args_is_help=True)
commands.add_typer(known_app, name="known")


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
        str | None, typer.Option("--format", help="parquet, csv, vics, icse or vpdq (default: detected).")
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
    from hashing.knownsets.categories import parse_outcome

    categories = {}
    for pair in category or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--category takes CATEGORY=VERDICT, got {pair!r}")
        categories[key.strip()] = parse_outcome(value)
    inst = open_installation()
    with progress_shown(as_json) as progress:
        imported, changed = inst.import_known_set(
            file, set_name, None if verdict is None else parse_verdict(verdict), source=source, fmt=fmt,
            category_verdicts=categories, category_profile=category_profile,
            unknown_category="refuse" if unknown_category is None else parse_outcome(unknown_category),
            pdq_threshold=pdq_threshold, benign=benign, actor=actor_of(inst), progress=progress,
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
    inst = open_installation()
    changed = inst.catalog.set_known_set_enabled(name, enabled, actor=actor_of(inst))
    if as_json:
        emit_json({"set": name, "enabled": enabled, "changed": changed})
    else:
        typer.echo(f"known set {name!r} {'enabled' if enabled else 'disabled'}" + ("" if changed else " (already)"))


@known_app.command("delete")
@handles_errors
def known_delete(name: str, as_json: JsonOpt = False) -> None:
    """Delete a set: its registration, file and index (its past matches and verdicts stay)."""
    inst = open_installation()
    inst.delete_known_set(name, actor=actor_of(inst))
    if as_json:
        emit_json({"set": name, "deleted": True})
    else:
        typer.echo(f"known set {name!r} deleted")


@known_app.command("list")
@handles_errors
def known_list(as_json: JsonOpt = False) -> None:
    """List known-hash sets."""
    sets = open_installation().catalog.known_sets()
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

    inst = open_installation()
    found = inst.catalog.known_rechecks()
    sent = send_rechecks_to_review(inst.catalog, actor=actor_of(inst)) if to_review else []
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
    holds = open_installation().catalog.known_holds(active_only=not every)
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
    inst = open_installation()
    inst.catalog.get_known_set(set_name)
    kind, sep, value = row.partition(":")
    if not sep or kind not in ("md5", "sha1", "sha256", "pdq", "id") or not value:
        raise ValueError(f"a row is md5:HEX, sha1:HEX, sha256:HEX, pdq:HEX or id:KNOWN_ID, not {row!r}")
    hold_id = inst.catalog.hold_known_row(set_name, f"{kind}:{value.lower() if kind != 'id' else value}",
                                          kind="quarantine", reason=reason, actor=actor_of(inst))
    if as_json:
        emit_json({"hold": hold_id})
    else:
        typer.echo(f"row {row!r} of {set_name!r} quarantined (hold {hold_id})")


@known_app.command("release")
@handles_errors
def known_release(hold_id: int, as_json: JsonOpt = False) -> None:
    """Let a quarantined or contested row match again (audited)."""
    inst = open_installation()
    hold = inst.catalog.release_known_hold(hold_id, actor=actor_of(inst))
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

    inst = open_installation()
    done = contest_match(inst.catalog, media_id, set_name, actor=actor_of(inst), reason=reason,
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

    inst = open_installation()
    written = export_feedback_file(inst, out, source=source, actor=actor_of(inst))
    if as_json:
        emit_json({"file": str(out), "contested": written})
    else:
        typer.echo(f"{written} contested match(es) written to {out}")


@known_app.command("stats")
@handles_errors
def known_stats(as_json: JsonOpt = False) -> None:
    """Per known set and source: items matched, auto-classified, contested matches, quarantined
    rows; and the PDQ hashes too flat to match (below HOTLINE_PDQ_MIN_QUALITY)."""
    inst = open_installation()
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
