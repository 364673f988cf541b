"""``hotline doctor``'s checks of an installation's health.

The doctor never raises: each check ends ``ok``, ``warn`` or ``fail``, and an exception
inside a check is that check's ``fail``. It is run when something is wrong, so it must
still speak then (a damaged catalog, a full or read-only disk).
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import stat
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import sqlalchemy as sa

from catalog.db import head_revision, sqlite_path, utcnow
from catalog.schema import media, reports
from evidence import EvidenceError
from hotline.installation import Installation
from hotline.settings import Settings

Level = Literal["ok", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "fail")  # in order of severity; the exit status is the index


@dataclass(frozen=True)
class Check:
    """One check's outcome. ``level`` defaults to ``ok`` or ``fail`` from ``ok``; a ``warn``
    is ``ok`` (nothing fails yet) but asks for attention."""

    name: str
    ok: bool
    detail: str
    level: Level = None  # type: ignore[assignment]  # None: derived from ok in __post_init__

    def __post_init__(self) -> None:
        if self.level is None:
            object.__setattr__(self, "level", "ok" if self.ok else "fail")
        elif self.level not in LEVELS:
            raise ValueError(f"a check's level is ok, warn or fail, not {self.level!r}")
        else:
            object.__setattr__(self, "ok", self.level != "fail")

    @classmethod
    def warn(cls, name: str, detail: str) -> Check:
        return cls(name, True, detail, "warn")


def worst(checks: Iterable[Check]) -> Level:
    """The most severe level among ``checks`` (``ok`` for none)."""
    return max((c.level for c in checks), key=LEVELS.index, default="ok")


def _key_files(inst: Installation) -> Check:
    folder = inst.settings.keys_dir
    private = [folder / n for n in ("data.key", "signing.key", "inbox.key", "drop.key")]
    missing = [p.name for p in private if not p.exists()]
    if missing:
        return Check("keys", False, f"missing in {folder}: {', '.join(missing)}")
    loose = [p.name for p in private if stat.S_IMODE(p.stat().st_mode) & 0o077]
    if loose:
        return Check("keys", False, f"readable by others (chmod 600): {', '.join(loose)}")
    fingerprints = inst.keys.describe()
    return Check("keys", True, ", ".join(f"{k} {v}" for k, v in fingerprints.items()))


def _schema(inst: Installation) -> Check:
    current, head = inst.catalog.schema_revision(), head_revision()
    if current != head:
        return Check("catalog schema", False, f"at {current!r}, code expects {head!r}: run `hotline init`")
    return Check("catalog schema", True, f"revision {current} ({inst.catalog.engine.url.get_backend_name()})")


def _evidence(inst: Installation, sample: int = 20) -> Check:
    with inst.catalog.read() as conn:
        stored = list(conn.scalars(
            sa.select(media.c.sha256).where(media.c.purged_at.is_(None)).order_by(sa.func.random()).limit(sample)
        ))
    bad: list[str] = []
    for sha256 in stored:
        try:
            inst.evidence.get(sha256)
        except EvidenceError as exc:
            bad.append(f"{sha256[:12]}: {type(exc).__name__}")
    if bad:
        return Check("evidence", False, f"{len(bad)} of {len(stored)} sampled items unreadable: {'; '.join(bad[:5])}")
    return Check("evidence", True, f"{inst.evidence!r}: {len(stored)} sampled items decrypt and verify")


def _quarantine(inst: Installation) -> Check:
    failing = inst.catalog.failing_items(limit=10)
    with inst.catalog.read() as conn:
        stuck = conn.scalar(
            sa.select(sa.func.count()).select_from(reports).where(
                reports.c.status == "processing", reports.c.received_at < utcnow() - timedelta(hours=6)
            )
        )
    detail = "; ".join(
        f"{r.sha256[:12]}: {r.reason}" if r.status == "error"
        else f"{r.sha256[:12]}: to be tried again ({r.attempts} failed attempt(s)): {r.reason}"
        for r in failing
    ) or "none"
    ok = not stuck
    return Check("quarantine", ok, f"items that failed: {detail}" + (f"; {stuck} report(s) processing for over 6 h" if stuck else ""))


def _unrouted(inst: Installation) -> Check:
    """Locations no partner route can take (no hosting country): a warning for the operator,
    who routes them by hand, not a fault of the installation."""
    count = inst.catalog.count_unrouted_locations()
    if not count:
        return Check("routing", True, "every location of a decided item has a hosting country")
    return Check.warn("routing", f"{count} location(s) of decided items have no hosting country: "
                                 "route them by hand (`hotline export unrouted`)")


def _prefect() -> Check:
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        return Check("prefect", True, "no PREFECT_API_URL: each run starts a temporary local server")
    try:
        with urllib.request.urlopen(api.rstrip("/") + "/health", timeout=5) as answer:  # noqa: S310 - operator's URL
            healthy = answer.status == 200
    except OSError as exc:
        return Check("prefect", False, f"{api} unreachable: {exc}")
    return Check("prefect", healthy, f"{api} healthy" if healthy else f"{api} answered unhealthy")


def _catalog_integrity(inst: Installation) -> Check:
    """SQLite: ``PRAGMA quick_check`` (every page and index entry read, the structure
    verified; minutes at most for a big catalog). PostgreSQL: it answers."""
    name = "catalog integrity"
    path = sqlite_path(inst.settings.catalog)
    if path is not None and not path.exists():
        return Check(name, False, f"no catalog file at {str(path)!r}: `hotline restore` a backup, or `hotline init`")
    try:
        with inst.catalog.read() as conn:
            if path is None:
                version = conn.exec_driver_sql("SHOW server_version").scalar()
                return Check(name, True, f"PostgreSQL {version} answers")
            rows = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA quick_check(20)")]
    except sa.exc.DatabaseError as exc:
        if path is None or isinstance(exc, sa.exc.OperationalError) and "malformed" not in str(exc):
            raise  # not damage: unreachable, locked, unreadable
        return Check(name, False, f"{path.name} is damaged ({_reason(exc)}): `hotline restore` a backup")
    if rows == ["ok"]:
        return Check(name, True, f"{path.name}: quick_check ok")
    problems = [p for p in (" ".join(line.split()) for row in rows for line in row.splitlines())
                if p and not p.startswith("***")]
    return Check(name, False, f"{path.name} is damaged ({'; '.join(problems[:3])}): `hotline restore` a backup")


def _free_space(inst: Installation) -> Check:
    """Free space of each file system the installation writes to, against the thresholds."""
    s = inst.settings
    places = [("data directory", s.data_dir)]
    catalog_file = sqlite_path(s.catalog)
    if catalog_file is not None:
        places.append(("catalog", catalog_file.parent))
    if not s.evidence_url:
        places.append(("evidence", s.evidence_dir))
    seen: dict[int, list[str]] = {}
    usage: dict[int, tuple[int, int]] = {}
    for label, folder in places:
        device = os.stat(folder).st_dev
        seen.setdefault(device, []).append(label)
        total, _used, free = shutil.disk_usage(folder)
        usage[device] = (total, free)
    level: Level = "ok"
    parts = []
    for device, labels in seen.items():
        total, free = usage[device]
        percent = 100 * free / total if total else 0.0
        here: Level = ("fail" if percent < s.free_space_fail_percent
                       else "warn" if percent < s.free_space_warn_percent else "ok")
        level = max(level, here, key=LEVELS.index)
        parts.append(f"{', '.join(labels)}: {_size(free)} free of {_size(total)} ({percent:.1f} %)"
                     + ("" if here == "ok" else f" below the {here} threshold"))
    detail = "; ".join(parts) + f" (warn under {s.free_space_warn_percent:g} %, fail under {s.free_space_fail_percent:g} %)"
    return Check("free space", level != "fail", detail, level)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def orphaned_objects(inst: Installation, *, limit: int = 5000, start: str | None = None) -> tuple[int, list[str]]:
    """Stored evidence objects no media row knows: (objects examined, orphans among them).

    At most ``limit`` objects are examined, from a random place in the store (wrapping
    around), so a check every few minutes costs the same on any store and, run after run,
    covers all of it."""
    store = inst.evidence
    start = f"{random.randrange(256):02x}" if start is None else start
    wrapped = itertools.chain(store.objects(start), itertools.takewhile(lambda e: e[0] < start, store.objects()))
    ids = (sha256 for sha256, _ in itertools.islice(wrapped, limit))
    examined = 0
    orphans: list[str] = []
    while batch := list(itertools.islice(ids, 500)):
        with inst.catalog.read() as conn:
            known = set(conn.scalars(sa.select(media.c.sha256).where(media.c.sha256.in_(batch))))
        examined += len(batch)
        orphans.extend(sha256 for sha256 in batch if sha256 not in known)
    return examined, orphans


def _orphans(inst: Installation, limit: int = 5000) -> Check:
    examined, orphans = orphaned_objects(inst, limit=limit)
    if not orphans:
        return Check("orphaned evidence", True, f"{examined} stored object(s) examined, each known to the catalog")
    return Check.warn("orphaned evidence", (
        f"{len(orphans)} of {examined} stored object(s) examined are unknown to the catalog "
        f"(e.g. {', '.join(o[:12] for o in orphans[:5])}): was the catalog emptied or restored from an older "
        "backup? `hotline restore` the newest backup; do not delete them"
    ))


def _prefect_check(_inst: Installation) -> Check:
    return _prefect()


def _known_sets_check(inst: Installation) -> Check:
    """Automatic verdicts the earlier category rule produced, and known rows quarantined for
    flooding: both wait for an operator."""
    old = inst.catalog.known_rechecks()
    flooded = inst.catalog.known_holds(kind="quarantine")
    parts = []
    if old:
        listed = "; ".join(f"{r.sha256[:12]} {r.verdict} from {r.set_name!r} ({r.reason})" for r in old[:10])
        parts.append(f"{len(old)} automatic verdict(s) of the earlier category rule: {listed}"
                     + (" ..." if len(old) > 10 else "") + "; send them back to review with "
                     "`hotline known recheck --to-review`")
    if flooded:
        parts.append(f"{len(flooded)} known row(s) quarantined for flooding: "
                     + "; ".join(f"hold {h.id}: {h.set_name} {h.row_key[:24]} ({h.reason})" for h in flooded[:10])
                     + "; see `hotline known holds`, release with `hotline known release ID`")
    return Check("known sets", not parts, " | ".join(parts) or "no verdict of the earlier rule, no row quarantined")


def _short(sha256s: list[str]) -> str:
    return ", ".join(s[:12] for s in sha256s[:5]) + (" ..." if len(sha256s) > 5 else "")


def _sighted_media(inst: Installation) -> Check:
    orphans = inst.catalog.media_without_sightings()
    if orphans:
        return Check("media sightings", False, f"{len(orphans)} stored item(s) seen on no report, so never "
                     f"processed: {_short(orphans)}; run `hotline repair`")
    return Check("media sightings", True, "every stored item is seen on a report")


def _done_reports(inst: Installation) -> Check:
    unfinished = inst.catalog.done_reports_with_unprocessed_media()
    if unfinished:
        shown = ", ".join(map(str, unfinished[:10])) + (" ..." if len(unfinished) > 10 else "")
        return Check("done reports", False, f"{len(unfinished)} report(s) done with items not yet hashed, "
                     f"matched or queued: {shown}; run `hotline repair`")
    return Check("done reports", True, "no done report holds unprocessed items")


def _baseline_profile(inst: Installation) -> Check:
    """The INTERPOL profile is the shipped one; a replacement is refused, or (when allowed)
    a warning that stays visible."""
    from classification.errors import ProfileError
    from classification.profiles import BASELINE, available_profiles, baseline_warning

    try:
        found = available_profiles([inst.settings.law_profiles_dir],
                                   allow_baseline_override=inst.settings.allow_interpol_profile)
    except ProfileError as exc:
        return Check("baseline profile", False, str(exc))
    warning = baseline_warning(found[BASELINE])
    if warning:
        return Check.warn("baseline profile", warning)
    return Check("baseline profile", True, f"shipped, sha256 {found[BASELINE].sha256[:16]}")


def _ghost_runs(inst: Installation) -> Check:
    """process-report runs that Prefect shows running although their process is gone (their
    lease in the catalog expired): marked crashed, so that none holds the deployment's
    concurrency limit. The one check that changes something, and only in Prefect."""
    if not os.environ.get("PREFECT_API_URL"):
        return Check("prefect runs", True, "no PREFECT_API_URL: no server keeps runs between commands")
    from flows.common import prefect_api_reachable
    from flows.process_report import FLOW
    from flows.runs import crash_dead_runs

    if not prefect_api_reachable():
        return Check("prefect runs", False, "cannot check runs left running: the Prefect API cannot be reached")
    crashed = crash_dead_runs(inst.catalog, FLOW, settle=False)
    if crashed:
        return Check("prefect runs", True, f"marked crashed {len(crashed)} run(s) that a dead process left running:"
                     f" {', '.join(crashed)}")
    return Check("prefect runs", True, "no run left running by a dead process")


# In order. Those that read the catalog are skipped when it cannot be opened at all.
CHECKS: list[tuple[str, Callable[[Installation], Check], bool]] = [
    ("keys", _key_files, False),
    ("catalog integrity", _catalog_integrity, False),
    ("catalog schema", _schema, True),
    ("evidence", _evidence, True),
    ("orphaned evidence", _orphans, True),
    ("quarantine", _quarantine, True),
    ("free space", _free_space, False),
    ("prefect", _prefect_check, False),
    ("prefect runs", _ghost_runs, True),
    ("known sets", _known_sets_check, True),
    ("routing", _unrouted, True),
    ("media sightings", _sighted_media, True),
    ("done reports", _done_reports, True),
    ("baseline profile", _baseline_profile, False),
]


def _guarded(name: str, check: Callable[[Installation], Check], inst: Installation) -> Check:
    try:
        return check(inst)
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure, it never dies of one
        return Check(name, False, f"{type(exc).__name__}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """The first line of an error, without SQLAlchemy's wrapping and statement."""
    cause = getattr(exc, "orig", None) or exc
    return " ".join(str(cause).split("\n")[0].split()) or type(cause).__name__


