"""Importing partners' bundles: verify, decrypt, take in what concerns us, remember the bundle.

A bundle is accepted only if it is signed by a registered partner's key, addressed to one of
our receiving keys (current or retired, so bundles in flight during a key rotation still
open), complete, untampered, and not imported before. Then:

* every sighting hosted in our jurisdiction becomes a new report (``source`` = the partner),
  unless some report already names that page, so a URL is never investigated twice;
* the partner's baseline hashes join its known set (``partner-<name>``, verdict baseline),
  deduplicated, so items it already assessed are classified on sight, not queued;
  nationally illegal items are not applied: they are illegal under the partner's law, which
  need not be ours (their URLs still become reports, for our analysts);
* media, if the bundle carries them and we accept them, go into our evidence store.

A correction bundle (``hotline.correction/1``) changes what an earlier bundle said: each
item's row in the partner's known set is removed (a retraction, or a correction to a verdict
we do not apply) or added (a correction to baseline), and the items that row classified go
back to review, as do the items whose verdict our law profiles derived from the partner's
decision of the item (``classification.partner``).

Whatever the outcome, the bundle is recorded (``inbound_bundles``, audited): imported with
its counts, or refused with the reason, which is also raised as a ``BundleError``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from catalog.catalog import Catalog
from catalog.exchange_ledger.records import Partner
from catalog.reports.records import NewReport
from exports.bundle import read_bundle
from exports.destinations import sha256_of_file
from exports.errors import BundleError, BundleMalformed, BundleReplayed
from exports.handled_lists import HANDLED_FILE, HANDLED_KIND
from exports.key_files import fingerprint
from exports.outbound import CORRECTION_KIND, KINDS

_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}


@dataclass(frozen=True)
class ImportResult:
    """What one imported bundle brought."""

    bundle_id: str
    partner: str
    kind: str
    items: int
    reports_added: tuple[int, ...]
    urls_already_reported: int
    known_set: str | None
    hashes_added: int
    national_not_applied: int
    media_stored: int
    feedback: int = 0  # contested matches of our hash sets the partner told us about
    list_entries: int = 0  # a handled list: how many entries it holds
    corrections: int = 0  # corrections and retractions of items it sent before
    hashes_removed: int = 0  # rows of its known set they removed
    sent_to_review: tuple[str, ...] = ()  # items those rows had classified, back in the queue


def partner_keys(partner: Partner) -> list[Ed25519PublicKey]:
    return [Ed25519PublicKey.from_public_bytes(base64.b64decode(k)) for k in partner.signing_keys]


def known_set_name(partner: str) -> str:
    return f"partner-{partner}"


def import_bundle(
    catalog: Catalog,
    path: Path,
    *,
    location: str,
    recipients: Sequence[X25519PrivateKey],
    partners: Sequence[Partner],
    jurisdiction: Collection[str],
    add_known_hashes: Callable[[str, str, list[dict[str, str | None]]], int],
    store_media: Callable[[bytes], str] | None,
    actor: str,
    take_list: Callable[[Partner, dict[str, Any], bytes], int] | None = None,
    remove_known_hashes: Callable[[str, list[str]], int] | None = None,
    url_key: Callable[[str], str | None] | None = None,
) -> ImportResult:
    """Import the bundle file at ``path`` (picked up at ``location``).

    ``add_known_hashes(set_name, partner, rows)`` merges rows (md5, sha1, sha256, pdq, id,
    category) into a known set and returns how many were new; ``remove_known_hashes(set_name,
    sha256s)`` removes rows and returns how many went (None: a correction bundle is refused);
    ``store_media`` puts accepted media into the evidence store (None: media are not
    accepted); ``take_list(partner, manifest, data)`` keeps a handled list
    (``exports.handled_lists``) and returns its entries (None: lists are refused);
    ``url_key(url)`` is a URL's identity (``NewReport.url_key``), by which a URL the bundle
    names is found already reported, and its report is found as a repeat later. Raises
    ``BundleError`` after recording the refusal.
    """
    digest, size = sha256_of_file(path)
    bundle_id: str | None = None
    partner: Partner | None = None
    try:
        with Path(path).open("rb") as src:
            opened, members = read_bundle(src, recipient=recipients,
                                          trusted_senders=[k for p in partners for k in partner_keys(p)])
            bundle_id = opened.bundle_id
            partner = _partner_of(opened.sender_fingerprint, partners)
            if catalog.bundle_imported(opened.bundle_id) is not None:
                raise BundleReplayed(f"bundle {opened.bundle_id!r} from {partner.name!r} was imported already")
            corrections = _corrections(opened.manifest, opened.bundle_id)
            if corrections and remove_known_hashes is None:
                raise BundleMalformed(f"bundle {opened.bundle_id!r}: corrections are not taken here")
            items = _items(opened.manifest, opened.bundle_id)
            feedback = _feedback(opened.manifest, opened.bundle_id)
            stored = 0
            handled: bytes | None = None
            entries = 0
            for member in members:  # also authenticates every remaining chunk
                if member.kind == "media" and store_media is not None:
                    store_media(member.data)
                    stored += 1
                elif member.kind == "file" and member.name == HANDLED_FILE:
                    handled = member.data
            if opened.manifest["kind"] == HANDLED_KIND:
                if take_list is None or handled is None:
                    raise BundleMalformed(f"bundle {opened.bundle_id!r}: a handled list "
                                          + ("we do not take" if handled is not None else f"without {HANDLED_FILE}"))
                entries = take_list(partner, opened.manifest, handled)
    except BundleError as exc:
        catalog.record_inbound(location=location, sha256=digest, size=size, status="refused", actor=actor,
                               bundle_id=bundle_id, partner=partner.name if partner else None,
                               reason=f"{type(exc).__name__}: {exc}")
        raise
    if opened.manifest["kind"] == HANDLED_KIND:
        result = ImportResult(bundle_id=opened.bundle_id, partner=partner.name, kind=HANDLED_KIND, items=0,
                              reports_added=(), urls_already_reported=0, known_set=None, hashes_added=0,
                              national_not_applied=0, media_stored=0, list_entries=entries)
    else:
        result = _ingest(catalog, opened.manifest["kind"], items, opened.bundle_id, partner, jurisdiction,
                         add_known_hashes, stored, actor, url_key)
    for row in feedback:  # the partner says one of the hashes we sent it matched something wrongly
        catalog.audit(actor, "known_row.feedback_received", str(row["row_key"]), partner=partner.name,
                      bundle=opened.bundle_id, **{k: v for k, v in row.items() if k != "row_key"})
    result = replace(result, feedback=len(feedback))
    if corrections:
        assert remove_known_hashes is not None
        result = _correct(catalog, result, corrections, partner, add_known_hashes, remove_known_hashes, actor)
    catalog.record_inbound(location=location, sha256=digest, size=size, status="imported", actor=actor,
                           bundle_id=opened.bundle_id, partner=partner.name, summary=_summary(result))
    return result


def _summary(result: ImportResult) -> dict[str, Any]:
    return {"kind": result.kind, "items": result.items, "reports_added": len(result.reports_added),
            "urls_already_reported": result.urls_already_reported, "hashes_added": result.hashes_added,
            "national_not_applied": result.national_not_applied, "media_stored": result.media_stored,
            "feedback": result.feedback, **({"list_entries": result.list_entries} if result.list_entries else {}),
            **({"corrections": result.corrections, "hashes_removed": result.hashes_removed,
                "sent_to_review": len(result.sent_to_review)} if result.corrections else {})}


def _ingest(
    catalog: Catalog,
    kind: str,
    items: list[dict[str, Any]],
    bundle_id: str,
    partner: Partner,
    jurisdiction: Collection[str],
    add_known_hashes: Callable[[str, str, list[dict[str, str | None]]], int],
    stored: int,
    actor: str,
    url_key: Callable[[str], str | None] | None,
) -> ImportResult:
    ours = {c.upper() for c in jurisdiction}
    urls = list(dict.fromkeys(
        s["page_url"] for i in items for s in i.get("sightings", []) if str(s.get("country") or "").upper() in ours
    ))
    keyed = {u: url_key(u) if url_key is not None else None for u in urls}
    known = catalog.reported_urls(keyed)
    fresh: dict[str, NewReport] = {}  # by URL identity: two spellings of one URL are one report
    for u in urls:
        if u not in known:
            fresh.setdefault(keyed[u] or u, NewReport(url=u, url_key=keyed[u], source=partner.name))
    added = tuple(f.id for f in catalog.add_reports(list(fresh.values()), actor=actor)) if fresh else ()
    rows = [_row(partner, i["sha256"], i["hashes"], i["verdict"]) for i in items if i["verdict"] == "baseline"]
    set_name = known_set_name(partner.name) if rows else None
    new_hashes = add_known_hashes(set_name, partner.name, rows) if set_name else 0
    return ImportResult(
        bundle_id=bundle_id, partner=partner.name, kind=kind, items=len(items), reports_added=added,
        urls_already_reported=len(known), known_set=set_name, hashes_added=new_hashes,
        national_not_applied=sum(1 for i in items if i["verdict"] == "national"), media_stored=stored,
    )


def _correct(
    catalog: Catalog,
    result: ImportResult,
    corrections: list[dict[str, Any]],
    partner: Partner,
    add_known_hashes: Callable[[str, str, list[dict[str, str | None]]], int],
    remove_known_hashes: Callable[[str, list[str]], int],
    actor: str,
) -> ImportResult:
    """Apply a partner's corrections to its known set: a row goes when the item is no
    longer baseline (national is not applied here, a retraction is nothing, a withdrawal is
    no verdict while the partner reviews the item again), and the items it classified go
    back to review; an item corrected to baseline gains its row. An item whose verdict our
    profiles derived from the partner's decision goes back to review too."""
    set_name = known_set_name(partner.name)
    gone = [c["sha256"] for c in corrections if c["verdict"] != "baseline"]
    removed = remove_known_hashes(set_name, gone) if gone else 0
    sent = catalog.withdraw_row_verdicts(
        set_name, [_row_id(partner, s) for s in gone], actor=actor,
        reason=f"partner {partner.name!r} corrected, retracted or withdrew its verdict") if gone else []
    # an item our profiles decided from the partner's grading goes back to review whatever the
    # new verdict: the grading it was derived from is what the partner changed its mind about
    sent += [s for s in catalog.withdraw_partner_verdicts(
        partner.name, [c["sha256"] for c in corrections], actor=actor,
        reason=f"partner {partner.name!r} corrected, retracted or withdrew its decision") if s not in sent]
    rows = [_row(partner, c["sha256"], c["hashes"], "baseline") for c in corrections if c["verdict"] == "baseline"]
    added = add_known_hashes(set_name, partner.name, rows) if rows else 0
    for c in corrections:
        catalog.audit(actor, f"known_row.{c['action']}_received", c["sha256"], partner=partner.name,
                      bundle=result.bundle_id, previous=c["previous"], verdict=c["verdict"], set=set_name)
    return replace(result, corrections=len(corrections), hashes_removed=removed, hashes_added=result.hashes_added + added,
                   known_set=result.known_set or set_name, sent_to_review=tuple(sent))


