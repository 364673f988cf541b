"""Outbound exports through an outbox, so that a run killed at any point neither loses
nor duplicates a delivery.

1. The items a destination has not had are written, encrypted and signed, to
   ``<outbox>/<destination>/<bundle_id>.hlb.part``, renamed to ``.hlb`` when complete, and
   described by a sidecar ``<bundle_id>.json`` (bundle facts and the items it carries).
2. A bundle with a sidecar is delivered (delivery is idempotent), recorded in the export
   ledger (once), and only then removed from the outbox.

Every run first finishes what an earlier run left in the outbox, so a bundle that was
delivered but not recorded is recorded, not rebuilt with the same items.
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

MANIFEST_KIND = "hotline.items/1"


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
    destination: str, items: Sequence[ExportCandidate], *, sender_country: str, media_included: bool
) -> dict[str, Any]:
    """The manifest of a bundle of ``items``: hashes, verdicts and sightings, no media."""
    return {
        "kind": MANIFEST_KIND,
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
                "sightings": [dict(s) for s in i.sightings],
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
    destination_name: str,
    destination: Destination,
    outbox: Path,
    sender: Ed25519PrivateKey,
    recipients: Sequence[X25519PublicKey],
    include_media: bool,
    sender_country: str,
    actor: str,
) -> list[Delivery]:
    """Deliver every item ``destination_name`` has not had; returns the deliveries made,
    including those an earlier, interrupted run had left in the outbox."""
    box = outbox / destination_name
    box.mkdir(parents=True, exist_ok=True)
    deliveries = _flush(catalog, box, destination, actor)
    items = catalog.export_candidates(destination_name)
    if items:
        manifest = build_manifest(destination_name, items, sender_country=sender_country,
                                  media_included=include_media)
        media: Iterator[tuple[str, bytes]] = (
            ((i.sha256, load(i.sha256)) for i in items) if include_media else iter(())
        )
        part = box / f"building-{os.getpid()}.hlb.part"
        with part.open("wb") as out:
            info = write_bundle(out, manifest, media, sender=sender, recipients=recipients)
            out.flush()
            os.fsync(out.fileno())
        part.replace(box / f"{info.bundle_id}.hlb")
        pending = _Pending(
            bundle_id=info.bundle_id, destination=destination_name, sha256=info.sha256, size=info.size,
            recipients=list(info.recipient_fingerprints), items=[(i.sha256, i.verdict_id) for i in items],
        )
        _write_sidecar(box / f"{info.bundle_id}.json", pending)
        deliveries += _flush(catalog, box, destination, actor)
    return deliveries


def _write_sidecar(path: Path, pending: _Pending) -> None:
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(asdict(pending)))
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

