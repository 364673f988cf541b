"""Outbound exports through an outbox, so that a run killed or failing at any point neither
loses nor duplicates a delivery.

A :class:`Route` is one stream of bundles: a ledger name (``interpol``, ``partner:<name>``,
``hashset:<name>``), a destination, the recipients' keys, what goes in (items, or a hash
set) and which items qualify (hosted in which countries, decided by whom).

1. A bundle's intent is written first: a sidecar ``<outbox>/<route>/<bundle_id>.json`` naming
   its ID and the items it carries (written durably; digest and size are added once the
   bundle is written).
2. To a destination that takes a stream (S3), the bundle is uploaded while it is written, in
   parts, and the upload is completed (the commit point) only after the sidecar holds its
   digest: no copy is written locally. If the store fails, the same bundle (same ID) is
   written to ``<bundle_id>.hlb`` in the outbox instead, as it always is for a directory.
3. A bundle file is delivered (idempotent: its name holds its ID), the delivery recorded in
   the export ledger (once), and only then are file and sidecar removed.

Every run first finishes what an earlier run left in the outbox: a whole file is delivered
under the same name, a bundle the destination already has is recorded, and one that never
got there (the run died while writing it, or a crash tore its file, which is checked against
the sidecar's SHA-256 because it is not fsynced: at 2 GB that would cost more than the upload)
is dropped, its items going into a new bundle. So a retried export never produces two
bundles for the same items, and none is lost. One run per route at a time (a file lock).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from catalog.catalog import Catalog
from catalog.exchange_ledger.records import CorrectionCandidate, ExportCandidate
from exports.bundle import MAX_MANIFEST_SIZE, EncodedArray, write_bundle
from exports.destinations import BundleStream, Destination, StreamingDestination, sha256_of_file
from exports.errors import DeliveryRefused, ExportError
from exports.hashsets import hash_set_files

MANIFEST_KIND = "hotline.items/1"
HASHSET_KIND = "hotline.hashset/1"
KINDS = (MANIFEST_KIND, HASHSET_KIND)
# corrections and retractions of items a destination had, on every route (docs/bundle-format.md 10.8)
CORRECTION_KIND = "hotline.correction/1"
# Candidates read from the catalog at a time while a bundle is built: memory holds one page of
# them and the bundle's manifest (encoded), not ten thousand candidates with their sightings.
CANDIDATE_PAGE = 500
MANIFEST_BUDGET = MAX_MANIFEST_SIZE // 2
"""A bundle's item entries stop growing at this many encoded bytes (the rest go in the next
bundle): readers refuse a manifest over ``MAX_MANIFEST_SIZE``, and the head (notices sent
again, feedback) needs room beside the items."""


@dataclass(frozen=True)
class Route:
    """Where one stream of bundles goes, to whom, and what it carries."""

    name: str  # the ledger's destination name
    destination: Destination
    recipients: tuple[X25519PublicKey, ...]
    kind: str = MANIFEST_KIND  # items with sightings, or a hash set (with Parquet and VICS files)
    include_media: bool = False
    countries: tuple[str, ...] | None = None  # only items whose media or page is hosted there; those sightings
    sources: tuple[str, ...] | None = None  # only verdicts from these sources (analyst, known-set)
    # new material (no known set nor partner had it): ``flag`` marks it, lists it first, with its
    # evidence, and sends an update once it is known; ``only``: nothing but new material
    escalate: str | None = None
    only: frozenset[str] | None = None  # only these items (the escalation route: escalated ones)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"route kind must be one of {KINDS!r}, not {self.kind!r}")
        if not self.recipients:
            raise ValueError(f"route {self.name!r} has no recipient keys")
        if self.escalate not in (None, "flag", "only"):
            raise ValueError(f"route escalate must be flag, only or None, not {self.escalate!r}")


@dataclass(frozen=True)
class Delivery:
    """One bundle delivered and recorded."""

    bundle_id: str
    destination: str
    location: str
    items: int
    sha256: str
    size: int
    feedback: bool = False  # it carried the contested matches (``known_feedback``) this run was given
    corrections: int = 0  # corrections and retractions it carried (a correction bundle)


@dataclass(frozen=True)
class _Pending:
    """An outbox sidecar: the bundle's ID and items from the start; its digest, size and
    recipients once it is written."""

    bundle_id: str
    destination: str
    sha256: str | None
    size: int | None
    recipients: list[str]
    items: list[tuple[str, int]]
    locations: list[tuple[str, str, str]] = field(default_factory=list)  # (SHA-256, media URL, page URL)
    escalated: list[tuple[str, str]] = field(default_factory=list)  # (SHA-256, new | update)
    corrections: list[tuple[str, int, str, str]] = field(default_factory=list)  # (SHA-256, verdict ID, was, now)


def build_manifest(
    destination: str,
    items: Sequence[ExportCandidate],
    *,
    sender_country: str,
    media_included: bool,
    kind: str = MANIFEST_KIND,
    feedback: Sequence[dict[str, Any]] = (),
    escalate: bool = False,
    notices: dict[str, tuple[int, bool]] | None = None,
) -> dict[str, Any]:
    """The manifest of a bundle of ``items``: hashes, verdicts, how each verdict was reached
    and (for item bundles) the sightings each candidate carries; never media. ``feedback``:
    contested matches of the recipient's hash sets (``known_feedback``, docs/bundle-format.md 10.1);
    ``escalate``: every item says whether it is new material (10.5).
    ``notices``: item -> (notice number, escalated) of the items this bundle notifies again
    (``notices``, 10.9)."""
    again = [n for i in items if (n := _notice(i, notices)) is not None]
    return {
        **_manifest_head(destination, sender_country=sender_country, media_included=media_included, kind=kind,
                         feedback=feedback, again=again),
        "items": [manifest_item(destination, i, kind=kind, escalate=escalate) for i in items],
    }


def _manifest_head(destination: str, *, sender_country: str, media_included: bool, kind: str,
                   feedback: Sequence[dict[str, Any]], again: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A manifest's keys other than ``items``."""
    return {
        **({"known_feedback": [dict(f) for f in feedback]} if feedback else {}),
        **({"notices": again} if again else {}),
        "kind": kind,
        "destination": destination,
        "sender_country": sender_country,
        "media_included": media_included,
    }