def _row_id(partner: Partner, sha256: str) -> str:
    return f"{partner.name}:{sha256[:16]}"


def _row(partner: Partner, sha256: str, hashes: dict[str, Any], verdict: str) -> dict[str, str | None]:
    """The partner's known-set row of an item it sent (its id names the partner and the item)."""
    return {"md5": hashes.get("md5"), "sha1": hashes.get("sha1"), "sha256": sha256, "pdq": hashes.get("pdq"),
            "id": _row_id(partner, sha256), "category": verdict}


_ACTIONS = {"correction": ("baseline", "national"), "retraction": ("not-illegal",), "withdrawal": ("withdrawn",)}


def _corrections(manifest: dict[str, Any], bundle_id: str) -> list[dict[str, Any]]:
    """A correction bundle's corrections, checked like items (none for other kinds)."""
    if manifest.get("kind") != CORRECTION_KIND:
        return []
    rows = manifest.get("corrections")
    if not isinstance(rows, list) or not rows:
        raise BundleMalformed(f"bundle {bundle_id!r} manifest: corrections must be a non-empty list")
    for n, c in enumerate(rows):
        ok = (isinstance(c, dict) and isinstance(c.get("sha256"), str) and len(c["sha256"]) == 64
              and bool(_HEX.match(c["sha256"])) and c.get("verdict") in _ACTIONS.get(str(c.get("action")), ())
              and c.get("previous") in ("baseline", "national", "withdrawn") and isinstance(c.get("hashes"), dict))
        if ok:
            _check_hashes(c["hashes"], f"bundle {bundle_id!r} correction {n}:")
        else:
            raise BundleMalformed(f"bundle {bundle_id!r} manifest: correction {n} is not a correction: {c!r:.200}")
    return rows


