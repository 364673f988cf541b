"""``hotline backup`` and ``hotline restore``: the catalog, the keys, and a manifest of the
evidence that the store can be checked against.

A backup is one folder, ``hotline-backup-<UTC time>``, mode 0700 (it holds private keys)::

    backup.json                  what is in it, with the SHA-256 of every file; written last
    catalog.db | catalog.dump    SQLite online backup, or pg_dump -Fc (same snapshot as the manifest)
    keys/                        the keys folder as it was, retired keys included
    evidence-manifest.jsonl.gz   one line per evidence object: sha256, size (plaintext bytes
                                 per the catalog; null for an object no media row knows) and
                                 stored (bytes of the sealed object; null when it was missing)

Evidence objects are not copied: they never change once written, and they are backed up as
files or by bucket replication (docs/operations.md). The manifest says which of them this
catalog needs, so a restore can tell at once whether the store still holds them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from catalog.db import create_catalog_engine, sqlite_path, utcnow
from catalog.db_backup import (
    Restored,
    backup_sqlite,
    catalog_healthy,
    dump_postgres,
    postgres_snapshot,
    quick_check,
    restore_postgres,
    restore_sqlite,
)
from catalog.schema import media
from evidence import EvidenceError, EvidenceStore
from hotline.installation import Installation
from hotline.settings import Settings

FORMAT = "hotline-backup"
VERSION = 1
MANIFEST = "evidence-manifest.jsonl.gz"
_EXAMPLES = 10  # object ids shown per kind of problem


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message says why and what to do."""


@dataclass(frozen=True)
class EvidenceCheck:
    """The evidence store held against a backup's manifest."""

    expected: int  # objects the manifest lists as stored
    present: int
    missing: int  # stored at backup time, gone now
    resized: int  # stored with another size now
    unreadable: int  # with decrypt: fails to decrypt or to hash to its name
    newer: int  # objects not in the manifest (stored since the backup)
    decrypted: bool
    examples: list[str] = field(default_factory=list)  # ids of objects at fault, the first few

    @property
    def ok(self) -> bool:
        return not (self.missing or self.resized or self.unreadable)


@dataclass(frozen=True)
class BackupInfo:
    folder: Path
    created_at: str
    catalog: dict[str, Any]
    keys: list[str]
    evidence: dict[str, Any]
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    backup: str
    created_at: str
    catalog: Restored
    keys_restored: list[str]
    schema_revision: str
    evidence: EvidenceCheck
    seconds: float


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _merge(items: Iterable[tuple[str, int]], objects: Iterable[tuple[str, int]]) -> Iterator[
        tuple[str, int | None, int | None]]:
    """Join the catalog's items and the store's objects, both in SHA-256 order, in constant
    memory: (sha256, size per the catalog or None, stored bytes or None)."""
    left, right = iter(items), iter(objects)
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            yield a[0], a[1], None
            a = next(left, None)
        elif a is None or b[0] < a[0]:
            yield b[0], None, b[1]
            b = next(right, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(left, None), next(right, None)


def _items(conn: sa.Connection) -> Iterator[tuple[str, int]]:
    """Media whose evidence the catalog expects to be stored (not purged), in SHA-256 order."""
    query = sa.select(media.c.sha256, media.c.size).where(media.c.purged_at.is_(None)).order_by(media.c.sha256)
    for sha256, size in conn.execution_options(stream_results=True).execute(query):
        yield str(sha256), int(size)


def _write_manifest(conn: sa.Connection, store: EvidenceStore, path: Path) -> dict[str, Any]:
    counts = {"items": 0, "objects": 0, "stored_bytes": 0, "missing": 0, "orphans": 0}
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for sha256, size, stored in _merge(_items(conn), store.objects()):
            out.write(json.dumps({"sha256": sha256, "size": size, "stored": stored}) + "\n")
            counts["items"] += size is not None
            counts["objects"] += stored is not None
            counts["stored_bytes"] += stored or 0
            counts["missing"] += size is not None and stored is None
            counts["orphans"] += size is None
    return counts


def _revision(conn: sa.Connection) -> str | None:
    try:
        return ",".join(sorted(str(v) for v in conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()))
    except sa.exc.DBAPIError:
        return None


def make_backup(inst: Installation, destination: Path) -> BackupInfo:
    """Write a backup folder into ``destination``: catalog, keys, evidence manifest. A backup
    that fails part way is removed; a damaged catalog is refused (restore the last good one)."""
    started = time.perf_counter()
    s = inst.settings
    created = utcnow()
    folder = destination / f"hotline-backup-{created:%Y%m%dT%H%M%SZ}"
    destination.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        raise BackupError(f"{str(folder)!r} exists already; wait a second and try again") from None
    try:
        catalog, evidence = _backup_catalog(inst, folder)
        keys = _copy_keys(s.keys_dir, folder / "keys")
        evidence["manifest_sha256"] = _sha256_file(folder / MANIFEST)
        meta: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "created_at": created.isoformat() + "Z",
            "catalog": catalog, "keys": keys, "evidence": evidence,
        }
        tmp = folder / ".backup.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp, folder / "backup.json")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return BackupInfo(folder, meta["created_at"], catalog, sorted(keys), evidence, time.perf_counter() - started)


