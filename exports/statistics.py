"""Statistics bundles (``hotline.stats/1``): one hotline's media-free figures for one month,
sent to a coordinator that builds the network's statistics (docs/bundle-format.md 10.7).

The same bundle as every other: encrypted to the coordinator's X25519 key, signed with the
sender's Ed25519 key, delivered to a destination by URL scheme. The manifest carries no
item; the figures travel as attached Parquet files (``files/<table>.parquet``). A newer
bundle for the same hotline and month replaces the older one at the coordinator; which is
newer is the manifest's ``as_of``, the moment the sender's catalog was read.

Two keys came later, and a bundle without them is read as before: ``urls_included`` (the
sender publishes URL rows, ``urls`` and ``exchanged_urls``; absent: false, and then no such
file may be attached) and ``partner_countries`` (the countries the sender's partner hotlines
handle; absent: none).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from exports.bundle import BundleInfo, read_bundle, write_bundle
from exports.errors import BundleMalformed
from exports.key_files import fingerprint

STATS_KIND = "hotline.stats/1"
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_FILE = re.compile(r"^[a-z_]{1,64}\.parquet$")
URL_FILES = ("urls.parquet", "exchanged_urls.parquet")


@dataclass(frozen=True)
class StatisticsBundle:
    """A verified statistics bundle: who sent it (the coordinator's name for the sender),
    for which month, describing the sender's catalog at ``as_of``, and its Parquet files."""

    bundle_id: str
    hotline: str
    period: str  # YYYY-MM
    as_of: datetime
    sender_country: str
    urls_included: bool
    partner_countries: tuple[str, ...]
    manifest: dict[str, Any]
    files: dict[str, bytes]
    sha256: str
    size: int


def statistics_manifest(*, period: str, as_of: datetime, sender_country: str, rows: Mapping[str, int],
                        urls_included: bool, partner_countries: Sequence[str]) -> dict[str, Any]:
    return {"kind": STATS_KIND, "destination": "stats", "period": period, "as_of": as_of.isoformat() + "Z",
            "sender_country": sender_country, "media_included": False, "urls_included": urls_included,
            "partner_countries": sorted({c.upper() for c in partner_countries}), "items": [], "rows": dict(rows)}


def _country(value: object) -> bool:
    return isinstance(value, str) and len(value) == 2 and value.isalpha()


def write_statistics_bundle(out: BinaryIO, manifest: Mapping[str, Any], files: Mapping[str, bytes], *,
                            sender: Ed25519PrivateKey, recipients: Sequence[X25519PublicKey],
                            bundle_id: str | None = None) -> BundleInfo:
    return write_bundle(out, manifest, (), sender=sender, recipients=recipients, files=sorted(files.items()),
                        bundle_id=bundle_id)


def read_statistics_bundle(path: Path, *, recipients: Sequence[X25519PrivateKey],
                           publishers: Mapping[str, Sequence[Ed25519PublicKey]]) -> StatisticsBundle:
    """Verify and read the statistics bundle at ``path``, signed by one of ``publishers``
    (name -> signing keys). Raises a ``BundleError`` naming what is wrong."""
    trusted = [k for keys in publishers.values() for k in keys]
    with Path(path).open("rb") as src:
        opened, members = read_bundle(src, recipient=list(recipients), trusted_senders=trusted)
        files = {m.name: m.data for m in members}  # also authenticates every remaining chunk
    m = opened.manifest

    def bad(what: str) -> BundleMalformed:
        return BundleMalformed(f"bundle {opened.bundle_id!r} manifest: {what}")

    if m.get("kind") != STATS_KIND:
        raise bad(f"kind {m.get('kind')!r} is not {STATS_KIND!r}")
    if not isinstance(m.get("period"), str) or not _PERIOD.match(m["period"]):
        raise bad(f"period {m.get('period')!r} is not a month, YYYY-MM")
    try:
        as_of = datetime.fromisoformat(str(m.get("as_of")).removesuffix("Z"))
    except ValueError:
        raise bad(f"as_of {m.get('as_of')!r} is not an RFC 3339 UTC time") from None
    country = m.get("sender_country")
    if not isinstance(country, str) or not _country(country):
        raise bad(f"sender_country {country!r} is not a two-letter code")
    if m.get("items") or m.get("media_included") or any(not _FILE.match(name) for name in files):
        raise bad("a statistics bundle carries Parquet files only, no item and no media")
    urls_included = m.get("urls_included", False)
    if not isinstance(urls_included, bool):
        raise bad(f"urls_included {urls_included!r} is not true or false")
    if not urls_included and any(name in files for name in URL_FILES):
        raise bad("URL rows are attached but urls_included is not true")
    partners = m.get("partner_countries", [])
    if not isinstance(partners, list) or not all(_country(c) for c in partners):
        raise bad(f"partner_countries {partners!r} is not a list of two-letter codes")
    hotline = next(name for name, keys in publishers.items()
                   if any(fingerprint(k) == opened.sender_fingerprint for k in keys))
    return StatisticsBundle(bundle_id=opened.bundle_id, hotline=hotline, period=m["period"], as_of=as_of,
                            sender_country=country.upper(), urls_included=urls_included,
                            partner_countries=tuple(sorted({c.upper() for c in partners})), manifest=m, files=files, sha256=opened.sha256,
                            size=opened.size)
