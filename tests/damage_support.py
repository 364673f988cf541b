"""Real faults for the operations tests: a catalog with evidence, damaged the way disks and
people damage files; a read-only data directory; a small full file system; the CLI run as an
operator runs it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fault_support import mounted_at

from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation
from hotline.settings import Settings

HOTLINE = [sys.executable, "-m", "hotline.cli"]
DAMAGE = ("truncated", "zeroed header", "garbage in the middle")


def seed(inst: Installation, count: int, first: int = 0) -> list[str]:
    """``count`` reports, each with one stored picture; their SHA-256s."""
    stored = []
    for n in range(first, first + count):
        data = synthetic_image(n, (64, 48))
        sha256 = inst.evidence.put(data)
        report = inst.catalog.add_report(f"http://example.test/{n}", actor="t")
        inst.catalog.record_crawl(report, CrawlResult(
            "u", media=(MediaRecord(sha256, len(data)),),
            sightings=(SightingRecord(sha256, f"http://example.test/{n}.png", f"http://example.test/{n}"),),
        ))
        stored.append(sha256)
    return stored


def damage(path: Path, how: str) -> None:
    """Damage the SQLite file at ``path``; its WAL is checkpointed into it first, so the damage
    is not hidden by a newer copy of the pages in the log."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size, root = conn.execute("PRAGMA page_size").fetchone()[0], conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'media'").fetchone()[0]
    conn.close()
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        if how == "truncated":
            fh.truncate(size // 3)
        elif how == "zeroed header":
            fh.write(bytes(100))
        elif how == "garbage in the middle":  # over the media table's pages, as a stray write would
            fh.seek((root - 1) * page_size)
            fh.write(os.urandom(4 * page_size))
        else:
            raise ValueError(how)


def run(data_dir: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), **(env or {})}
    full.pop("HOTLINE_CONFIG", None)
    return subprocess.run([*HOTLINE, *args], capture_output=True, text=True, env=full, timeout=timeout)


def run_json(data_dir: Path, *args: str, status: int = 0, **kwargs: Any) -> Any:
    """A command's one JSON document, after checking its exit status and that no traceback
    reached the operator."""
    done = run(data_dir, *args, "--json", **kwargs)
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` made read-only; yields the path to use.

    As root, ``chmod`` does not stop writes (root ignores permission bits), so root gets a
    read-only bind mount of the folder: every write through it fails with EROFS, as on a
    file system mounted read-only. Anyone else gets the permission bits removed."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield folder
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    with mounted_at(folder.with_name(folder.name + "-ro"), "--bind", str(folder)) as view:
        if not _mount("-o", "remount,bind,ro", str(view.resolve())):
            pytest.skip("cannot remount read-only here")
        yield view


@contextmanager
def small_tmpfs(folder: Path, size: str = "1M") -> Iterator[Path]:
    """A file system of ``size`` reached at ``folder`` (root only: skips otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    with mounted_at(folder, "-t", "tmpfs", "-o", f"size={size}", "tmpfs") as disk:
        yield disk


def fill(folder: Path) -> None:
    """Write into ``folder`` until its file system has no byte left."""
    with open(folder / f"filler-{uuid.uuid4().hex}", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(bytes(4096))
        except OSError:
            pass
    assert shutil.disk_usage(folder).free < 4096


def open_installation(data_dir: Path) -> Installation:
    return Installation.init(Settings(data_dir=data_dir))


def seeded(data_dir: Path, count: int) -> list[str]:
    """A new installation at ``data_dir`` with ``count`` seeded reports, closed again."""
    inst = open_installation(data_dir)
    try:
        return seed(inst, count)
    finally:
        inst.close()