def _backup_catalog(inst: Installation, folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    url = inst.settings.catalog
    path = sqlite_path(url)
    store = inst.evidence
    if path is not None:
        target = folder / "catalog.db"
        backup_sqlite(path, target)
        engine = create_catalog_engine(f"sqlite:///{target}", read_only=True)
        try:
            with engine.connect() as conn:
                revision = _revision(conn)
                evidence = _write_manifest(conn, store, folder / MANIFEST)
        finally:
            engine.dispose()
        kind = "sqlite"
    else:
        target = folder / "catalog.dump"
        with postgres_snapshot(url) as (conn, snapshot):
            dump_postgres(url, target, snapshot=snapshot)
            revision = _revision(conn)
            evidence = _write_manifest(conn, store, folder / MANIFEST)
        kind = "postgresql"
    catalog = {"kind": kind, "file": target.name, "sha256": _sha256_file(target), "bytes": target.stat().st_size,
               "schema_revision": revision}
    return catalog, {"store": repr(store), "manifest": MANIFEST, **evidence}


def _copy_keys(source: Path, target: Path) -> dict[str, str]:
    """Copy the keys folder (modes kept); the SHA-256 of each file, by relative path."""
    if not source.is_dir():
        raise BackupError(f"no keys folder at {str(source)!r}: nothing could decrypt the evidence")
    shutil.copytree(source, target, copy_function=shutil.copy2)
    return {str(p.relative_to(target)): _sha256_file(p) for p in sorted(target.rglob("*")) if p.is_file()}


def read_backup(folder: Path) -> dict[str, Any]:
    """A backup's ``backup.json``, after checking that every file it names is intact."""
    meta_file = folder / "backup.json"
    try:
        meta = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise BackupError(f"{str(folder)!r} is not a complete hotline backup (no backup.json)") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {str(meta_file)!r}: {exc}") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise BackupError(f"{str(meta_file)!r} is not a version-{VERSION} hotline backup")
    expected = {meta["catalog"]["file"]: meta["catalog"]["sha256"], MANIFEST: meta["evidence"]["manifest_sha256"],
                **{f"keys/{name}": digest for name, digest in meta["keys"].items()}}
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"backup {str(folder)!r} lacks {name!r}")
        if _sha256_file(path) != digest:
            raise BackupError(f"backup file {str(path)!r} has changed since the backup was made (SHA-256 differs)")
    return meta


