"""Benchmark: `hotline backup` and `hotline restore` of a damaged catalog, against copying
the same catalog file and SQLite's backup API into a healthy file (what the old
documentation's ``sqlite3 catalog.db ".restore backup.db"`` does), in the same process.

    .venv/bin/python bench/bench_restore.py [--items 20000] [--per-report 500] [--dir DIR]

* Setup (not timed): a fresh installation with ``--items`` media items of 1 KiB random bytes
  (benign), sealed in the local evidence store, ``--per-report`` per report, each with a
  sighting.
* Measured, wall and CPU seconds: (1) the baselines: ``shutil.copyfile`` + fsync of the
  catalog, and the backup API from the backup file into a healthy copy of the catalog;
  (2) ``make_backup`` (catalog copy, keys, the manifest from a walk of the store);
  (3) ``restore_backup`` after the catalog was truncated to a third: the fresh copy, its
  quick_check, the swap, the schema step and the manifest check of the store;
  (4) the walk of the store alone (part of 2, 3 and 4); (5) ``check_evidence`` alone
  (``backup --verify``), and with ``--decrypt``.

The machine is shared (2 cores), so absolute figures vary from run to run; the ratios are
measured within one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from catalog.media_items.records import MediaRecord, SightingRecord  # noqa: E402
from catalog.reports.records import CrawlResult  # noqa: E402
from hotline.installation import Installation  # noqa: E402
from hotline.services.installation_backup import check_evidence, make_backup, restore_backup  # noqa: E402
from hotline.settings import Settings  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(what: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, used = time.perf_counter(), cpu()
    result = what()
    return result, time.perf_counter() - wall, cpu() - used


def setup(data_dir: Path, items: int, per_report: int) -> Settings:
    settings = Settings(data_dir=data_dir)
    inst = Installation.init(settings)
    for first in range(0, items, per_report):
        stored = [(inst.evidence.put(os.urandom(1024)), 1024) for _ in range(min(per_report, items - first))]
        report = inst.catalog.add_report(f"http://example.test/{first}", actor="bench")
        inst.catalog.record_crawl(report, CrawlResult(
            "u", media=tuple(MediaRecord(s, n) for s, n in stored),
            sightings=tuple(SightingRecord(s, f"http://example.test/{s[:12]}.png", "http://example.test/")
                            for s, _ in stored),
        ))
    inst.close()
    return settings


def copy_file(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())


def backup_api_into(source: Path, target: Path) -> None:
    src, dest = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dest)
    src.close()
    dest.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--per-report", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-restore-", dir=args.dir))
    try:
        settings = setup(root / "data", args.items, args.per_report)
        catalog = root / "data" / "catalog.db"
        sqlite3.connect(catalog).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        rows: list[tuple[str, float, float]] = []

        _, wall, used = timed(lambda: copy_file(catalog, root / "copy.db"))
        rows.append(("baseline: copy the catalog file + fsync", wall, used))
        inst = Installation.open(settings, read_only=True)
        info, wall, used = timed(lambda: make_backup(inst, root / "backups"))
        inst.close()
        rows.append(("hotline backup (catalog, keys, manifest)", wall, used))
        _, wall, used = timed(lambda: backup_api_into(info.folder / "catalog.db", root / "copy.db"))
        rows.append(("baseline: backup API into a healthy file (.restore)", wall, used))

        with open(catalog, "r+b") as fh:
            fh.truncate(catalog.stat().st_size // 3)
        result, wall, used = timed(lambda: restore_backup(settings, info.folder, actor="bench"))
        assert result.evidence.ok and result.evidence.present == args.items, result.evidence
        rows.append(("hotline restore of the truncated catalog", wall, used))

        inst = Installation.open(settings)
        listed, wall, used = timed(lambda: sum(1 for _ in inst.evidence.objects()))
        assert listed == args.items
        rows.append(("of which: the walk of the evidence store", wall, used))
        for decrypt in (False, True):
            check, wall, used = timed(lambda d=decrypt: check_evidence(inst.evidence, info.folder, decrypt=d))
            assert check.ok and check.present == args.items
            rows.append((f"backup --verify{' --decrypt' if decrypt else ''}", wall, used))
        inst.close()

        base = rows[0][1]
        print(f"{args.items} items, catalog {catalog.stat().st_size / 2**20:.1f} MiB, "
              f"backup folder {sum(p.stat().st_size for p in info.folder.rglob('*') if p.is_file()) / 2**20:.1f} MiB")
        print("| step | wall s | CPU s | vs file copy |\n|---|---|---|---|")
        for name, wall, used in rows:
            print(f"| {name} | {wall:.2f} | {used:.2f} | {wall / base:.1f}x |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
