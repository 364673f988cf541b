"""Secure exchange: bundles in and out, the export ledger, our keys and the partners."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer

from hotline.cli.on_service import run_on_service
from hotline.cli.output import emit_json, table
from hotline.cli.progress import progress_shown
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, open_installation, use_running_service

commands = typer.Typer()
bundle_app = typer.Typer(help="Open and verify bundles.", no_args_is_help=True)
commands.add_typer(bundle_app, name="bundle")
export_app = typer.Typer(help="Export bundles, and the export ledger.")
commands.add_typer(export_app, name="export")
keys_app = typer.Typer(help="This installation's keys.", no_args_is_help=True)
commands.add_typer(keys_app, name="keys")
partner_app = typer.Typer(help="Partner hotlines we exchange bundles with.", no_args_is_help=True)
commands.add_typer(partner_app, name="partner")


@export_app.callback(invoke_without_command=True)
@handles_errors
def export(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Export baseline and nationally illegal items not yet exported, as a bundle to the drop."""
    if ctx.invoked_subcommand is not None:
        return
    service = use_running_service()
    inst = open_installation()
    if service is not None:
        from hotline.services.service_runs import EXPORT_INTERPOL

        summary = run_on_service(service, EXPORT_INTERPOL, {}, inst, as_json)
    else:
        from flows.export_bundles import export_bundles

        with progress_shown(as_json):
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
    entries = open_installation().catalog.exports()
    if as_json:
        emit_json(entries)
    else:
        table("exports", ["bundle", "destination", "items", "created", "location"],
              [(e.bundle_id, e.destination, e.items, e.created_at, e.location) for e in entries])