def _check_hashes(hashes: dict[str, Any], where: str) -> None:
    for algo, length in _HASH_LENGTHS.items():
        value = hashes.get(algo)
        if value is not None and (not isinstance(value, str) or len(value) != length or not _HEX.match(value)):
            raise BundleMalformed(f"{where} {algo} {value!r} is not {length} lowercase hex digits")


def _partner_of(fp: str, partners: Sequence[Partner]) -> Partner:
    for p in partners:
        if any(fingerprint(k) == fp for k in partner_keys(p)):
            return p
    raise AssertionError(f"verified sender {fp!r} is not a partner's key")  # read_bundle checked it


_FEEDBACK_KEYS = {"set": 64, "row_key": 200, "known_id": 200, "known_hash": 64, "match_type": 8, "category": 64,
                  "set_version": 64, "reason": 2000, "contested_at": 40}


def _feedback(manifest: dict[str, Any], bundle_id: str) -> list[dict[str, Any]]:
    """The manifest's contested matches (``known_feedback``), checked: short strings only."""
    rows = manifest.get("known_feedback", [])
    if not isinstance(rows, list):
        raise BundleMalformed(f"bundle {bundle_id!r} manifest: known_feedback must be a list")
    for n, row in enumerate(rows):
        ok = isinstance(row, dict) and isinstance(row.get("row_key"), str) and all(
            k in _FEEDBACK_KEYS and (v is None or (isinstance(v, str) and len(v) <= _FEEDBACK_KEYS[k]))
            for k, v in row.items())
        if not ok:
            raise BundleMalformed(f"bundle {bundle_id!r} manifest: known_feedback {n} is not a contested match: "
                                  f"{row!r:.200}")
    return rows


