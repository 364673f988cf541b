"""Media-free, versioned snapshots of the statistics database, for statisticians.

A snapshot is a folder ``<stats dir>/versions/<version>/`` holding ``hotline.duckdb`` (base
tables, derived tables and the documented views), ``parquet/<name>.parquet`` (every base
table and view, written with pyarrow) and ``manifest.json`` (what was read, row counts, file
digests). It is built in a hidden folder next to ``versions/`` and renamed into place when
complete; then the ``current`` symbolic link is swapped to it in one atomic step. A reader
that opened an earlier snapshot keeps reading it, even after old versions are pruned (the
files stay readable through open handles), and a reader opening ``current`` never sees a
half-written snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow.parquet as pq

from catalog.catalog import Catalog
from catalog.duck import connect
from stats.build import SnapshotOptions, build, build_connection, relations
from stats.errors import NoSnapshot, SnapshotError
from stats.extract import BATCH_ROWS, Reading, reading, stage
from stats.facts import FACTS

DATABASE = "hotline.duckdb"
STORAGE_VERSION = "v1.4.0"
PARQUET_ROWS = 1 << 17  # rows of a Parquet row group
CURRENT = "current"
VERSIONS = "versions"
T = TypeVar("T")
# Columns that must never appear in a statistician's snapshot, whatever the policy.
FORBIDDEN_COLUMNS = frozenset({"sha256", "md5", "sha1", "pdq", "phash", "referer", "actor", "reason", "ip",
                               "known_id", "detail", "error"})


@dataclass(frozen=True)
class SnapshotInfo:
    version: str
    path: Path  # the version's folder
    as_of: datetime  # the catalog state it describes
    url_policy: str
    seconds: float  # how long the build took
    rows: dict[str, int]  # rows of every table and view
    timings: dict[str, float]  # seconds per step: extract, build, parquet, publish


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_media_free(con: duckdb.DuckDBPyConnection) -> None:
    found = con.sql(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    bad = sorted(f"{t}.{c}" for t, c in found if c.lower() in FORBIDDEN_COLUMNS)
    if bad:
        raise SnapshotError(f"a snapshot may not hold {', '.join(bad)}")


def _write_parquet(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, dict[str, object]]:
    """Every base table and view as Parquet; the derived tables (``FACTS``) only in the
    database file. Returns the manifest's entries of every relation."""
    folder.mkdir()
    files: dict[str, dict[str, object]] = {}
    for name, kind in relations(con).items():
        if name in FACTS:
            rows = con.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            files[name] = {"kind": "derived table", "rows": rows}
            continue
        path = folder / f"{name}.parquet"
        rows = 0
        # a row group at a time, so that a table of a million rows is never whole in memory
        reader = con.sql(f"SELECT * FROM {name}").fetch_record_batch(PARQUET_ROWS)
        with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        files[name] = {"kind": kind, "rows": rows, "parquet": f"parquet/{path.name}", "sha256": _digest(path)}
    return files


def _point_current(folder: Path, target: Path) -> None:
    link = folder / f".{CURRENT}-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, folder), link)
    os.replace(link, folder / CURRENT)  # atomic: readers see the old or the new snapshot


def _prune(folder: Path, keep: int) -> list[str]:
    current = (folder / CURRENT).resolve()
    versions = sorted(p for p in (folder / VERSIONS).iterdir() if p.is_dir())
    removed = []
    for old in versions[: max(0, len(versions) - keep)]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    return removed


SNAPSHOT_STEPS = 4  # reading the catalog, building the database, writing Parquet, publishing


