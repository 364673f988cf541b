"""Outbound exports through an outbox, so that a run killed or failing at any point neither
loses nor duplicates a delivery.

A :class:`Route` is one stream of bundles: a ledger name (``interpol``, ``partner:<name>``,
``hashset:<name>``), a destination, the recipients' keys, what goes in (items, or a hash
set) and which items qualify (hosted in which countries, decided by whom).

1. The items a route has not had are written, encrypted and signed, to
   ``<outbox>/<route>/building-<pid>.hlb.part``, renamed to ``<bundle_id>.hlb`` when complete,
   and described by a sidecar ``<bundle_id>.json`` (bundle facts and the items it carries).
2. A bundle with a sidecar is delivered (delivery is idempotent: the bundle's name holds its
   ID), recorded in the export ledger (once), and only then removed from the outbox.

Every run first finishes what an earlier run left in the outbox, so a bundle that failed to
upload, or was delivered but not recorded, is delivered again under the same name and
recorded, never rebuilt with the same items: a retried export cannot produce two bundles for
the same items.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from catalog import Catalog
from catalog.records import ExportCandidate
from exports.bundle import write_bundle
from exports.destinations import Destination
from exports.hashsets import hash_set_files

MANIFEST_KIND = "hotline.items/1"
HASHSET_KIND = "hotline.hashset/1"
KINDS = (MANIFEST_KIND, HASHSET_KIND)


@dataclass(frozen=True)
class Route:
    """Where one stream of bundles goes, to whom, and what it carries."""

    name: str  # the ledger's destination name
    destination: Destination
    recipients: tuple[X25519PublicKey, ...]
    kind: str = MANIFEST_KIND  # items with sightings, or a hash set (with Parquet and VICS files)
    include_media: bool = False
    countries: tuple[str, ...] | None = None  # only items seen hosted there; only those sightings
    sources: tuple[str, ...] | None = None  # only verdicts from these sources (analyst, known-set)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"route kind must be one of {KINDS!r}, not {self.kind!r}")
        if not self.recipients:
            raise ValueError(f"route {self.name!r} has no recipient keys")


@dataclass(frozen=True)
class Delivery:
    """One bundle delivered and recorded."""

    bundle_id: str
    destination: str
    location: str
    items: int
    sha256: str
    size: int


@dataclass(frozen=True)
class _Pending:
    bundle_id: str
    destination: str
    sha256: str
    size: int
    recipients: list[str]
    items: list[tuple[str, int]]


def build_manifest(
    destination: str,
    items: Sequence[ExportCandidate],
    *,
    sender_country: str,
    media_included: bool,
    kind: str = MANIFEST_KIND,
    countries: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The manifest of a bundle of ``items``: hashes, verdicts and (for item bundles) the
    sightings, limited to ``countries`` when given; never media."""
    wanted = None if countries is None else {c.upper() for c in countries}
    return {
        "kind": kind,
        "destination": destination,
        "sender_country": sender_country,
        "media_included": media_included,
        "items": [
            {
                "sha256": i.sha256,
                "kind": i.kind,
                "mime": i.mime,
                "size": i.size,
                "verdict": i.verdict.value,
                "verdict_source": i.verdict_source,
                "decided_at": i.decided_at.isoformat() + "Z",
                "hashes": dict(i.hashes),
                **({"sightings": [dict(s) for s in i.sightings if wanted is None or s.get("country") in wanted]}
                   if kind == MANIFEST_KIND else {}),
            }
            for i in items
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
) -> list[Delivery]:
    """Deliver every item ``route`` has not had, ``max_items`` a bundle; returns the
    deliveries made, including those an earlier, interrupted run had left in the outbox."""
    box = outbox / route.name.replace(":", "_")
    box.mkdir(parents=True, exist_ok=True)
    deliveries = _flush(catalog, box, route.destination, actor)
    while items := catalog.export_candidates(route.name, max_items, countries=route.countries,
                                             sources=route.sources):
        _build(box, route, items, load, sender=sender, sender_country=sender_country)
        deliveries += _flush(catalog, box, route.destination, actor)
    return deliveries


def _build(
    box: Path,
    route: Route,
    items: Sequence[ExportCandidate],
    load: Callable[[str], bytes],
    *,
    sender: Ed25519PrivateKey,
    sender_country: str,
) -> None:
    manifest = build_manifest(route.name, items, sender_country=sender_country, media_included=route.include_media,
                              kind=route.kind, countries=route.countries)
    media: Iterator[tuple[str, bytes]] = (
        ((i.sha256, load(i.sha256)) for i in items) if route.include_media else iter(())
    )
    files = hash_set_files(items) if route.kind == HASHSET_KIND else []
    part = box / f"building-{os.getpid()}.hlb.part"
    with part.open("wb") as out:
        info = write_bundle(out, manifest, media, sender=sender, recipients=route.recipients, files=files)
        out.flush()
        os.fsync(out.fileno())
    part.replace(box / f"{info.bundle_id}.hlb")
    pending = _Pending(
        bundle_id=info.bundle_id, destination=route.name, sha256=info.sha256, size=info.size,
        recipients=list(info.recipient_fingerprints), items=[(i.sha256, i.verdict_id) for i in items],
    )
    _write_sidecar(box / f"{info.bundle_id}.json", pending)


def _write_sidecar(path: Path, pending: _Pending) -> None:
    tmp = path.with_suffix(".json.part")
    with tmp.open("w") as out:
        json.dump(asdict(pending), out)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def _flush(catalog: Catalog, box: Path, destination: Destination, actor: str) -> list[Delivery]:
    """Deliver and record every complete bundle in ``box``; drop half-written ones."""
    for leftover in box.glob("*.part"):
        leftover.unlink()
    done: list[Delivery] = []
    for sidecar in sorted(box.glob("*.json"), key=lambda p: p.stat().st_mtime):
        raw = json.loads(sidecar.read_text())
        pending = _Pending(**{**raw, "items": [tuple(i) for i in raw["items"]]})
        bundle = box / f"{pending.bundle_id}.hlb"
        location = destination.deliver(bundle, bundle_file_name(pending.bundle_id))
        catalog.record_export(
            bundle_id=pending.bundle_id, destination=pending.destination, location=location,
            recipients=pending.recipients, sha256=pending.sha256, size=pending.size,
            items=pending.items, actor=actor,
        )
        bundle.unlink()
        sidecar.unlink()
        done.append(Delivery(pending.bundle_id, pending.destination, location, len(pending.items),
                             pending.sha256, pending.size))
    return done