def _manifest(folder: Path) -> Iterator[tuple[str, int]]:
    """The objects a backup's manifest lists as stored, (sha256, stored bytes), in order."""
    with gzip.open(folder / MANIFEST, "rt", encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            if entry["stored"] is not None:
                yield entry["sha256"], int(entry["stored"])


def check_evidence(store: EvidenceStore, folder: Path, *, decrypt: bool = False) -> EvidenceCheck:
    """Hold the store against the manifest of the backup in ``folder``: every object stored
    at backup time must still be there with the same size; ``decrypt`` also reads each one
    back (decrypts it and checks it hashes to its name: slow, it reads the whole store)."""
    counts = dict.fromkeys(("expected", "present", "missing", "resized", "unreadable", "newer"), 0)
    examples: list[str] = []
    for sha256, listed, stored in _merge(_manifest(folder), store.objects()):
        if listed is None:
            counts["newer"] += 1
            continue
        counts["expected"] += 1
        fault = "missing" if stored is None else "resized" if stored != listed else None
        if fault is None and decrypt:
            try:
                store.get(sha256)
            except EvidenceError:
                fault = "unreadable"
        counts[fault or "present"] += 1
        if fault and len(examples) < _EXAMPLES:
            examples.append(f"{sha256} ({fault})")
    return EvidenceCheck(**counts, decrypted=decrypt, examples=examples)


def verify_backup(inst: Installation, folder: Path, *, decrypt: bool = False) -> tuple[dict[str, Any], EvidenceCheck]:
    """Check a backup's files and hold the evidence store against its manifest."""
    meta = read_backup(folder)
    if meta["catalog"]["kind"] == "sqlite":
        problems = quick_check(folder / meta["catalog"]["file"])
        if problems:
            raise BackupError(f"the backup's catalog is damaged: {'; '.join(problems[:3])}")
    return meta, check_evidence(inst.evidence, folder, decrypt=decrypt)


def restore_backup(settings: Settings, folder: Path, *, force: bool = False, actor: str = "operator") -> RestoreResult:
    """Restore the backup in ``folder`` into the installation of ``settings``.

    Keys first (only those missing; a key that differs from the backup's stops the restore
    before anything changed), then the catalog (into a fresh file or database, swapped in;
    the one it replaces is kept), then the schema brought to this code's revision, and the
    evidence store held against the manifest. A catalog that is healthy is replaced only
    with ``force``: restoring an older backup loses what changed since."""
    started = time.perf_counter()
    meta = read_backup(folder)
    kind = meta["catalog"]["kind"]
    url = settings.catalog
    path = sqlite_path(url)
    if (kind == "sqlite") != (path is not None):
        raise BackupError(f"the backup holds a {kind} catalog, the catalog here is {sa.make_url(url).get_backend_name()}")
    keys = _plan_keys(folder / "keys", settings.keys_dir)
    if not force and catalog_healthy(url):
        raise BackupError(
            f"the catalog is healthy; the backup of {meta['created_at']} would replace it and lose every change "
            "since: give --force to restore anyway (the catalog replaced is kept)"
        )
    for name in keys:
        target = settings.keys_dir / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(folder / "keys" / name, target)
    stamp = f"{utcnow():%Y%m%d%H%M%S}"
    source = folder / meta["catalog"]["file"]
    restored = (restore_sqlite(source, path, stamp=stamp) if path is not None
                else restore_postgres(source, url, stamp=stamp))
    inst = Installation.init(settings)  # folders, and the schema of this code (the backup may be older)
    try:
        revision = inst.catalog.schema_revision() or ""
        evidence = check_evidence(inst.evidence, folder)
        inst.catalog.audit(actor, "catalog.restore", folder.name, created_at=meta["created_at"],
                           kept=list(restored.kept), keys_restored=keys, evidence_missing=evidence.missing)
    finally:
        inst.close()
    return RestoreResult(folder.name, meta["created_at"], restored, keys, revision, evidence,
                         time.perf_counter() - started)


def _plan_keys(source: Path, target: Path) -> list[str]:
    """The backup's key files missing here; refuses when one here differs from the backup's."""
    missing = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = str(path.relative_to(source))
        here = target / name
        if not here.exists():
            missing.append(name)
        elif _sha256_file(here) != _sha256_file(path):
            raise BackupError(
                f"key file {str(here)!r} differs from the backup's: the backup's catalog and evidence belong to the "
                f"backup's keys. Move {str(target)!r} aside (keep it) and run the restore again"
            )
    return missing
