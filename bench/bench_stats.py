"""Benchmark: statistics snapshot of a synthetic catalog of 1,000,000 media items and
100,000 reports, its peak memory, and the query time of every documented view.

    .venv/bin/python bench/bench_stats.py [--items 1000000] [--reports 100000] [--dir DIR]
                                          [--baseline-tree REV]

Targets: snapshot build <= 60 s and <= 1 GB peak resident memory; every view <= 1 s.
The snapshot is written by a child process of its own, so that its peak (``ru_maxrss``
from ``wait4``) and its CPU time are the snapshot's alone, not the generator's. Baselines,
measured in the same run: for the snapshot, a bare read of the same catalog rows with the
sqlite3 driver (the floor any snapshot pays) and, with ``--baseline-tree``, the same child
run on the code of a git revision (``git archive`` into a temporary folder) against the
same catalog; for a view, computing the figures live from the catalog (what `hotline
stats` does without a snapshot).

The synthetic catalog is written straight into SQLite (executemany): a year of reports, a
tenth from partners, items seen again in later reports, known-set matches, analysts'
verdicts with the per-jurisdiction verdicts their gradings derive (INTERPOL and the home
country), daily exports and re-checks. It holds no hashes table rows (the snapshot never
reads them) and no media: only made-up SHA-256 keys.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from catalog.catalog import Catalog
from catalog.db import utcnow
from stats import SnapshotOptions, compute_figures, open_snapshot
from stats.extract import SOURCES
from stats.views import VIEWS

PARTNERS = ("partner-be", "partner-de", "partner-fr")
KINDS = ("forum/thread", "blog", "gallery", "viewtopic.php?t=")
MEDIA_HOSTS = ("https://i.imgur.com/", "https://mega.nz/file/", "http://cdn{}.example.test/", "http://site{}.test/img/")
COUNTRIES = ("NL", "US", "DE", "RU", "FR", "CA", "GB", "JP", None)


def ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(path: Path, n_items: int, n_reports: int, seed: int = 7) -> dict[str, int]:
    """Fill the migrated catalog at ``path`` with a synthetic year of reports."""
    rnd = random.Random(seed)
    now = utcnow()
    start = now - timedelta(days=365)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    counts: dict[str, int] = {}

    def put(table: str, columns: str, rows: Iterator[tuple[object, ...]]) -> None:
        marks = ",".join("?" * len(columns.split(",")))
        cur = con.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        counts[table] = counts.get(table, 0) + cur.rowcount

    received = sorted(start + timedelta(seconds=rnd.uniform(0, 365 * 86400)) for _ in range(n_reports))
    status = ["pending" if rnd.random() < 0.03 else "failed" if rnd.random() < 0.06 else "done"
              for _ in range(n_reports)]
    urls = [f"http://site{rnd.randrange(int(n_reports * 0.8))}.test/{rnd.choice(KINDS)}{i}" for i in range(n_reports)]
    put("reports", "id,url,source,status,received_at,processed_at",
        ((i + 1, urls[i], rnd.choice(PARTNERS) if rnd.random() < 0.1 else "public", status[i], ts(received[i]),
          None if status[i] == "pending" else ts(received[i] + timedelta(hours=2))) for i in range(n_reports)))
    crawled = {i: received[i] + timedelta(minutes=rnd.uniform(1, 600)) for i in range(n_reports)
               if status[i] != "pending"}
    put("crawls", "id,report_id,started_at,finished_at,status,pages,media,errors",
        ((i + 1, i + 1, ts(t - timedelta(minutes=1)), ts(t), "failed" if status[i] == "failed" else "ok", 1, 0, 0)
         for i, t in crawled.items()))
    done = [i for i in range(n_reports) if status[i] == "done"]
    put("pages", "crawl_id,report_id,url,final_url,status,country,size,fetched_at",
        ((i + 1, i + 1, urls[i], urls[i], 200, rnd.choice(COUNTRIES), 1000, ts(crawled[i])) for i in done))

    home = [done[rnd.randrange(len(done))] for _ in range(n_items)]  # the report that first found each item
    first_seen = [crawled[r] for r in home]
    sha = [hashlib.sha256(b"bench-%d" % n).hexdigest() for n in range(n_items)]
    fate = [rnd.random() for _ in range(n_items)]  # < .3 known, < .9 analyst, else queued/error
    media_status = ["known" if f < 0.3 else "classified" if f < 0.9 else "error" if f > 0.995 else "queued"
                    for f in fate]
    put("media", "sha256,kind,mime,size,status,first_seen_at,hashed_at",
        ((sha[n], "video" if n % 20 == 0 else "image", "image/jpeg", 50_000 + n % 1000, media_status[n],
          ts(first_seen[n]), ts(first_seen[n])) for n in range(n_items)))

    def media_url(n: int, r: int) -> str:
        host = MEDIA_HOSTS[n % 4].format(n % 97, r % 1000)
        return f"{host}{n}.jpg"

    sightings = [(n, home[n]) for n in range(n_items)]
    again = ((n, done[rnd.randrange(len(done))]) for n in rnd.sample(range(n_items), n_items // 7))
    sightings += [(n, r) for n, r in again if r != home[n]]
    put("sightings", "sha256,report_id,crawl_id,media_url,page_url,country,seen_at",
        ((sha[n], r + 1, r + 1, media_url(n, r), urls[r], rnd.choice(COUNTRIES), ts(max(crawled[r], first_seen[n])))
         for n, r in sightings))
    put("known_sets", "name,source,verdict,path,rows,content_sha256,pdq_threshold,enabled,imported_at",
        iter([("interpol-baseline", "INTERPOL", "baseline", "x", 500_000, "a" * 64, 31, 1, ts(start)),
              ("partner-be-national", "partner-be", "national", "y", 200_000, "b" * 64, 31, 1, ts(start))]))
    known = [n for n in range(n_items) if fate[n] < 0.3]
    put("matches", "sha256,set_name,match_type,distance,verdict,matched_at",
        ((sha[n], "interpol-baseline" if n % 3 else "partner-be-national", "md5" if n % 2 else "pdq", 0,
          "baseline" if n % 3 else "national", ts(first_seen[n] + timedelta(minutes=1))) for n in known))
    decisions = []
    for n in range(n_items):
        if fate[n] < 0.3:
            decisions.append((first_seen[n] + timedelta(minutes=1), n, "baseline" if n % 3 else "national",
                              "known-set", "interpol-baseline" if n % 3 else "partner-be-national"))
        elif fate[n] < 0.9:
            verdict = ("baseline", "national", "not-illegal")[n % 3]
            decisions.append((first_seen[n] + timedelta(hours=rnd.uniform(1, 120)), n, verdict, "analyst", None))
    decisions.sort()
    put("verdicts", "id,sha256,verdict,source,actor,set_name,created_at",
        ((vid, sha[n], v, src, "matcher" if src == "known-set" else "analyst", s, ts(at))
         for vid, (at, n, v, src, s) in enumerate(decisions, 1)))
    # each analyst's decision also derives verdicts for INTERPOL and the home country (gradings)
    put("jurisdiction_verdicts", "id,sha256,jurisdiction,illegal,profile,profile_sha256,source,actor,created_at",
        ((k * 2 + j + 1, sha[n], code, int(illegal), code.lower(), "c" * 64, "derived", "analyst", ts(at))
         for k, (at, n, v, _src, _s) in enumerate(d for d in decisions if d[3] == "analyst")
         for j, (code, illegal) in enumerate((("INTERPOL", v == "baseline"), ("NL", v != "not-illegal")))))
    # one bundle a day to INTERPOL with the illegal items decided that day
    daily: dict[int, list[tuple[int, int]]] = {}
    for vid, (at, n, v, _src, _s) in enumerate(decisions, 1):
        if v != "not-illegal" and at < now:
            daily.setdefault((at - start).days, []).append((n, vid))
    put("exports", "id,bundle_id,destination,location,recipients,items,sha256,size,created_at",
        ((d + 1, f"b{d}", "interpol", "drop", "[]", len(items), "0" * 64, 1, ts(start + timedelta(days=d + 1)))
         for d, items in sorted(daily.items())))
    put("export_items", "export_id,destination,sha256,verdict_id",
        ((d + 1, "interpol", sha[n], vid) for d, items in sorted(daily.items()) for n, vid in items))
    # re-checks: for every other illegal sighting, a check after 1 day, and after 4 days when still up
    illegal = {n for _at, n, v, _src, _s in decisions if v != "not-illegal"}
    checks = []
    for k, (n, r) in enumerate(sightings):
        if n in illegal and k % 2 == 0:
            url, t0 = media_url(n, r), received[r]
            first = "removed" if rnd.random() < 0.55 else "still-up"
            checks.append((r + 1, sha[n], url, ts(t0 + timedelta(days=1)), first, 404 if first == "removed" else 200))
            if first == "still-up":
                later = "removed" if rnd.random() < 0.6 else "still-up"
                checks.append((r + 1, sha[n], url, ts(t0 + timedelta(days=4)), later, 404 if later == "removed" else 200))
    put("rechecks", "report_id,sha256,url,checked_at,outcome,http_status", iter(checks))
    con.commit()
    con.close()
    return counts


def raw_read(path: Path, catalog: Catalog) -> float:
    """Baseline: fetch every row the snapshot reads, with the bare sqlite3 driver."""
    con = sqlite3.connect(path)
    started = time.perf_counter()
    for query in SOURCES.values():
        con.execute(str(query.compile(dialect=catalog.engine.dialect))).fetchall()
    seconds = time.perf_counter() - started
    con.close()
    return seconds


# what the child runs: one snapshot of the catalog, with the code found first on its path
SNAPSHOT = r"""
import json, sys, time
from pathlib import Path
import stats
from catalog.catalog import Catalog
from stats import SnapshotOptions, write_snapshot
catalog = Catalog(f"sqlite:///{sys.argv[1]}")
info = write_snapshot(catalog, Path(sys.argv[2]), SnapshotOptions(country="NL", urls="host"), keep=1, actor="bench")
catalog.dispose()
size = sum(p.stat().st_size for p in info.path.rglob("*") if p.is_file())
print("snapshot-result", json.dumps({"seconds": info.seconds, "timings": info.timings, "rows": info.rows, "size": size,
                  "code": str(Path(stats.__file__).parents[1])}), flush=True)