def _build_files(folder: Path, source: Reading, end_read: Callable[[], None], options: SnapshotOptions,
                 version: str, timings: dict[str, float], on_step: Callable[[str], None],
                 batch_rows: int) -> dict[str, dict[str, object]]:
    """Stage the open read into the database in ``folder``, end the read, then build the
    database, the Parquet files and the manifest, synced to disk. ``timings`` holds when the
    read began (``extract``) and gets the seconds of each step."""
    # Written in the storage format of DuckDB's long-term release, so that the `duckdb`
    # command line a statistician installs (which may be older than this library) opens it.
    # Its memory is bounded (``build_connection``): staged rows beyond it spill too.
    with build_connection(folder / DATABASE, storage_compatibility_version=STORAGE_VERSION) as con:
        data = stage(source, con, batch_rows=batch_rows)
        end_read()  # everything is staged: writers' changes need not be kept for this read any longer
        timings["extract"] = time.perf_counter() - timings["extract"]
        on_step("building the database")
        step = time.perf_counter()
        build(con, data, options, version=version)
        _check_media_free(con)
        con.execute("CHECKPOINT")
        timings["build"] = time.perf_counter() - step
        on_step("writing Parquet")
        step = time.perf_counter()
        files = _write_parquet(con, folder / "parquet")
        timings["parquet"] = time.perf_counter() - step
    manifest = {
        "version": version, "as_of": data.as_of.isoformat() + "Z", "catalog_revision": data.catalog_revision,
        "country": options.country.upper(), "url_policy": options.urls, "database": DATABASE,
        "relations": files, "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for path in [*folder.rglob("*.parquet"), folder / DATABASE, folder / "manifest.json"]:
        _fsync(path)
    return files


def publish_version(folder: Path, version: str, fill: Callable[[Path], T], *, keep: int) -> tuple[Path, T, list[str]]:
    """Have ``fill`` write a version into a hidden folder, rename it into ``versions/``, point
    ``current`` at it and keep the newest ``keep`` versions; returns the version's folder,
    what ``fill`` returned and the versions pruned. If anything fails, the current version
    stays as it was and no partial files are left."""
    (folder / VERSIONS).mkdir(parents=True, exist_ok=True)
    building = folder / f".building-{version}-{os.getpid()}"
    final = folder / VERSIONS / version
    try:
        building.mkdir()
        result = fill(building)
        try:
            building.rename(final)
        except OSError as exc:
            raise SnapshotError(f"cannot publish snapshot {version!r}: {exc}") from exc
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _point_current(folder, final)
    return final, result, _prune(folder, keep)


def write_snapshot(catalog: Catalog, folder: Path, options: SnapshotOptions | None = None, *,
                   keep: int = 3, actor: str = "stats", on_step: Callable[[str], None] | None = None,
                   batch_rows: int = BATCH_ROWS) -> SnapshotInfo:
    """Write a snapshot of the catalog into ``folder``, make it current, keep the newest
    ``keep`` versions, and audit it (``stats.snapshot``). If anything fails, the current
    snapshot stays as it was and no partial files are left. ``on_step`` hears of each of the
    ``SNAPSHOT_STEPS`` as it begins (a caller's progress display); the catalog is read
    ``batch_rows`` rows at a time."""
    on_step = on_step or (lambda _step: None)
    options = options or SnapshotOptions()
    if keep < 1:
        raise ValueError(f"keep at least one snapshot, not {keep!r}")
    started = time.perf_counter()
    timings = {"extract": started}  # until the rows are staged
    on_step("reading the catalog")
    step = 0.0
    with ExitStack() as read:
        source = read.enter_context(reading(catalog))
        as_of, version = source.as_of, source.as_of.strftime("%Y%m%dT%H%M%S%fZ")

        def fill(building: Path) -> dict[str, dict[str, object]]:
            nonlocal step
            files = _build_files(building, source, read.close, options, version, timings, on_step, batch_rows)
            on_step("publishing")
            step = time.perf_counter()
            return files

        final, files, pruned = publish_version(folder, version, fill, keep=keep)
    timings["publish"] = time.perf_counter() - step
    rows = {name: int(info["rows"]) for name, info in files.items()}  # type: ignore[call-overload]
    seconds = time.perf_counter() - started
    catalog.audit(actor, "stats.snapshot", version, url_policy=options.urls, path=str(final),
                  reports=rows.get("reports", 0), items=rows.get("items", 0), pruned=pruned,
                  seconds=round(seconds, 3))
    return SnapshotInfo(version=version, path=final, as_of=as_of, url_policy=options.urls,
                        seconds=seconds, rows=rows, timings={k: round(v, 3) for k, v in timings.items()})


def current_database(folder: Path) -> Path:
    """The database file of the current snapshot, resolved to its version's folder."""
    link = folder / CURRENT
    target = link.resolve() / DATABASE
    if not link.exists() or not target.exists():
        raise NoSnapshot(f"no statistics snapshot in {str(folder)!r}; run `hotline stats snapshot` first")
    return target


def open_snapshot(folder: Path) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the current snapshot (it stays on that version)."""
    return connect(current_database(folder), read_only=True)
