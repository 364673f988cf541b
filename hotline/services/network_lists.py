"""No investigation twice across hotlines: handled lists to and from partners.

Each partner gets, on a schedule, our *handled list*: keyed hashes (``exports.handled_lists``)
of the normalised URLs we investigate or have crawled, and of the SHA-256s of the items we
decided, with our case, its state or our verdict, and since when. The key is the
partnership's own (X25519 of our receiving key and the partner's, through HKDF): nobody else
can test anything against the list, and the partner learns only what it has itself.

With a partner's list in, before a report is crawled its URL is looked up: a URL the partner
has crawled, or reported before us, links our report to the partner's case (status
``linked``) and it is not crawled unless the operator asks (``crawl_anyway``). Reporting at
the same second, or a partner's failed crawl, links nothing: in doubt both crawl, never
neither. An item a partner decided is shown with the partner's verdict, and is no longer new
material for INTERPOL; when the partner's record carries its grading and nothing is in doubt,
our law profiles derive our verdict from that grading and it is not queued
(``classification.partner``: source ``partner``, never sent to INTERPOL as ours). A partner's
next list that no longer names the item, or names it with another verdict or grading,
sends it back to review.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from catalog.exchange_ledger.records import Partner
from exports import Delivery, write_bundle
from exports.handled_lists import (
    HANDLED_FILE,
    HANDLED_KIND,
    ListEntry,
    check_agreement,
    from_parquet,
    key_agreement,
    keyed_digest,
    partnership_key,
    to_parquet,
)
from exports.outbound import bundle_file_name
from spiders.urls import normalise_url

if TYPE_CHECKING:
    from classification.profiles import ProfileSet
    from hotline.installation import Installation

# a partner's report in these states stands for ours (if it came first, or was crawled)
_CLAIMING = ("pending", "processing", "done")


def list_route_name(partner: str) -> str:
    return f"list:{partner}"


def _their_key(partner: Partner) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(base64.b64decode(partner.encryption_key))


def partnership_key_with(inst: Installation, partner: Partner) -> bytes:
    """The key we share with ``partner``: our current receiving key and its registered one."""
    return partnership_key(inst.keys.receiving_keys()[0], _their_key(partner))


def url_identity(url: str) -> str:
    """A URL as both sides key it: the crawl's one form, or as given if it is none."""
    return normalise_url(url) or url


def _second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def handled_list(inst: Installation, partner: Partner) -> list[ListEntry]:
    """Our handled list for ``partner``, keyed: reports we investigate or crawled (not those it
    told us of, not those we left to another partner), and the items our analysts decided."""
    key = partnership_key_with(inst, partner)
    source = inst.catalog.handled_list_source(exclude_source=partner.name)
    first: dict[str, ListEntry] = {}  # a URL reported twice is listed once, with its first report
    for rid, url, status, at in source.reports:
        digest = keyed_digest(key, "url", url_identity(url))
        if status in _CLAIMING and (digest not in first or _second(at) < first[digest].since):
            first[digest] = ListEntry("url", digest, str(rid), status, None, _second(at))
    items = [ListEntry("media", keyed_digest(key, "media", sha), None, None, verdict, _second(at), grading)
             for sha, verdict, at, grading in source.items]
    return [*first.values(), *items]


def send_handled_list(inst: Installation, name: str, *, actor: str) -> Delivery:
    """Deliver our handled list to partner ``name`` as a signed bundle encrypted to it, in
    the ledger as destination ``list:<name>``."""
    from hotline.services.partner_exchange import _destination

    partner = inst.catalog.get_partner(name)
    ours, theirs = inst.keys.receiving_keys()[0], _their_key(partner)
    entries = handled_list(inst, partner)
    manifest = {"kind": HANDLED_KIND, "destination": list_route_name(name), "sender_country": inst.settings.country,
                "media_included": False, "items": [], "key_agreement": key_agreement(ours, theirs),
                "entries": {"url": sum(e.kind == "url" for e in entries),
                            "media": sum(e.kind == "media" for e in entries)}}
    box = inst.settings.outbox_dir / list_route_name(name).replace(":", "_")
    box.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=box, suffix=".hlb.part")
    os.close(fd)
    try:  # keyed hashes only, and encrypted as any bundle is
        with Path(tmp).open("wb") as out:
            info = write_bundle(out, manifest, iter(()), sender=inst.keys.signing_private(), recipients=[theirs],
                                files=[(HANDLED_FILE, to_parquet(entries))])
        destination = _destination(inst, partner.destination, partner.endpoint_url)
        location = destination.deliver(Path(tmp), bundle_file_name(info.bundle_id))
    finally:
        Path(tmp).unlink(missing_ok=True)
    inst.catalog.record_export(bundle_id=info.bundle_id, destination=list_route_name(name), location=location,
                               recipients=list(info.recipient_fingerprints), sha256=info.sha256, size=info.size,
                               items=[], actor=actor)
    return Delivery(info.bundle_id, list_route_name(name), str(location), len(entries), info.sha256, info.size)