"""
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """One snapshot written by a child process: what it reported and what it cost."""

    seconds: float  # the snapshot's own build time, as write_snapshot measured it
    wall: float  # the child's, imports included
    cpu: float  # user + system seconds of the child, over all its threads
    peak: int  # bytes, the child's largest resident set
    timings: dict[str, float]
    rows: dict[str, int]
    size: int
    code: str


def snapshot_run(tree: Path, db: Path, out: Path) -> Run:
    """Write a snapshot of ``db`` into ``out`` in a child process running the code in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryFile("w+") as report:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", SNAPSHOT, str(db), str(out)], stdout=report, env=env,
                                 cwd=tree)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own rusage (Popen.wait would discard it)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise SystemExit(f"the snapshot run of {tree} failed ({child.returncode})")
        report.seek(0)
        # DuckDB may draw progress bars on the same output
        got = json.loads(report.read().rpartition("snapshot-result ")[2].splitlines()[0])
    if Path(got["code"]).resolve() != tree.resolve():
        raise SystemExit(f"the snapshot run of {tree} ran the code in {got['code']}")
    return Run(seconds=got["seconds"], wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak=usage.ru_maxrss * 1024,
               timings=got["timings"], rows=got["rows"], size=got["size"], code=got["code"])


def baseline_tree(revision: str, into: Path) -> Path:
    """The code of ``revision`` of this repository, extracted with ``git archive``."""
    archive = subprocess.run(["git", "archive", "--format=tar", revision], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def describe(label: str, run: Run, floor: float) -> None:
    print(flush=True)
    print(f"{label}: {run.seconds:.1f} s build ({run.seconds / floor:.1f}x the bare read), child wall "
          f"{run.wall:.1f} s, CPU {run.cpu:.1f} s over all threads, peak resident {run.peak / 1e9:.2f} GB, "
          f"{run.size / 1e6:.0f} MB on disk")
    print("  steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items()), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--baseline-tree", metavar="REV",
                        help="also write the snapshot with the code of this git revision (e.g. main) and compare")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-stats-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "catalog.db"
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
          "(shared with other engineers' work: figures vary from run to run)")
    fresh = not db.exists()
    catalog = Catalog(f"sqlite:///{db}")
    catalog.migrate()
    if fresh or not _has_rows(db):
        started = time.perf_counter()
        counts = generate(db, args.items, args.reports)
        print(f"generated in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    else:
        print(f"reusing the catalog in {db}")

    floor = raw_read(db, catalog)
    print(f"\nbaseline, bare sqlite3 read of the snapshot's source rows: {floor:.1f} s")
    baseline = None
    if args.baseline_tree:
        tree = baseline_tree(args.baseline_tree, Path(tempfile.mkdtemp(prefix="bench-stats-tree-")))
        try:
            baseline = snapshot_run(tree, db, work / "stats-baseline")
        finally:
            shutil.rmtree(tree, ignore_errors=True)
            shutil.rmtree(work / "stats-baseline", ignore_errors=True)
        describe(f"baseline snapshot ({args.baseline_tree})", baseline, floor)
    run = snapshot_run(ROOT, db, work / "stats")
    if baseline:
        if baseline.rows != run.rows:
            print(f"  ROWS DIFFER from this tree's: {baseline.rows} vs {run.rows}")
    describe("snapshot", run, floor)
    if baseline:
        print(f"  this tree / baseline: build {run.seconds / baseline.seconds:.2f}x, CPU {run.cpu / baseline.cpu:.2f}x, "
              f"peak {run.peak / baseline.peak:.2f}x")
    fast, small = run.seconds <= 60, run.peak <= 1e9
    print(f"targets: build <= 60 s {'OK' if fast else 'OVER TARGET'}; peak <= 1 GB {'OK' if small else 'OVER TARGET'}; "
          f"items {run.rows['items']:,}, sightings {run.rows['sightings']:,}, reports {run.rows['reports']:,}")

    started = time.perf_counter()
    compute_figures(catalog, SnapshotOptions(country="NL"))
    live = time.perf_counter() - started
    print(f"\nbaseline, all figures computed live from the catalog (no snapshot): {live:.1f} s")
    con = open_snapshot(work / "stats")
    worst = 0.0
    print(f"{'view':<20} {'rows':>7} {'first s':>8} {'best of 3 s':>12} {'CPU s':>7} {'vs live':>8}")
    for name in VIEWS:
        times = []
        cpu = time.process_time()
        for _ in range(3):
            t = time.perf_counter()
            rows = con.sql(f"SELECT * FROM {name}").fetchall()
            times.append(time.perf_counter() - t)
        cpu = (time.process_time() - cpu) / 3
        worst = max(worst, max(times))
        print(f"{name:<20} {len(rows):>7} {times[0]:>8.3f} {min(times):>12.3f} {cpu:>7.3f} {min(times) / live:>8.4f}")
    con.close()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"slowest view run: {worst:.3f} s (target <= 1 s: {'OK' if worst <= 1 else 'OVER TARGET'})")
    catalog.dispose()
    return 0 if fast and small and worst <= 1 else 1


def _has_rows(db: Path) -> bool:
    con = sqlite3.connect(db)
    try:
        return bool(con.execute("SELECT count(*) FROM media").fetchone()[0])
    finally:
        con.close()


if __name__ == "__main__":
    sys.exit(main())