@export_app.command("partners")
@handles_errors
def export_partners_command(
    hash_sets: Annotated[bool, typer.Option("--hash-sets", help="Send hash sets instead of takedown items.")] = False,
    lists: Annotated[bool, typer.Option(
        "--lists", help="Send our handled list (keyed hashes of what we investigate and decided) instead.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send partners what they have not had (the export-partners flow)."""
    service = use_running_service()
    inst = open_installation()
    if service is not None:
        from hotline.services import service_runs

        deployment = (service_runs.EXPORT_LISTS if lists else service_runs.EXPORT_HASHSETS if hash_sets
                      else service_runs.EXPORT_PARTNERS)
        summary = run_on_service(service, deployment, {"hash_sets": hash_sets, "lists": lists}, inst, as_json)
    else:
        from flows.export_partners import export_partners

        with progress_shown(as_json):
            summary = export_partners(hash_sets=hash_sets, lists=lists)
    if as_json:
        emit_json(summary)
    elif lists:
        typer.echo(f"handled list to {len(summary['partners'])} partner(s): {summary['items']} entries")
    else:
        typer.echo(f"{summary['items']} item(s) to {len(summary['partners'])} partner(s)")
        for contact in summary.get("abuse_notices", {}).get("contacts", []):
            typer.echo(f"{len(contact['sent'])} notice(s), {contact['urls']} URL(s), e-mailed to {contact['contact']}"
                       + (f"; {len(contact['withdrawn'])} withdrawal(s)" if contact.get("withdrawn") else "")
                       + (f"; the next waits in the outbox: {contact['failed']}" if contact["failed"] else ""))
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
    inst = open_installation()
    sha256s = [inst.catalog.resolve_media_id(i) for i in item or []]
    waiting = inst.catalog.request_resend(destination, actor=actor_of(inst), sha256s=sha256s,
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
    locations = open_installation().catalog.unrouted_locations(limit=limit)
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
    requests = open_installation().catalog.resend_requests()
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
    from hotline.services.partner_exchange import write_hash_set

    if fmt not in ("parquet", "vics"):
        raise ValueError(f"--format must be parquet or vics, not {fmt!r}")
    inst = open_installation()
    items = write_hash_set(inst, out, cast(Literal["parquet", "vics"], fmt), actor=actor_of(inst))
    if as_json:
        emit_json({"file": out, "format": fmt, "items": items})
    else:
        typer.echo(f"{items} confirmed item(s) written to {out} ({fmt})")


@bundle_app.command("open")
@handles_errors
def bundle_open(
    file: Path,
    key: Annotated[Path | None, typer.Option(help="Recipient's X25519 private key (PEM); default: the local drop's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a bundle's signature, decrypt it and list what it holds."""
    from hotline.services.partner_exchange import open_bundle

    inst = open_installation()
    opened = open_bundle(inst, file, key=key, actor=actor_of(inst))
    manifest = opened.manifest
    if as_json:
        emit_json({"bundle_id": opened.bundle_id, "sender": opened.sender_fingerprint, "verified": True,
                   "manifest": manifest})
        return
    typer.echo(f"bundle {opened.bundle_id}: signature verified (sender {opened.sender_fingerprint})")
    table("items", ["sha256", "verdict", "md5", "pdq", "sightings"],
          [(i["sha256"][:16], i["verdict"], i["hashes"].get("md5"), (i["hashes"].get("pdq") or "")[:16],
            len(i.get("sightings", []))) for i in manifest.get("items", [])])


@bundle_app.command("import")
@handles_errors
def bundle_import(file: Path, as_json: JsonOpt = False) -> None:
    """Verify, decrypt and import a partner's bundle: reports for our jurisdiction, its
    baseline hashes as a known set. A refusal is recorded and reported."""
    from hotline.services.partner_exchange import import_bundle_file

    inst = open_installation()
    result = import_bundle_file(inst, file, actor=actor_of(inst))
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"bundle {result.bundle_id} from {result.partner}: {len(result.reports_added)} new report(s), "
                   f"{result.urls_already_reported} URL(s) already reported, {result.hashes_added} new hash(es)")


@bundle_app.command("poll")
@handles_errors
def bundle_poll(as_json: JsonOpt = False) -> None:
    """Import every new bundle in the inbound directory or S3 prefix (the import-bundles flow)."""
    service = use_running_service()
    inst = open_installation()
    if service is not None:
        from hotline.services.service_runs import IMPORT_BUNDLES

        result = run_on_service(service, IMPORT_BUNDLES, {}, inst, as_json)
    else:
        from flows.import_bundles import import_bundles

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
    entries = open_installation().catalog.inbound(limit=limit)
    if as_json:
        emit_json(entries)
    else:
        table("inbound bundles", ["received", "bundle", "partner", "status", "reason"],
              [(e.received_at, e.bundle_id, e.partner, e.status, e.reason) for e in entries])


@keys_app.command("show")
@handles_errors
def keys_show(as_json: JsonOpt = False) -> None:
    """Fingerprints of our keys, and the public key files to give partners (signing, inbox)."""
    keys = open_installation().keys
    info: dict[str, Any] = {"fingerprints": keys.describe(), "public_files": keys.public_files(), "retired": keys.retired()}
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
    inst = open_installation()
    old, new = inst.rotate_key(key, actor=actor_of(inst))
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

    inst = open_installation()
    partner = partner_from_key_files(
        name, countries=[c.strip() for c in countries.split(",") if c.strip()], encryption_key=encryption_key,
        signing_keys=signing_key, destination=destination, endpoint_url=endpoint_url, media=media,
        hash_sets=hash_sets,
    )
    saved = inst.catalog.save_partner(partner, actor=actor_of(inst), replace_signing_keys=replace_signing_keys)
    if as_json:
        emit_json(saved)
    else:
        typer.echo(f"partner {saved.name}: {','.join(saved.countries)} -> {saved.destination}")


@partner_app.command("list")
@handles_errors
def partner_list(as_json: JsonOpt = False) -> None:
    """Registered partner hotlines."""
    partners = open_installation().catalog.partners()
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
    inst = open_installation()
    inst.catalog.remove_partner(name, actor=actor_of(inst))
    if as_json:
        emit_json({"removed": name})
    else:
        typer.echo(f"partner {name} removed")