def take_handled_list(inst: Installation, partner: Partner, manifest: dict[str, Any], data: bytes, *,
                      bundle_id: str, actor: str) -> int:
    """Keep a partner's handled list in place of its last one, then look up our open reports
    and our items in it. Raises ``BundleMalformed`` if it was keyed with other keys."""
    check_agreement(manifest, inst.keys.receiving_keys()[0], _their_key(partner), bundle_id)
    entries = from_parquet(data, bundle_id)
    kept = inst.catalog.replace_partner_list(
        partner.name, [(e.kind, e.digest, e.case, e.state, e.verdict, e.since,
                        None if e.grading is None else dict(e.grading)) for e in entries],
        bundle_id=bundle_id, actor=actor)
    check_reports(inst, [r.id for r in inst.catalog.list_reports(status="pending", limit=1_000_000)], actor=actor)
    sent = recheck_partner_verdicts(inst, partner, actor=actor)
    noted = check_items(inst, inst.catalog.all_media_sha256s(), actor=actor)
    adopted = adopt_partner_decisions_of(inst, noted, actor=actor) if noted else 0
    if sent or adopted:  # items left the queue or came back to it
        from classification.clusters import cluster_queue  # NumPy: only when needed
        from hotline.installation import clustering_config

        cluster_queue(inst.catalog, clustering_config(inst.settings, inst.evidence.get))
    return kept


def recheck_partner_verdicts(inst: Installation, partner: Partner, *, actor: str) -> list[str]:
    """Send back to review the items whose verdict came from a decision ``partner`` took part
    in when its list (just received) no longer names them, or names them with another verdict
    or grading: the partner corrected or retracted its decision. Returns the items sent back."""
    ours = inst.catalog.partner_decided_items(partner.name)
    if not ours:
        return []
    key = partnership_key_with(inst, partner)
    digests = {keyed_digest(key, "media", s): s for s in ours}
    hits = inst.catalog.partner_list_hits(partner.name, "media", list(digests))
    now = {digests[d]: (e[4], e[6]) for d, e in hits.items()}
    changed = [s for s, made_from in ours.items() if now.get(s) != made_from]
    return inst.catalog.withdraw_partner_verdicts(
        partner.name, changed, actor=actor,
        reason=f"partner {partner.name!r} corrected, retracted or no longer lists its decision") if changed else []


def partner_decision_profiles(inst: Installation) -> ProfileSet | None:
    """Our law profiles, to derive our verdicts from partners' gradings; None when they cannot
    be loaded (no profile for the home country, a broken file): then nothing is derived, the
    items a partner decided wait for our analysts, and ``hotline doctor`` names the fault."""
    from classification.errors import ProfileError
    from hotline.installation import review_config

    try:
        return review_config(inst.settings).profiles
    except ProfileError:
        return None


def adopt_partner_decisions_of(inst: Installation, sha256s: Sequence[str], *, actor: str) -> int:
    """Our verdicts from the partners' gradings of these items (``classification.partner``),
    under our law profiles; returns how many items were decided (none without profiles)."""
    from classification.partner import adopt_partner_decisions

    profiles = partner_decision_profiles(inst)
    return adopt_partner_decisions(inst.catalog, sha256s, profiles, actor=actor).decided if profiles else 0


def check_reports(inst: Installation, report_ids: Sequence[int], *, actor: str) -> list[int]:
    """Before crawling: link each of ``report_ids`` (not crawled yet) whose URL a partner has
    crawled, or received before us, to that partner's case; returns the reports linked (not
    to crawl). A report the partner itself sent us stays ours."""
    partners = [p for p in inst.catalog.partners() if p.name in set(inst.catalog.partners_with_lists())]
    open_reports = inst.catalog.linkable_reports(report_ids) if partners and report_ids else []
    links: list[tuple[int, str, Any]] = []
    taken: set[int] = set()
    for partner in partners:
        key = partnership_key_with(inst, partner)
        # a report the partner sent us (notice and takedown) is ours to crawl: it is hosted here
        digests = {rid: (keyed_digest(key, "url", url_identity(url)), at) for rid, url, at, source in open_reports
                   if rid not in taken and source != partner.name}
        hits = inst.catalog.partner_list_hits(partner.name, "url", [d for d, _ in digests.values()])
        for rid, (digest, at) in digests.items():
            entry = hits.get(digest)
            if entry is not None and (entry[3] == "done" or (entry[3] in _CLAIMING and entry[5] < _second(at))):
                links.append((rid, partner.name, entry))
                taken.add(rid)
    return inst.catalog.link_reports(links, actor=actor) if links else []


def check_items(inst: Installation, sha256s: Sequence[str], *, actor: str) -> list[str]:
    """Note each of ``sha256s`` a partner decided, with its verdict and grading; returns the
    items whose partner record is new or changed."""
    hits: list[tuple[str, str, Any]] = []
    with_lists = set(inst.catalog.partners_with_lists())
    for partner in (p for p in inst.catalog.partners() if p.name in with_lists):
        key = partnership_key_with(inst, partner)
        digests = {keyed_digest(key, "media", s): s for s in sha256s}
        for digest, entry in inst.catalog.partner_list_hits(partner.name, "media", list(digests)).items():
            hits.append((digests[digest], partner.name, entry))
    return inst.catalog.note_partner_decisions(hits, actor=actor) if hits else []