def doctor(inst: Installation) -> list[Check]:
    """Every check, in order; none of them raises, and only ``_ghost_runs`` changes anything
    (in Prefect)."""
    results: list[Check] = []
    unreadable = False
    for name, check, reads_catalog in CHECKS:
        if reads_catalog and unreadable:
            results.append(Check(name, False, "not run: the catalog cannot be read (see catalog integrity)"))
            continue
        outcome = _guarded(name, check, inst)
        if name == "catalog integrity" and not outcome.ok:
            unreadable = not _catalog_answers(inst)
        results.append(outcome)
    return results


def _catalog_answers(inst: Installation) -> bool:
    try:
        with inst.catalog.read() as conn:
            conn.execute(sa.select(sa.func.count()).select_from(media))
    except Exception:  # noqa: BLE001 - any failure means: it cannot be read
        return False
    return True


def run_doctor(settings: Settings) -> list[Check]:
    """:func:`doctor` on the installation of ``settings``, opened read-only; when it cannot
    be opened at all, that is the one check reported."""
    try:
        inst = Installation.open(settings, read_only=True)
    except Exception as exc:  # noqa: BLE001 - reported as the installation's failure
        return [Check("installation", False, str(exc) or type(exc).__name__)]
    try:
        return doctor(inst)
    finally:
        inst.close()
