"""Benchmark: importing a large known-hash list with `hotline known import`, as an operator
does, in a process of its own whose peak memory is measured.

    .venv/bin/python bench/bench_known_import.py [--rows 1000000] [--columns md5,sha1,pdq]
        [--base COMMIT] [--dir DIR] [--once] [--csv FILE]

* Setup (not timed): a CSV of ``--rows`` rows of random hashes (the chosen columns) and a
  category (1 or 2 of the ``vics-us`` profile, mapped by ``--category``), with 1 % of rows
  repeated, as real lists have; a fresh installation.
* Measured per run: wall and CPU seconds of the whole command (CPU of the child process),
  rows per second, and the peak resident memory of the process (``ru_maxrss`` of the
  child), then the same import again (nothing changes: the content digest is the same).
* ``--once``: no second import; ``--csv FILE``: import FILE (made by an earlier run) instead
  of writing a new list.
* ``--base COMMIT`` runs the same import with the code of COMMIT (a git worktree made for
  the run) in the same process tree first: the before/after ratio of one run.

Hash values are random, so nothing of any real list is involved.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}


def write_csv(path: Path, rows: int, columns: list[str]) -> None:
    with path.open("w") as out:
        out.write(",".join([*columns, "category"]) + "\n")
        chunk = 100_000
        for start in range(0, rows, chunk):
            lines = []
            for n in range(start, min(rows, start + chunk)):
                if n % 100 == 99 and lines:  # a repeated row
                    lines.append(lines[-1])
                    continue
                lines.append(",".join([*(secrets.token_hex(LENGTHS[c] // 2) for c in columns), str(1 + n % 2)]))
            out.write("\n".join(lines) + "\n")


def run_import(repo: Path, data_dir: Path, source: Path, name: str) -> tuple[float, float, int]:
    env = os.environ | {"HOTLINE_DATA_DIR": str(data_dir), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                        "DO_NOT_TRACK": "1", "PYTHONPATH": str(repo)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    # the child reports its own peak as it exits (ru_maxrss of the children is the largest so far)
    code = ("import atexit, resource, sys; atexit.register(lambda: sys.stderr.write("
            "f'\\npeak-kib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')); "
            "from hotline.cli import main; main()")
    done = subprocess.run(
        [sys.executable, "-c", code, "known", "import", str(source), "--set", name,
         "--category-profile", "vics-us", "--category", "2=national", "--json"],
        cwd=repo, env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"import failed ({repo}):\n{done.stderr[-3000:]}")
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = int(done.stderr.rsplit("peak-kib ", 1)[1].split()[0])
    return wall, used, peak // 1024


def measure(label: str, repo: Path, work: Path, source: Path, rows: int, once: bool = False) -> None:
    data_dir = work / f"data-{label}"
    env = os.environ | {"HOTLINE_DATA_DIR": str(data_dir), "PYTHONPATH": str(repo)}
    subprocess.run([sys.executable, "-c", "from hotline.cli import main; main()", "init"],
                   cwd=repo, env=env, check=True, capture_output=True)
    wall, used, peak = run_import(repo, data_dir, source, "bench")
    print(f"{label:>6}: {wall:7.1f} s wall {used:7.1f} s CPU  {rows / wall:10,.0f} rows/s  "
          f"peak {peak:,} MiB", flush=True)
    if once:
        return
    again, used_again, peak_again = run_import(repo, data_dir, source, "bench")
    print(f"{label:>6}: again (unchanged) {again:.1f} s wall {used_again:.1f} s CPU  peak {peak_again:,} MiB",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", default="md5,sha1,pdq")
    parser.add_argument("--base", help="a commit to compare with, run first in the same process tree")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()
    columns = args.columns.split(",")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        source = args.csv or work / "list.csv"
        if args.csv is None:
            write_csv(source, args.rows, columns)
        print(f"known-set import: {args.rows:,} rows ({', '.join(columns)}, category), "
              f"{source.stat().st_size / 2**20:,.0f} MiB CSV", flush=True)
        if args.base:
            base = work / "base"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(base), args.base],
                           check=True)
            try:
                measure("base", base, work, source, args.rows, args.once)
            finally:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], check=False)
        measure("head", REPO, work, source, args.rows, args.once)


if __name__ == "__main__":
    main()
