"""The network's statistics for one installation: publishing ours to a coordinator, and
being the coordinator (any hotline can): its publishers, their bundles in, the network
snapshot. No media and no central server that sees them: only the figures travel.

A publisher (``publish_statistics``) builds its monthly statistics (``stats.publication``),
sends each month as a signed, encrypted statistics bundle (``exports.statistics``) to
``stats_coordinator`` and records it in the export ledger (destination ``stats:<month>``).

A coordinator keeps its publishers' signing keys in ``<network>/publishers/<name>.json``
(registered partners are trusted too, under their partner name), imports statistics
bundles (``import_statistics_file``, ``poll_statistics``), keeps the newest statistics of each
(hotline, month) in ``<network>/received/<hotline>/<month>`` (a link to the version, swapped
in one step) and builds the network snapshot in ``<network>/snapshot`` (``stats.network``).
Every bundle is recorded in ``inbound_bundles``: a bundle ID imported before is refused
(``BundleReplayed``), and so is statistics no newer than what is kept for that hotline and
month (``StatisticsSuperseded``), so nothing is ever counted twice.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exports import BundleError, BundleReplayed, DestinationOptions, LocalDirectoryDrop, destination_for
from exports.destinations import Destination, sha256_of_file
from exports.errors import StatisticsSuperseded
from exports.inbound import partner_keys
from exports.key_files import fingerprint, load_ed25519_public_key, load_x25519_public_key, raw_public_bytes
from exports.outbound import bundle_file_name
from exports.statistics import (
    STATS_KIND,
    StatisticsBundle,
    read_statistics_bundle,
    statistics_manifest,
    write_statistics_bundle,
)

if TYPE_CHECKING:
    from hotline.installation import Installation
    from stats.network import NetworkInfo

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Published:
    """One month of our statistics delivered to the coordinator."""

    bundle_id: str
    period: str
    location: str
    size: int
    rows: dict[str, int]


@dataclass(frozen=True)
class StatisticsImport:
    bundle_id: str
    hotline: str
    period: str
    as_of: datetime
    replaced: bool  # an earlier version of that hotline's month was kept before


@dataclass(frozen=True)
class StatisticsPoll:
    imported: list[StatisticsImport] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    skipped: int = 0  # handled by an earlier poll
    snapshot: NetworkInfo | None = None


def _destination(inst: Installation, where: str) -> Destination:
    s = inst.settings
    return destination_for(where, DestinationOptions(s.s3_endpoint_url, s.s3_part_size, inst.s3_budget))


# Publishing ------------------------------------------------------------------------------


def publish_statistics(inst: Installation, *, last: int | None = None, periods: list[str] | None = None,
                       urls: bool | None = None, actor: str) -> list[Published]:
    """Send our statistics of the ``last`` months with figures (None: every month), or of the
    given ``periods`` (YYYY-MM), to the coordinator, one bundle a month; with the URL rows
    when ``urls`` (None: the setting ``stats_publish_urls``)."""
    from stats import SnapshotOptions
    from stats.publication import month_statistics

    s = inst.settings
    if not s.stats_coordinator or s.stats_coordinator_key is None:
        raise ValueError("publishing statistics needs HOTLINE_STATS_COORDINATOR (where) and "
                         "HOTLINE_STATS_COORDINATOR_KEY (the coordinator's X25519 public key, PEM)")
    recipients = [load_x25519_public_key(s.stats_coordinator_key)]
    destination = _destination(inst, s.stats_coordinator)
    box = s.outbox_dir / "stats"
    box.mkdir(parents=True, exist_ok=True)
    done = []
    # no hash is ever published, and no URL or host unless agreed with the coordinator
    # (stats_publish_urls, or this run's choice), whatever the local snapshot keeps (stats_urls)
    with_urls = s.stats_publish_urls if urls is None else urls
    options = SnapshotOptions(country=s.country, urls="full" if with_urls else "none")
    # the hosting countries our partners handle are covered by the network through us
    partner_countries = sorted({c.upper() for p in inst.catalog.partners() for c in p.countries})
    for month in month_statistics(inst.catalog, options, last=last, periods=periods):
        manifest = statistics_manifest(period=month.period, as_of=month.as_of, sender_country=month.country,
                                       rows=month.rows, urls_included=month.urls,
                                       partner_countries=partner_countries)
        bundle_id = uuid.uuid4().hex
        part = box / f"{bundle_id}.hlb.part"
        try:
            with part.open("wb") as out:
                info = write_statistics_bundle(out, manifest, month.files, sender=inst.keys.signing_private(),
                                               recipients=recipients, bundle_id=bundle_id)
            # the figures are rebuilt on every run: a delivery that fails is simply made again
            location = destination.deliver(part, bundle_file_name(bundle_id))
        finally:
            part.unlink(missing_ok=True)
        inst.catalog.record_export(bundle_id=bundle_id, destination=f"stats:{month.period}", location=location,
                                   recipients=list(info.recipient_fingerprints), sha256=info.sha256,
                                   size=info.size, items=[], actor=actor)
        done.append(Published(bundle_id, month.period, location, info.size, month.rows))
    return done


# Coordinating ----------------------------------------------------------------------------


def add_publisher(inst: Installation, name: str, signing_keys: list[Path], *, actor: str) -> list[str]:
    """Trust statistics bundles signed with ``signing_keys`` (Ed25519 PEM) as hotline ``name``'s;
    keys accumulate, as a partner's do. Returns the fingerprints now registered; audited."""
    if not _NAME.match(name):
        raise ValueError(f"a publisher's name is 1-64 letters, digits, '.', '_' or '-', not {name!r}")
    if not signing_keys:
        raise ValueError("a publisher needs at least one signing (Ed25519) public key")
    folder = inst.settings.network_folder / "publishers"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    keys = json.loads(path.read_text())["signing_keys"] if path.exists() else []
    for p in signing_keys:
        keys.append(base64.b64encode(raw_public_bytes(load_ed25519_public_key(p))).decode("ascii"))
    keys = list(dict.fromkeys(keys))
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps({"name": name, "signing_keys": keys}, indent=2) + "\n")
    tmp.replace(path)
    prints = [fingerprint(Ed25519PublicKey.from_public_bytes(base64.b64decode(k))) for k in keys]
    inst.catalog.audit(actor, "stats.publisher.add", name, fingerprints=prints)
    return prints