def _notice(i: ExportCandidate, notices: dict[str, tuple[int, bool]] | None) -> dict[str, Any] | None:
    """The ``notices`` entry of item ``i``, if this bundle notifies it again."""
    if not notices or i.sha256 not in notices:
        return None
    return {"sha256": i.sha256, "notice": notices[i.sha256][0], "escalated": notices[i.sha256][1]}


def manifest_item(destination: str, i: ExportCandidate, *, kind: str, escalate: bool) -> dict[str, Any]:
    """The manifest's entry of item ``i`` (docs/bundle-format.md 10.1)."""
    return {
        "sha256": i.sha256,
        "kind": i.kind,
        "mime": i.mime,
        "size": i.size,
        "verdict": i.verdict.value,
        "verdict_source": i.verdict_source,
        "verdict_basis": i.verdict_basis or i.verdict_source,
        "decided_at": i.decided_at.isoformat() + "Z",
        # INTERPOL gets what produced an automatic verdict (set, version, row, category,
        # match), so a wrong set version can be traced; partners do not: sets are licensed
        **({"provenance": i.provenance} if i.provenance and destination == "interpol" else {}),
        "hashes": dict(i.hashes),
        **({"sightings": [dict(s) for s in i.sightings]} if kind == MANIFEST_KIND else {}),
        # new material: no known set nor partner had it (docs/bundle-format.md 10.5)
        **({"new_material": i.escalation == "new"} if escalate else {}),
        **({"escalation": i.escalation, **(i.evidence or {})} if i.escalation else {}),
    }


