"""Benchmark: what a flow command costs with a temporary Prefect server (no service) and
with ``hotline up`` running, in the same run.

    .venv/bin/python bench/bench_cli_overhead.py [--repeat 3] [--dir DIR]

* Setup (not timed): a fresh installation; nothing pending, nothing to export.
* Measured, per command, wall seconds and CPU seconds of the command's process tree
  (``RUSAGE_CHILDREN``, so the temporary server's process counts):
  (1) the floor: ``hotline report list --json``, a command that opens the catalog and
      starts no flow; (2) ``hotline run`` and ``hotline export`` with a temporary server
  each; (3) ``hotline up --detach`` (timed once, not in the figures), then the same two
  commands against its server; the service's own CPU is not counted (it runs anyway).
* Printed: each figure's median, the overhead over the floor, and the ratio
  temporary server / service.

The machine is shared (2 cores), so absolute figures vary with its load; the ratios are
measured within one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hotline.demo.local_site import unused_port  # noqa: E402

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(env: dict[str, str], *args: str) -> tuple[float, float]:
    cpu0, wall0 = children_cpu(), time.perf_counter()
    done = subprocess.run([*HOTLINE, *args], env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - wall0, children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"hotline {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return wall, cpu


def measure(env: dict[str, str], repeat: int, *args: str) -> tuple[float, float]:
    runs = [timed(env, *args) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PREFECT_"))}
    env.update(HOTLINE_DATA_DIR=str(work / "data"), PREFECT_HOME=str(work / "prefect-client"),
               PREFECT_UI_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING")
    subprocess.run([*HOTLINE, "init"], env=env, check=True, capture_output=True)
    load = os.getloadavg()[0]

    rows: dict[str, tuple[float, float]] = {"floor (report list)": measure(env, args.repeat, "report", "list", "--json")}
    for name in ("run", "export"):
        rows[f"{name}, temporary server"] = measure(env, args.repeat, name, "--json")
    wall0 = time.perf_counter()
    subprocess.run([*HOTLINE, "up", "--detach", "--prefect-port", str(unused_port()),
                    "--review-port", str(unused_port())], env=env, check=True, capture_output=True)
    up_s = time.perf_counter() - wall0
    try:
        timed(env, "run", "--json")  # the first command after up: not counted ("after the first")
        for name in ("run", "export"):
            rows[f"{name}, hotline up"] = measure(env, args.repeat, name, "--json")
    finally:
        subprocess.run([*HOTLINE, "down"], env=env, check=True, capture_output=True)

    floor_wall, floor_cpu = rows["floor (report list)"]
    print(f"load average at start {load:.1f}; {args.repeat} runs each (median); `hotline up --detach` took {up_s:.0f} s")
    print(f"{'command':<28} {'wall s':>8} {'cpu s':>8} {'over floor wall':>16} {'over floor cpu':>15}")
    for label, (wall, cpu) in rows.items():
        print(f"{label:<28} {wall:8.2f} {cpu:8.2f} {wall - floor_wall:16.2f} {cpu - floor_cpu:15.2f}")
    for name in ("run", "export"):
        (tw, tc), (sw, sc) = rows[f"{name}, temporary server"], rows[f"{name}, hotline up"]
        print(f"hotline {name}: temporary server / hotline up = {tw / sw:.1f}x wall, {tc / sc:.1f}x cpu")


if __name__ == "__main__":
    main()