def publishers(inst: Installation) -> dict[str, list[Ed25519PublicKey]]:
    """Whose statistics we take: registered publishers, and partners under their names."""
    out = {p.name: partner_keys(p) for p in inst.catalog.partners()}
    folder = inst.settings.network_folder / "publishers"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        entry = json.loads(path.read_text())
        out.setdefault(entry["name"], []).extend(
            Ed25519PublicKey.from_public_bytes(base64.b64decode(k)) for k in entry["signing_keys"])
    return out


def _received(inst: Installation) -> Path:
    return inst.settings.network_folder / "received"


@contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _kept_as_of(month: Path) -> datetime | None:
    if not month.exists():
        return None
    return datetime.fromisoformat(json.loads((month / "manifest.json").read_text())["as_of"].removesuffix("Z"))


def _keep(folder: Path, bundle: StatisticsBundle) -> bool:
    """Keep ``bundle``'s files as its hotline's month, in place of an older version (in one
    step: the month is a link to the version's folder). Returns whether one was replaced."""
    hotline = folder / bundle.hotline
    versions = hotline / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    target = versions / f"{bundle.period}-{bundle.bundle_id}"
    building = Path(tempfile.mkdtemp(dir=versions, prefix=".building-"))
    for name, data in bundle.files.items():
        (building / name).write_bytes(data)
    (building / "manifest.json").write_text(json.dumps({**bundle.manifest, "hotline": bundle.hotline}) + "\n")
    building.rename(target)
    link, old = hotline / bundle.period, None
    if link.is_symlink():
        old = link.resolve()
    tmp = hotline / f".{bundle.period}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, hotline), tmp)
    os.replace(tmp, link)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return old is not None


