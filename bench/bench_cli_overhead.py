"""Benchmark: what a flow command costs with a temporary Prefect server (no service) and
with ``hotline up`` running, in the same run; this tree against a baseline.

    .venv/bin/python bench/bench_cli_overhead.py [--repeat 3] [--dir DIR] [--service-only]
        [--baseline-ref main | --baseline-tree DIR]

* Setup (not timed): a fresh installation; nothing pending, nothing to export.
* Measured, per command, wall seconds and CPU seconds of the command's process tree
  (``RUSAGE_CHILDREN``, so the temporary server's process counts):
  (1) the floor: ``hotline report list --json``, a command that opens the catalog and
      starts no flow; (2) ``hotline run`` and ``hotline export`` with a temporary server
  each; (3) ``hotline up --detach`` (timed once, not in the figures), then the same two
  commands with the service running (a tree whose commands give the run to the service's
  worker does not run the flow itself). The service's CPU is not in the command's figures;
  what it spent while the commands ran (its components and their children, from /proc,
  the flow runs of its worker included) is shown beside them, per command.
* Printed: each figure's median, the overhead over the floor, the ratio temporary server /
  service; with a baseline, the two trees side by side.

``--service-only`` skips the temporary-server rows (minutes each on a loaded box). A baseline
tree (``--baseline-tree``, a checkout; or ``--baseline-ref``, ``git archive`` of that commit
unpacked into a temporary directory) is measured the same way in the same run, each tree in
processes of its own (``PYTHONPATH`` = the tree) with its own installation and service.

The machine is shared (2 cores), so absolute figures vary with its load; the ratios are
measured within one run.
"""

from __future__ import annotations

import argparse
import json
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

from trees import compared_trees  # noqa: E402

from hotline.demo.local_site import unused_port  # noqa: E402

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(env: dict[str, str], *args: str) -> tuple[float, float]:
    cpu0, wall0 = children_cpu(), time.perf_counter()
    done = subprocess.run([*HOTLINE, *args], env=env, cwd=env["PYTHONPATH"], capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - wall0, children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"hotline {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return wall, cpu


def measure(env: dict[str, str], repeat: int, *args: str) -> tuple[float, float]:
    runs = [timed(env, *args) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def service_cpu(env: dict[str, str]) -> float:
    """CPU seconds the running service's components and their waited-for children used so far."""
    done = subprocess.run([*HOTLINE, "status", "--json"], env=env, cwd=env["PYTHONPATH"], capture_output=True,
                          text=True, check=True)
    total = 0.0
    for component in json.loads(done.stdout)["components"]:
        if component["pid"] is None:
            continue
        try:
            fields = Path(f"/proc/{component['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return total


def measure_tree(tree: Path, work: Path, repeat: int, service_only: bool) -> tuple[dict[str, tuple[float, float]], float]:
    """The figures of one tree: its rows, and how long its ``hotline up --detach`` took."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PREFECT_"))}
    env.update(HOTLINE_DATA_DIR=str(work / "data"), PREFECT_HOME=str(work / "prefect-client"),
               PREFECT_UI_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING", PYTHONPATH=str(tree))
    subprocess.run([*HOTLINE, "init"], env=env, cwd=tree, check=True, capture_output=True)

    rows: dict[str, tuple[float, float]] = {"floor (report list)": measure(env, repeat, "report", "list", "--json")}
    for name in () if service_only else ("run", "export"):
        rows[f"{name}, temporary server"] = measure(env, repeat, name, "--json")
    wall0 = time.perf_counter()
    subprocess.run([*HOTLINE, "up", "--detach", "--prefect-port", str(unused_port()),
                    "--review-port", str(unused_port())], env=env, cwd=tree, check=True, capture_output=True)
    up_s = time.perf_counter() - wall0
    try:
        timed(env, "run", "--json")  # the first command after up: not counted ("after the first")
        for name in ("run", "export"):
            before = service_cpu(env)
            rows[f"{name}, hotline up"] = measure(env, repeat, name, "--json")
            rows[f"  (service cpu for {name})"] = (0.0, (service_cpu(env) - before) / repeat)
    finally:
        subprocess.run([*HOTLINE, "down"], env=env, cwd=tree, check=True, capture_output=True)
    return rows, up_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--service-only", action="store_true", help="Skip the temporary-server rows.")
    parser.add_argument("--baseline-tree", type=Path)
    parser.add_argument("--baseline-ref", help="A commit of this repository, unpacked with git archive.")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-cli-"))
    trees = compared_trees(work, args.baseline_ref, args.baseline_tree)
    load = os.getloadavg()[0]
    results = {label: measure_tree(tree, work / f"tree-{n}", args.repeat, args.service_only)
               for n, (label, tree) in enumerate(trees)}

    print(f"load average at start {load:.1f}; {args.repeat} runs each (median)")
    for label, (rows, up_s) in results.items():
        floor_wall, floor_cpu = rows["floor (report list)"]
        print(f"\n{label}: `hotline up --detach` took {up_s:.0f} s")
        print(f"{'command':<28} {'wall s':>8} {'cpu s':>8} {'over floor wall':>16} {'over floor cpu':>15}")
        for row, (wall, cpu) in rows.items():
            if row.startswith(" "):
                print(f"{row:<28} {'':>8} {cpu:8.2f}")
                continue
            print(f"{row:<28} {wall:8.2f} {cpu:8.2f} {wall - floor_wall:16.2f} {cpu - floor_cpu:15.2f}")
        for name in () if args.service_only else ("run", "export"):
            (tw, tc), (sw, sc) = rows[f"{name}, temporary server"], rows[f"{name}, hotline up"]
            print(f"hotline {name}: temporary server / hotline up = {tw / sw:.1f}x wall, {tc / sc:.1f}x cpu")
    if len(results) == 2:
        (_, (head, _)), (base_label, (base, _)) = results.items()
        print(f"\nthis tree against {base_label}; over floor = the row minus that tree's floor")
        print(f"{'command':<28} {'wall base':>9} {'wall this':>9} {'cpu base':>9} {'cpu this':>9} "
              f"{'over floor wall base/this':>26} {'over floor cpu base/this':>25}")
        hf, bf = head["floor (report list)"], base["floor (report list)"]
        for row in head:
            (hw, hc), (bw, bc) = head[row], base[row]
            if row.startswith(" "):
                print(f"{row:<28} {'':>9} {'':>9} {bc:9.2f} {hc:9.2f}")
                continue
            print(f"{row:<28} {bw:9.2f} {hw:9.2f} {bc:9.2f} {hc:9.2f} {bw - bf[0]:12.2f} /{hw - hf[0]:12.2f} "
                  f"{bc - bf[1]:11.2f} /{hc - hf[1]:12.2f}")


if __name__ == "__main__":
    main()
