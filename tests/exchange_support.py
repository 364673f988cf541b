"""Shared by the exchange tests: two installations (ours and a partner's), confirmed items
with sightings in given countries, and registering each installation at the other.
All media are synthetic: Pillow pictures from ``hotline.demo.local_site`` or random bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from catalog.decisions.records import Verdict
from catalog.exchange_ledger.records import Partner
from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from hashing import hash_image
from hotline.installation import Installation
from hotline.services.partner_exchange import partner_from_key_files
from hotline.settings import Settings


def make_installation(root: Path, name: str, country: str, **settings: object) -> Installation:
    return Installation.init(Settings(data_dir=root / name, country=country, **settings))


def confirmed_item(
    inst: Installation,
    data: bytes,
    *,
    page_url: str,
    country: str,
    verdict: Verdict | None = Verdict.BASELINE,
    image: bool = True,
    ip: str = "192.0.2.7",
) -> str:
    """Store ``data`` as if crawled from ``page_url`` hosted in ``country`` (at ``ip``), hash it and
    record an analyst's ``verdict`` (None: leave it queued); returns its SHA-256."""
    sha256 = inst.evidence.put(data)
    catalog = inst.catalog
    report = catalog.add_report(page_url, actor="test")
    media_url = page_url.rstrip("/") + f"/{sha256[:8]}.jpg"
    catalog.record_crawl(report, CrawlResult(
        page_url, media=(MediaRecord(sha256, len(data), "image/jpeg" if image else None),),
        sightings=(SightingRecord(sha256, media_url, page_url, ip=ip, country=country),),
    ))
    if image:
        catalog.record_hashes(hash_image(data).records())
    else:
        catalog.record_hashes([HashRecord(sha256, "sha256", sha256),
                               HashRecord(sha256, "md5", hashlib.md5(data).hexdigest()),
                               HashRecord(sha256, "sha1", hashlib.sha1(data).hexdigest())])
    catalog.queue_unmatched([sha256])
    if verdict is not None:
        catalog.record_verdict(sha256, verdict, actor=f"{inst.settings.country.lower()}-analyst")
    return sha256


def register(at: Installation, other: Installation, name: str, *, countries: list[str],
             destination: str | None = None, endpoint_url: str | None = None, media: bool = False) -> Partner:
    """Register installation ``other`` as partner ``name`` at ``at``: its current public keys,
    and (default) its inbox directory as the destination."""
    keys = other.keys.public_files()
    partner = partner_from_key_files(
        name, countries=countries, encryption_key=keys["inbox"], signing_keys=[keys["signing"]],
        destination=destination or str(other.settings.inbox_dir), endpoint_url=endpoint_url, media=media,
    )
    return at.catalog.save_partner(partner, actor="test")