def build_correction_manifest(
    destination: str, corrections: Sequence[CorrectionCandidate], *, sender_country: str
) -> dict[str, Any]:
    """The manifest of a correction bundle: for each item the destination had, the verdict
    it had and the new one; a retraction when the new one is not exportable, a withdrawal
    when ours no longer stands while the item is reviewed again. The reason stays with the
    sender (its audit log), as the analysts' notes do."""
    return {
        "kind": CORRECTION_KIND,
        "destination": destination,
        "sender_country": sender_country,
        "media_included": False,
        "items": [],
        "corrections": [
            {"sha256": c.sha256, "action": c.action, "previous": c.told_before, "verdict": c.told,
             "decided_at": c.decided_at.isoformat() + "Z", "hashes": dict(c.hashes)}
            for c in corrections
        ],
    }


def bundle_file_name(bundle_id: str) -> str:
    return f"hotline-{bundle_id}.hlb"


def export_pending(
    catalog: Catalog,
    load: Callable[[str], bytes],
    *,
    route: Route,
    outbox: Path,
    sender: Ed25519PrivateKey,
    sender_country: str,
    actor: str,
    max_items: int = 10_000,
    feedback: Sequence[dict[str, Any]] = (),
    on_bytes: Callable[[int], None] | None = None,
) -> list[Delivery]:
    """Deliver every item ``route`` has not had, at most ``max_items`` (and ``MANIFEST_BUDGET``
    bytes of entries) a bundle; returns the
    deliveries made, including those an earlier, interrupted run had left in the outbox.
    ``feedback`` (contested matches for the recipient) goes into the first bundle built,
    which is built for it even when no item is due; its delivery says ``feedback``. ``on_bytes``
    hears of each piece of a bundle written (a caller's progress display)."""
    box = outbox / route.name.replace(":", "_")
    box.mkdir(parents=True, exist_ok=True)
    carry = list(feedback)
    with exclusive(box):  # one run per route at a time; another one waits
        deliveries = _flush(catalog, box, route.destination, actor, fresh={})
        while True:
            pages = _candidate_pages(catalog, route, max_items)
            first = next(pages, [])
            if not first and not carry:
                break
            notices = catalog.open_notices(route.name) if route.kind == MANIFEST_KIND else {}
            if route.only is not None:  # the escalation route: each item as its partner was last notified
                notices = catalog.escalations(route.only)
            bundle_id, streamed = _build(box, route, itertools.chain([first], pages), load, sender=sender,
                                         sender_country=sender_country, feedback=carry, notices=notices,
                                         on_bytes=on_bytes)
            fresh = _flush(catalog, box, route.destination, actor, fresh={bundle_id: streamed})
            deliveries += [replace(d, feedback=True) if carry and d.bundle_id == bundle_id else d for d in fresh]
            carry = []
        # a changed verdict of an item this destination had: it is told, whatever the route carries
        while corrections := catalog.correction_candidates(route.name, max_items):
            manifest = build_correction_manifest(route.name, corrections, sender_country=sender_country)
            pending = _Pending(bundle_id=uuid.uuid4().hex, destination=route.name, sha256=None, size=None,
                               recipients=[], items=[], corrections=[(c.sha256, c.verdict_id, c.told_before,
                                                                      c.told) for c in corrections])
            streamed = _seal(box, route, pending, manifest, lambda: iter(()), [], sender=sender, on_bytes=on_bytes)
            deliveries += _flush(catalog, box, route.destination, actor, fresh={pending.bundle_id: streamed})
    return deliveries