def import_statistics_file(inst: Installation, path: Path, *, location: str | None = None,
                           actor: str) -> StatisticsImport:
    """Verify one statistics bundle and keep it as its hotline's month, unless that bundle, or
    statistics as recent for that month, was imported before. Every outcome is recorded."""
    catalog = inst.catalog
    where = location or str(Path(path).resolve())
    digest, size = sha256_of_file(path)
    bundle: StatisticsBundle | None = None
    folder = _received(inst)
    try:
        with _exclusive(folder):
            bundle = read_statistics_bundle(path, recipients=inst.keys.receiving_keys(), publishers=publishers(inst))
            if catalog.bundle_imported(bundle.bundle_id) is not None:
                raise BundleReplayed(f"bundle {bundle.bundle_id!r} from {bundle.hotline!r} was imported already")
            kept = _kept_as_of(folder / bundle.hotline / bundle.period)
            if kept is not None and kept >= bundle.as_of:
                raise StatisticsSuperseded(
                    f"statistics of {bundle.hotline!r} for {bundle.period} as of {bundle.as_of:%Y-%m-%d %H:%M:%S} "
                    f"are not newer than those kept (as of {kept:%Y-%m-%d %H:%M:%S}); nothing changed")
            replaced = _keep(folder, bundle)
    except BundleError as exc:
        catalog.record_inbound(location=where, sha256=digest, size=size, status="refused", actor=actor,
                               bundle_id=bundle.bundle_id if bundle else None,
                               partner=bundle.hotline if bundle else None, reason=f"{type(exc).__name__}: {exc}")
        raise
    catalog.record_inbound(location=where, sha256=digest, size=size, status="imported", actor=actor,
                           bundle_id=bundle.bundle_id, partner=bundle.hotline,
                           summary={"kind": STATS_KIND, "period": bundle.period,
                                    "as_of": bundle.as_of.isoformat() + "Z", "replaced": replaced})
    return StatisticsImport(bundle.bundle_id, bundle.hotline, bundle.period, bundle.as_of, replaced)


def write_network(inst: Installation) -> NetworkInfo:
    """Build the network snapshot from the statistics kept, and make it current; audited."""
    from stats.network import write_network_snapshot

    s = inst.settings
    with _exclusive(_received(inst)):
        info = write_network_snapshot(_received(inst), s.network_folder / "snapshot", keep=s.stats_keep)
    inst.catalog.audit("stats", "stats.network", info.version, hotlines=info.hotlines, periods=info.periods,
                       path=str(info.path))
    return info


def statistics_inbound(inst: Installation) -> Destination:
    s = inst.settings
    where = s.stats_inbound or str(s.network_folder / "inbox")
    if not s.stats_inbound:
        Path(where).mkdir(parents=True, exist_ok=True)
    return _destination(inst, where)


def poll_statistics(inst: Installation, *, actor: str, files: list[Path] | None = None) -> StatisticsPoll:
    """Import the given statistics bundle ``files``, or every one in the statistics inbound
    directory or S3 prefix not handled before; a refused bundle is recorded and the poll goes
    on. The network snapshot is built again when anything was imported."""
    imported: list[StatisticsImport] = []
    refused: list[tuple[str, str]] = []
    skipped = 0
    for where, fetch in _pending(inst, files):
        if fetch is None:
            skipped += 1
            continue
        try:
            with fetch() as path:
                imported.append(import_statistics_file(inst, path, location=where, actor=actor))
        except BundleError as exc:
            refused.append((where, f"{type(exc).__name__}: {exc}"))
    return StatisticsPoll(imported, refused, skipped, write_network(inst) if imported else None)


Fetch = Callable[[], AbstractContextManager[Path]]


def _pending(inst: Installation, files: list[Path] | None) -> Iterator[tuple[str, Fetch | None]]:
    """(location, how to get the file there) of each bundle to import; None: handled before."""
    if files is not None:
        for f in files:
            yield str(Path(f).resolve()), _given(Path(f))
        return
    source = statistics_inbound(inst)
    for name in source.list_bundles():
        if isinstance(source, LocalDirectoryDrop):
            where = str((source.root / name).resolve())
            fetch = _given(source.root / name)
        else:
            where, fetch = source.locate(name), functools.partial(_fetched, inst, source, name)
        yield where, None if inst.catalog.inbound_seen(where) else fetch


def _given(path: Path) -> Fetch:
    def fetch() -> AbstractContextManager[Path]:
        return nullcontext(path)
    return fetch


@contextmanager
def _fetched(inst: Installation, source: Destination, name: str) -> Iterator[Path]:
    fd, tmp = tempfile.mkstemp(dir=inst.settings.data_dir, prefix=".stats-", suffix=".hlb")
    os.close(fd)
    try:  # the file is the bundle as sent: encrypted
        source.fetch(name, Path(tmp))
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
