"""Keeping an installation healthy: purging old evidence, and ``hotline doctor``'s checks."""

from __future__ import annotations

import os
import stat
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from catalog.db import head_revision, utcnow
from catalog.schema import media, reports
from evidence import EvidenceError
from hotline.installation import Installation


@dataclass(frozen=True)
class PurgeResult:
    candidates: int
    purged: int
    missing: int  # evidence already gone (recorded as purged all the same)
    dry_run: bool


def purge_evidence(inst: Installation, *, older_than: timedelta, actor: str, dry_run: bool = False) -> PurgeResult:
    """Delete the evidence of items decided (and, if exportable, exported) more than
    ``older_than`` ago; their hashes, verdicts and sightings stay. Audited per item."""
    candidates = inst.catalog.purge_candidates(utcnow() - older_than)
    if dry_run:
        return PurgeResult(len(candidates), 0, 0, True)
    missing = 0
    for sha256 in candidates:
        if not inst.evidence.delete(sha256):
            missing += 1
    purged = inst.catalog.mark_purged(candidates, actor=actor, reason=f"retention: decided over {older_than} ago")
    return PurgeResult(len(candidates), purged, missing, False)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


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


def doctor(inst: Installation) -> list[Check]:
    """Every check, in order; only ``_ghost_runs`` changes anything (in Prefect)."""
    return [_key_files(inst), _schema(inst), _evidence(inst), _quarantine(inst), _prefect(), _ghost_runs(inst)]