@contextmanager
def exclusive(box: Path) -> Iterator[None]:
    """Hold the outbox folder `box` (one run per route at a time; another one waits)."""
    with (box / ".lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _candidate_pages(catalog: Catalog, route: Route, max_items: int) -> Iterator[list[ExportCandidate]]:
    """The candidates of ``route``'s next bundle, at most ``max_items``, ``CANDIDATE_PAGE``
    at a time, each item once (an item whose verdict changed while the pages were read would
    otherwise come again, under its new verdict)."""
    seen: set[str] = set()
    after: ExportCandidate | None = None
    while len(seen) < max_items:
        want = min(CANDIDATE_PAGE, max_items - len(seen))
        page = catalog.export_candidates(route.name, want, countries=route.countries, sources=route.sources,
                                         locations=route.kind == MANIFEST_KIND, escalate=route.escalate,
                                         only=route.only, after=after)
        fresh = [i for i in page if i.sha256 not in seen]
        seen.update(i.sha256 for i in fresh)
        if fresh:
            yield fresh
        if len(page) < want:
            return
        after = page[-1]


def _build(
    box: Path,
    route: Route,
    pages: Iterable[Sequence[ExportCandidate]],
    load: Callable[[str], bytes],
    *,
    sender: Ed25519PrivateKey,
    sender_country: str,
    feedback: Sequence[dict[str, Any]] = (),
    notices: dict[str, tuple[int, bool]] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[str, str | None]:
    """Build the bundle of the candidates ``pages`` bring, a page at a time: what stays is
    the manifest's entries (encoded), the sidecar's lists and, for a hash set, the rows of its
    files. Returns the bundle's ID and, if it was streamed to the destination, its location
    there (otherwise it waits in the outbox as a file)."""
    entries = EncodedArray()
    again: list[dict[str, Any]] = []
    items: list[tuple[str, int]] = []
    locations: list[tuple[str, str, str]] = []
    escalated: list[tuple[str, str]] = []
    hashed: list[ExportCandidate] = []
    for i in itertools.chain.from_iterable(pages):
        if entries.nbytes >= MANIFEST_BUDGET:
            break  # the candidates left go in the next bundle
        entries.append(manifest_item(route.name, i, kind=route.kind, escalate=route.escalate is not None))
        if (notice := _notice(i, notices)) is not None:
            again.append(notice)
        items.append((i.sha256, i.verdict_id))
        if route.kind == MANIFEST_KIND:
            locations += [(i.sha256, str(s["media_url"]), str(s["page_url"])) for s in i.sightings]
        if i.escalation:
            escalated.append((i.sha256, i.escalation))
        if route.kind == HASHSET_KIND:
            hashed.append(replace(i, sightings=()))
    manifest = {**_manifest_head(route.name, sender_country=sender_country, media_included=route.include_media,
                                 kind=route.kind, feedback=feedback, again=again), "items": entries}
    files = hash_set_files(hashed) if route.kind == HASHSET_KIND else []
    pending = _Pending(bundle_id=uuid.uuid4().hex, destination=route.name, sha256=None, size=None,
                       recipients=[], items=items, locations=locations, escalated=escalated)

    def media() -> Iterator[tuple[str, bytes]]:
        return ((sha256, load(sha256)) for sha256, _ in items) if route.include_media else iter(())

    return pending.bundle_id, _seal(box, route, pending, manifest, media, files, sender=sender, on_bytes=on_bytes)


def _seal(
    box: Path,
    route: Route,
    pending: _Pending,
    manifest: dict[str, Any],
    media: Callable[[], Iterator[tuple[str, bytes]]],
    files: Sequence[tuple[str, bytes]],
    *,
    sender: Ed25519PrivateKey,
    on_bytes: Callable[[int], None] | None = None,
) -> str | None:
    """Write the bundle ``pending`` announces, its sidecar first; returns its location at
    the destination if it was streamed there (otherwise it waits in the outbox as a file)."""
    sidecar = box / f"{pending.bundle_id}.json"
    write_sidecar(sidecar, pending)  # the intent, before any byte leaves

    def write(out: Any) -> _Pending:
        counted = out if on_bytes is None else cast(BinaryIO, _Counted(out, on_bytes))
        info = write_bundle(counted, manifest, media(), sender=sender, recipients=route.recipients, files=files,
                            bundle_id=pending.bundle_id, check_digests=False)  # the evidence store checked them
        done = replace(pending, sha256=info.sha256, size=info.size, recipients=list(info.recipient_fingerprints))
        write_sidecar(sidecar, done)
        return done

    stream = _open_stream(route.destination, bundle_file_name(pending.bundle_id))
    if stream is not None:
        try:
            write(stream)
            return stream.complete()  # the commit point at the destination
        except ExportError:
            stream.abort()  # the store failed: build the same bundle into the outbox instead
        except BaseException:
            stream.abort()
            raise
    part = box / f"building-{os.getpid()}.hlb.part"
    with part.open("wb") as out:
        write(out)
    part.replace(box / f"{pending.bundle_id}.hlb")
    return None


class _Counted:
    """Pass-through to ``out`` that tells ``on_bytes`` of each piece written."""

    def __init__(self, out: Any, on_bytes: Callable[[int], None]) -> None:
        self._out, self._on_bytes = out, on_bytes

    def write(self, data: bytes) -> int:
        written = self._out.write(data)
        self._on_bytes(len(data))
        return int(written) if written is not None else len(data)


def _open_stream(destination: Destination, name: str) -> BundleStream | None:
    """A streamed upload to ``destination`` if it offers one and is reachable, else None."""
    if not isinstance(destination, StreamingDestination):
        return None
    try:
        return destination.open_stream(name)
    except DeliveryRefused:  # no bucket, no access: building the bundle would not help
        raise
    except Exception:  # noqa: BLE001 - the store is down: build into the outbox, deliver later
        return None


def write_sidecar(path: Path, pending: Any) -> None:
    """Write the dataclass ``pending`` to ``path`` as JSON, whole or not at all (fsynced,
    then renamed over it): an outbox's record of what a delivery is to do."""
    tmp = path.with_suffix(".json.part")
    with tmp.open("w") as out:
        json.dump(asdict(pending), out)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def _flush(
    catalog: Catalog, box: Path, destination: Destination, actor: str, *, fresh: dict[str, str | None]
) -> list[Delivery]:
    """Deliver and record every bundle in ``box``. ``fresh``: the bundle built by this run and
    its streamed location, if any. A leftover of an earlier run is delivered from its file if
    the file is whole, recorded if the destination has it, and otherwise dropped: it never
    reached the destination, so its items simply go into a new bundle."""
    for leftover in box.glob("*.part"):
        leftover.unlink()
    done: list[Delivery] = []
    for sidecar in sorted(box.glob("*.json"), key=lambda p: p.stat().st_mtime):
        raw = json.loads(sidecar.read_text())
        pending = _Pending(**{**raw, "items": [tuple(i) for i in raw["items"]],
                              "locations": [tuple(loc) for loc in raw.get("locations", [])],
                              "escalated": [tuple(e) for e in raw.get("escalated", [])],
                              "corrections": [tuple(c) for c in raw.get("corrections", [])]})
        bundle = box / f"{pending.bundle_id}.hlb"
        name = bundle_file_name(pending.bundle_id)
        whole = bundle.exists() and pending.sha256 is not None and (
            pending.bundle_id in fresh or sha256_of_file(bundle) == (pending.sha256, pending.size))
        streamed = fresh.get(pending.bundle_id)
        if streamed is not None:
            location = streamed
        elif whole:
            location = destination.deliver(bundle, name)
        elif pending.sha256 is not None and destination.exists(name):  # the run died after delivering
            location = destination.locate(name)
        else:  # never finished, or torn by a crash, and never delivered
            if isinstance(destination, StreamingDestination):
                destination.discard_incomplete(name)
            bundle.unlink(missing_ok=True)
            sidecar.unlink()
            continue
        assert pending.sha256 is not None and pending.size is not None
        catalog.record_export(
            bundle_id=pending.bundle_id, destination=pending.destination, location=location,
            recipients=pending.recipients, sha256=pending.sha256, size=pending.size,
            items=pending.items, actor=actor, locations=pending.locations, escalated=pending.escalated,
            corrections=pending.corrections,
        )
        bundle.unlink(missing_ok=True)
        sidecar.unlink()
        done.append(Delivery(pending.bundle_id, pending.destination, str(location), len(pending.items),
                             pending.sha256, pending.size, corrections=len(pending.corrections)))
    return done
