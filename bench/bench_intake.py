"""Benchmark: filing reports from a file (`hotline report add --from FILE`) against the
one-call-per-URL way (`hotline report add URL`, and ``Catalog.add_report`` once per URL), in
the same run.

    .venv/bin/python bench/bench_intake.py [--urls 100000] [--baseline-calls 5] [--dir DIR]

* Setup (not timed): a fresh installation; a text file of ``--urls`` lines: benign URLs on
  ``bench.example``, 3% of them repeating an earlier line in another spelling (upper-case
  host, default port, a fragment: one URL identity) and 1% invalid (ftp, no host, not a URL).
* Measured, each command its own process (wall seconds, CPU seconds and peak resident
  memory of that process, from ``os.wait4``): (1) the baseline, ``--baseline-calls`` runs
  of ``hotline report add URL``; (2) ``hotline report add --from FILE --json``; (3) the same
  file again: every URL now linked to its earlier report. In process: ``Catalog.add_report``
  called once per URL (one transaction each) for 2,000 URLs, the library baseline.

The machine is shared (2 cores), so absolute figures vary from run to run; the ratios are
measured within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

INVALID = ["ftp://bench.example/x", "not a url", "http://", "http://bench example/space", "javascript:alert(1)"]


def hotline(data_dir: Path, *args: str) -> tuple[bytes, float, float, float]:
    """Run a command; its stdout, wall seconds, CPU seconds and peak memory (MiB) of its process."""
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "XDG_CONFIG_HOME": str(data_dir.parent / "config")}
    env.pop("HOTLINE_TOKEN", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "hotline.cli", *args], env=env, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak memory
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"hotline {' '.join(args)} failed: {err.read().decode()[-2000:]}")
        return out.read(), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def write_urls(path: Path, count: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    lines: list[str] = []
    kinds = {"unique": 0, "repeat": 0, "invalid": 0}
    for _ in range(count):
        roll = rng.random()
        if roll < 0.01:
            lines.append(rng.choice(INVALID))
            kinds["invalid"] += 1
        elif roll < 0.04 and kinds["unique"]:
            n = rng.randrange(kinds["unique"])
            lines.append(rng.choice([f"http://BENCH.example/g/{n}/page", f"http://bench.example:80/g/{n}/page",
                                     f"http://bench.example/g/{n}/page#top", f"http://bench.example/g/./{n}/page"]))
            kinds["repeat"] += 1
        else:
            lines.append(f"http://bench.example/g/{kinds['unique']}/page")
            kinds["unique"] += 1
    path.write_text("\n".join(lines) + "\n")
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--baseline-calls", type=int, default=5)
    parser.add_argument("--library-calls", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-intake-", dir=args.dir))
    data_dir = work / "data"
    hotline(data_dir, "init")
    urls = work / "urls.txt"
    kinds = write_urls(urls, args.urls)
    print(f"file: {args.urls} lines ({kinds['unique']} distinct URLs, {kinds['repeat']} repeats in other spellings, "
          f"{kinds['invalid']} invalid), {urls.stat().st_size / 1e6:.1f} MB")

    calls = [hotline(data_dir, "report", "add", f"http://baseline.example/{i}") for i in range(args.baseline_calls)]
    per_call = sum(c[1] for c in calls) / len(calls)
    print(f"baseline `hotline report add URL` x{len(calls)}: {per_call:.3f} s a URL wall "
          f"({sum(c[2] for c in calls) / len(calls):.3f} s CPU), {1 / per_call:.2f} URLs/s, "
          f"peak {max(c[3] for c in calls):.0f} MiB")

    from hotline.installation import Installation
    from hotline.settings import Settings

    inst = Installation.open(Settings(data_dir=data_dir))
    started = time.perf_counter()
    cpu0 = time.process_time()
    for i in range(args.library_calls):
        inst.catalog.add_report(f"http://library.example/{i}", actor="bench")
    lib_wall, lib_cpu = time.perf_counter() - started, time.process_time() - cpu0
    inst.close()
    print(f"baseline Catalog.add_report x{args.library_calls} (one transaction a URL): {lib_wall:.2f} s wall, "
          f"{lib_cpu:.2f} s CPU, {args.library_calls / lib_wall:.0f} URLs/s")

    results: list[tuple[str, dict[str, Any], float, float, float]] = []
    for label in ("first intake", "same file again"):
        out, wall, used, peak = hotline(data_dir, "report", "add", "--from", str(urls), "--json")
        summary = json.loads(out)
        results.append((label, summary, wall, used, peak))
        print(f"`hotline report add --from FILE` ({label}): {wall:.2f} s wall, {used:.2f} s CPU, "
              f"{args.urls / wall:.0f} lines/s, added {summary['added']}, linked {len(summary['linked'])}, "
              f"refused {len(summary['refused'])}, peak {peak:.0f} MiB")
    first_wall = results[0][2]
    print(f"ratio: {args.urls / first_wall * per_call:.0f}x the URLs/s of `report add URL` calls, "
          f"{args.urls / first_wall / (args.library_calls / lib_wall):.1f}x one add_report a URL")


if __name__ == "__main__":
    main()