def _items(manifest: dict[str, Any], bundle_id: str) -> list[dict[str, Any]]:
    """The manifest's items, checked: a partner's bundle is untrusted input even when signed."""
    def bad(what: str) -> BundleMalformed:
        return BundleMalformed(f"bundle {bundle_id!r} manifest: {what}")

    if manifest.get("kind") not in (*KINDS, HANDLED_KIND, CORRECTION_KIND):
        raise bad(f"kind {manifest.get('kind')!r} is not one of {(*KINDS, HANDLED_KIND, CORRECTION_KIND)!r}")
    items = manifest.get("items")
    if not isinstance(items, list):
        raise bad(f"items must be a list, got {type(items).__name__}")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"item {n} is not an object")
        sha = item.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64 or not _HEX.match(sha):
            raise bad(f"item {n} sha256 {sha!r} is not a SHA-256 hex digest")
        if item.get("verdict") not in ("baseline", "national"):
            raise bad(f"item {n} verdict {item.get('verdict')!r} is not baseline or national")
        hashes = item.get("hashes")
        if not isinstance(hashes, dict):
            raise bad(f"item {n} hashes must be an object")
        _check_hashes(hashes, f"bundle {bundle_id!r} manifest: item {n}")
        for s in item.get("sightings", []):
            if not isinstance(s, dict) or not isinstance(s.get("page_url"), str) or not s["page_url"].startswith(
                ("http://", "https://")
            ):
                raise bad(f"item {n} has a sighting without an http(s) page_url: {s!r}")
    return items
