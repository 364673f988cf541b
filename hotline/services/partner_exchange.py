"""Secure exchange for one installation: which routes its bundles take, and how partners'
bundles come in. The wiring between the settings, the partner registry, the keys, the
evidence store and ``exports``; flows and commands call these functions.

Routes (ledger names): ``interpol`` (every baseline or national item our analysts decided, to the INTERPOL drop),
``partner:<name>`` (items seen hosted in the partner's countries, for notice and takedown;
media only if its agreement says so) and ``hashset:<name>`` (our analysts' confirmed hashes,
as Parquet and Project VIC VICS JSON, for partners that take hash sets).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from catalog.db import utcnow
from catalog.errors import NotFound
from catalog.exchange_ledger.records import Partner
from catalog.known_sets.records import PARTNER_SOURCE
from catalog.users.store import SYSTEM
from classification.known import contested_feedback, feedback_rows
from exports import (
    BundleError,
    Delivery,
    DestinationOptions,
    LocalDirectoryDrop,
    OpenedBundle,
    destination_for,
    export_pending,
    open_bundle_file,
)
from exports.destinations import Destination
from exports.inbound import ImportResult, import_bundle, partner_keys
from exports.key_files import (
    load_ed25519_public_key,
    load_x25519_public_key,
    raw_public_bytes,
)
from exports.outbound import HASHSET_KIND, MANIFEST_KIND, Route
from hotline.progress import counter
from hotline.services.network_lists import take_handled_list

if TYPE_CHECKING:  # an export process needs none of what opening a whole installation imports
    from hotline.installation import Installation

INTERPOL = "interpol"


def partner_from_key_files(
    name: str,
    *,
    countries: list[str],
    encryption_key: Path,
    signing_keys: list[Path],
    destination: str,
    endpoint_url: str | None = None,
    media: bool = False,
    hash_sets: bool = True,
) -> Partner:
    """A partner record from its public key files (PEM), checked: the destination must be a
    location some destination takes (a directory path, an s3:// URL), the countries two-letter codes."""
    bad = [c for c in countries if len(c) != 2 or not c.isalpha()]
    if not countries or bad:
        raise ValueError(f"countries must be two-letter ISO 3166 codes, got {countries!r}")
    if not signing_keys:
        raise ValueError("a partner needs at least one signing (Ed25519) public key")
    destination_for(destination, DestinationOptions(endpoint_url))  # refuses a location no destination takes

    def b64(key: object) -> str:
        return base64.b64encode(raw_public_bytes(key)).decode("ascii")  # type: ignore[arg-type]

    return Partner(
        name=name, countries=tuple(c.upper() for c in countries),
        encryption_key=b64(load_x25519_public_key(encryption_key)),
        signing_keys=tuple(b64(load_ed25519_public_key(p)) for p in signing_keys),
        destination=destination, endpoint_url=endpoint_url, media=media, hash_sets=hash_sets,
    )


def _destination(inst: Installation, where: str, endpoint_url: str | None) -> Destination:
    return destination_for(where, DestinationOptions(endpoint_url, inst.settings.s3_part_size, inst.s3_budget))


def interpol_route(inst: Installation) -> Route:
    """Every baseline or national item an analyst of ours decided, and every new location of
    one, not yet delivered, to the INTERPOL drop (media if ``export_media``); until
    INTERPOL's keys are configured, encrypted to our own drop key."""
    s = inst.settings
    keys = tuple(load_x25519_public_key(p) for p in s.interpol_keys) or (inst.keys.drop_public(),)
    where = s.interpol_destination or str(s.drop_dir)
    # INTERPOL gets what an analyst of ours decided (confirmed, under four-eyes), never a
    # verdict taken from a known set: INTERPOL's own sets would go back to it, and a set's
    # match is no assessment of ours
    # new material (no known set nor partner had it) is marked and listed first, for victim
    # identification; ``interpol_scope = new`` sends nothing else
    return Route(name=INTERPOL, destination=_destination(inst, where, s.s3_endpoint_url), recipients=keys,
                 include_media=s.export_media, sources=("analyst",),
                 escalate="only" if s.interpol_scope == "new" else "flag")


def recheck_new_material(inst: Installation, route: Route, *, actor: str) -> int:
    """Match the items ``route`` was sent as new material against the known sets as they are
    now (a set imported since, a partner's hash set merged since), so that it is told of a
    match once, as an update. A match on a decided item records the match only: it changes
    no verdict. Returns how many items matched."""
    shas = inst.catalog.awaiting_update(route.name) if route.escalate else []
    if not shas:
        return 0
    from hashing import match_stored_media  # an export that escalates nothing loads no index

    found = match_stored_media(inst.catalog, shas, min_quality=inst.settings.pdq_min_quality,
                               vpdq_threshold=inst.settings.vpdq_threshold)
    inst.catalog.record_matches(found, actor=actor)
    return len({m.sha256 for m in found})


def _partner_key(partner: Partner) -> tuple[X25519PublicKey, ...]:
    return (X25519PublicKey.from_public_bytes(base64.b64decode(partner.encryption_key)),)


def partner_route(inst: Installation, partner: Partner) -> Route:
    """Items seen hosted in the partner's countries, with those sightings, for notice and takedown."""
    return Route(name=f"partner:{partner.name}",
                 destination=_destination(inst, partner.destination, partner.endpoint_url),
                 recipients=_partner_key(partner), kind=MANIFEST_KIND, include_media=partner.media,
                 countries=partner.countries)


def hashset_route(inst: Installation, partner: Partner) -> Route:
    """Our analysts' confirmed hashes (not hashes from others' known sets), as a hash set."""
    return Route(name=f"hashset:{partner.name}",
                 destination=_destination(inst, partner.destination, partner.endpoint_url),
                 recipients=_partner_key(partner), kind=HASHSET_KIND, sources=("analyst",))


def export_route(
    inst: Installation, route: Route, *, actor: str, feedback: Sequence[dict[str, Any]] = ()
) -> list[Delivery]:
    return export_pending(
        inst.catalog, inst.evidence.get, route=route, outbox=inst.settings.outbox_dir,
        sender=inst.keys.signing_private(), sender_country=inst.settings.country, actor=actor, feedback=feedback,
        on_bytes=counter(f"bundle to {route.name}", "bytes"),  # shown by a command that runs the flow
    )


def export_to_partner(inst: Installation, name: str, *, hash_set: bool = False, actor: str) -> list[Delivery]:
    """Deliver what partner ``name`` has not had: its notice-and-takedown items (and again
    those a re-check still finds up, ``renotice_hours`` after the last notice), or
    (``hash_set``) our new confirmed hashes if it takes hash sets."""
    partner = inst.catalog.get_partner(name)
    if hash_set:
        return export_route(inst, hashset_route(inst, partner), actor=actor) if partner.hash_sets else []
    s = inst.settings
    if s.renotice_hours > 0:
        inst.catalog.request_renotices(f"partner:{partner.name}", actor=actor,
                                       older_than=utcnow() - timedelta(hours=s.renotice_hours),
                                       escalate_after=s.renotice_escalate_after)
    # matches our senior analysts contested in the partner's hash sets go back with the next bundle
    owed = contested_feedback(inst.catalog, source=f"partner:{partner.name}")
    deliveries = export_route(inst, partner_route(inst, partner), actor=actor, feedback=feedback_rows(owed))
    carrier = next((d.bundle_id for d in deliveries if d.feedback), None)
    if carrier is not None:
        inst.catalog.mark_feedback_sent([h.id for h in owed], f"bundle {carrier}", actor=actor)
    return deliveries


ESCALATION = "escalation"


def escalation_route(inst: Installation) -> Route | None:
    """Escalated items (a partner notified ``renotice_escalate_after`` times and the content
    still up), to the escalation destination if the installation has one."""
    s = inst.settings
    if not s.escalation_destination:
        return None
    keys = tuple(load_x25519_public_key(p) for p in s.escalation_keys) or (inst.keys.drop_public(),)
    return Route(name=ESCALATION, destination=_destination(inst, s.escalation_destination, s.s3_endpoint_url),
                 recipients=keys, kind=MANIFEST_KIND, only=frozenset(inst.catalog.escalations()))


def export_escalations(inst: Installation, *, actor: str) -> list[Delivery]:
    """Deliver escalated items the escalation destination has not had (none without one)."""
    route = escalation_route(inst)
    return export_route(inst, route, actor=actor) if route is not None and route.only else []


def export_feedback_file(inst: Installation, out: Path, *, source: str | None = None, actor: str) -> int:
    """Write the contested matches of sets that are not partners' (Project VIC, a vendor list:
    anything the operator hands over by hand) and not told yet to ``out`` as JSON; returns how
    many. A partner's set is told in the next bundle to that partner instead."""
    owed = [h for h in contested_feedback(inst.catalog, source=source)
            if not (_source_of(inst, h.set_name) or "").startswith("partner:")]
    document = {"format": "hotline-known-feedback/1", "sender_country": inst.settings.country,
                "created_at": utcnow().isoformat() + "Z", "contested": feedback_rows(owed)}
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    tmp.replace(out)
    inst.catalog.mark_feedback_sent([h.id for h in owed], f"file {out.name}", actor=actor)
    return len(owed)


def write_hash_set(inst: Installation, out: Path, fmt: Literal["parquet", "vics"], *, actor: str) -> int:
    """Write every hash our analysts confirmed, whatever was sent before, to ``out`` as Parquet
    or Project VIC VICS 2.0 JSON (hashes only, no media), for tools such as Griffeye; audited.
    Returns how many items."""
    from exports.hashsets import hash_rows, to_parquet, to_vics

    items = inst.catalog.export_candidates(None, 1_000_000, sources=("analyst",))
    out.write_bytes(to_parquet(hash_rows(items)) if fmt == "parquet" else to_vics(items))
    inst.catalog.audit(actor, "hashset.write", str(out), format=fmt, items=len(items))
    return len(items)


def _source_of(inst: Installation, set_name: str) -> str | None:
    try:
        return inst.catalog.get_known_set(set_name).source
    except NotFound:
        return None


# Inbound ---------------------------------------------------------------------------------


def add_known_hashes(inst: Installation, set_name: str, partner: str, rows: list[dict[str, str | None]]) -> int:
    """Merge ``rows`` into the known set ``set_name`` (each row's ``category`` is the verdict
    the partner recorded); returns how many rows it gained. The set is rewritten whole: its old rows plus the new, deduplicated."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = ("md5", "sha1", "sha256", "pdq", "id", "category")
    new = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    try:
        before = inst.catalog.get_known_set(set_name)
        table = pa.concat_tables([pq.read_table(before.path).select(list(columns)), new])
        old_rows = before.rows
    except NotFound:
        table, old_rows = new, 0
    fd, tmp = tempfile.mkstemp(dir=inst.settings.known_dir, prefix=f".{set_name}.", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table, tmp)  # hashes only, never media
        # each row's category is the verdict the partner recorded (the hotline category profile)
        imported, _ = inst.import_known_set(Path(tmp), set_name, None, category_profile="hotline",
                                            source=PARTNER_SOURCE + partner)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return imported.rows - old_rows


def remove_known_hashes(inst: Installation, set_name: str, sha256s: list[str]) -> int:
    """Remove the rows of these items from the known set ``set_name`` (a partner corrected
    or retracted them); returns how many went. The set is rewritten whole without them; a
    set left empty is removed from the registry (its past matches and verdicts stay)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        before = inst.catalog.get_known_set(set_name)
    except NotFound:
        return 0
    columns = ["md5", "sha1", "sha256", "pdq", "id", "category"]
    table = pq.read_table(before.path).select(columns)
    kept = table.filter(pc.invert(pc.is_in(table["sha256"], value_set=pa.array(sha256s, pa.string()))))
    removed = table.num_rows - kept.num_rows
    if removed == 0:
        return 0
    if kept.num_rows == 0:
        inst.catalog.delete_known_set(set_name, actor=SYSTEM)
        Path(before.path).unlink(missing_ok=True)
        return removed
    fd, tmp = tempfile.mkstemp(dir=inst.settings.known_dir, prefix=f".{set_name}.", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(kept, tmp)
        inst.import_known_set(Path(tmp), set_name, None, category_profile="hotline", source=before.source)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return removed


def open_bundle(inst: Installation, path: Path, *, key: Path | None = None, actor: str) -> OpenedBundle:
    """Verify the bundle at ``path`` (signed by us or by a partner) and decrypt it with ``key``
    or our receiving keys; audited. Raises a ``BundleError`` naming what is wrong."""
    trusted = [*inst.keys.signing_publics(), *(k for p in inst.catalog.partners() for k in partner_keys(p))]
    opened = open_bundle_file(path, key or inst.keys.receiving_keys(), trusted=trusted)
    inst.catalog.audit(actor, "bundle.open", opened.bundle_id, file=str(path))
    return opened


def import_bundle_file(inst: Installation, path: Path, *, location: str | None = None, actor: str) -> ImportResult:
    """Verify and import one partner bundle file (see ``exports.inbound``)."""
    from spiders.urls import normalise_url  # the URL identity reports are found by

    s = inst.settings
    result = import_bundle(
        inst.catalog, Path(path), location=location or str(Path(path).resolve()),
        recipients=inst.keys.receiving_keys(), partners=inst.catalog.partners(),
        jurisdiction=s.our_jurisdiction,
        add_known_hashes=lambda name, partner, rows: add_known_hashes(inst, name, partner, rows),
        remove_known_hashes=lambda name, sha256s: remove_known_hashes(inst, name, sha256s),
        url_key=normalise_url,
        store_media=inst.evidence.put if s.import_media else None, actor=actor,
        take_list=lambda partner, manifest, data: take_handled_list(inst, partner, manifest, data,
                                                                    bundle_id=str(manifest["bundle_id"]), actor=actor),
    )
    if result.sent_to_review:  # the partner corrected rows that had classified these items
        from classification.clusters import ClusteringConfig, cluster_queue  # NumPy: only when needed

        cluster_queue(inst.catalog, ClusteringConfig(pdq_threshold=s.cluster_pdq_threshold))
    return result


@dataclass(frozen=True)
class PollResult:
    imported: list[ImportResult] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    skipped: int = 0  # handled by an earlier poll


def inbound_source(inst: Installation) -> Destination:
    s = inst.settings
    return _destination(inst, s.inbound or str(s.inbox_dir), s.s3_endpoint_url)


def poll_inbound(inst: Installation, *, actor: str) -> PollResult:
    """Import every bundle in our inbound directory or S3 prefix not handled before. A refused
    bundle is recorded with its reason and the poll goes on; it is not retried."""
    source = inbound_source(inst)
    result = PollResult()
    for name in source.list_bundles():
        location = _location(source, name)
        if inst.catalog.inbound_seen(location):
            result = PollResult(result.imported, result.refused, result.skipped + 1)
            continue
        try:
            if isinstance(source, LocalDirectoryDrop):
                result.imported.append(import_bundle_file(inst, source.root / name, location=location, actor=actor))
                continue
            fd, tmp = tempfile.mkstemp(dir=inst.settings.data_dir, prefix=".inbound-", suffix=".hlb")
            os.close(fd)
            try:  # the file is the bundle as sent: encrypted
                source.fetch(name, Path(tmp))
                result.imported.append(import_bundle_file(inst, Path(tmp), location=location, actor=actor))
            finally:
                Path(tmp).unlink(missing_ok=True)
        except BundleError as exc:
            result.refused.append((location, f"{type(exc).__name__}: {exc}"))
    return result


def _location(source: Destination, name: str) -> str:
    if isinstance(source, LocalDirectoryDrop):
        return str((source.root / name).resolve())
    return source.locate(name)


def delivery_table(delivered: dict[str, list[dict[str, Any]]], failed: dict[str, str], unrouted: int,
                   abuse: dict[str, Any], escalated: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One export-partners run as table rows (partner, bundles, items): each partner's
    deliveries or failure, locations no route takes, each abuse contact's e-mails, and the
    escalations; the run's summary artifact."""
    return (
        [{"partner": n, "bundles": str(len(d)), "items": str(sum(x["items"] for x in d))} for n, d in delivered.items()]
        + [{"partner": n, "bundles": "failed", "items": why} for n, why in failed.items()]
        + ([{"partner": "(no hosting country)", "bundles": "route by hand: hotline export unrouted",
             "items": f"{unrouted} location(s)"}] if unrouted else [])
        + [{"partner": r["contact"], "bundles": f"{len(r['sent'])} e-mail(s)"
            + (f", {len(r['withdrawn'])} withdrawal(s)" if r["withdrawn"] else "")
            + (f"; failed, waits in the outbox: {r['failed']}" if r["failed"] else ""),
            "items": f"{r['urls']} URL(s)"} for r in abuse["contacts"]]
        + ([{"partner": "(no abuse contact)", "bundles": "no partner nor contact covers the host",
             "items": f"{abuse['unmatched']} URL(s)"}] if abuse["unmatched"] else [])
        + ([{"partner": "(escalation)", "bundles": str(len(escalated)),
             "items": str(sum(x["items"] for x in escalated))}] if escalated else [])
    )
