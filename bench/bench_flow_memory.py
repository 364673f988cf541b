"""Benchmark: peak memory of ``hotline export`` where the export really runs, in this tree
and in a baseline tree. Under ``hotline up`` the command only submits a run over Prefect's
REST API; the service's ``starter`` (``hotline.services.flow_starter``), which has imported
Prefect and every flow of prefect.yaml once, forks the run's process, and the export runs there.

    .venv/bin/python bench/bench_flow_memory.py [--items 4000] [--item-kb 64] \
        [--baseline-ref main | --baseline-tree DIR] [--dir DIR]

Target: the export's peak <= 256 MB.

* Baseline: ``--baseline-tree`` (a checkout), or ``--baseline-ref`` (``git archive`` of
  that commit unpacked into a temporary directory); each tree runs in processes of its own
  (``PYTHONPATH`` = the tree), with its own installation and its own service, in this run.
* Setup (not measured): a fresh installation whose evidence store holds ``--items`` items of
  ``--item-kb`` random bytes (benign), each with a baseline verdict; the INTERPOL route is
  ``s3://bench/drop`` (moto's S3 server on 127.0.0.1) with media; ``hotline up --detach``.
* Measured: (1) the import floor: peak RSS of a process that only imports the export flow's
  module (``flows.export_bundles``); (2) ``hotline export --json``: every process the command
  or the service starts meanwhile is sampled every 20 ms until it ends, from ``/proc/<pid>/status``
  (``VmHWM``, the peak RSS the kernel keeps, so exact; ``VmRSS``) and ``/proc/<pid>/smaps_rollup``
  (PSS; USS = Private_Clean + Private_Dirty, the pages no other process maps: sampled peaks).
  The export's process is the starter's fork for the export's run (the starter's log line
  "flow run <id>: process <pid>", the run's deployment asked of the Prefect API: a scheduled
  run of another deployment may fork meanwhile), else a ``prefect.engine`` the worker
  started, else the command itself (a tree whose command runs the flow). The command's own
  peak comes from ``wait4`` (exact). The starter's own RSS, PSS and USS are read before the run.

A fork's RSS counts the pages it still shares copy-on-write with the starter (the preloaded
modules' heap): its USS is what it added to the box (the copies included: Python writes
reference counts and the collector's marks into shared objects, so a run copies part of
the starter's heap). What the box holds for the export is the starter's RSS (always there)
plus the run's USS. The machine is shared (2 cores): times vary with its load; memory hardly does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from trees import compared_trees

REPO = Path(__file__).resolve().parents[1]
BUCKET = "bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_env(tree: Path, data_dir: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PREFECT_"))}
    env.update(CREDENTIALS)
    env.update(
        PYTHONPATH=str(tree), HOTLINE_DATA_DIR=str(data_dir), HOTLINE_COUNTRY="NL", HOTLINE_EXPORT_MEDIA="true",
        HOTLINE_INTERPOL_DESTINATION=f"s3://{BUCKET}/drop", HOTLINE_S3_ENDPOINT_URL=endpoint,
        PREFECT_HOME=str(data_dir.parent / "prefect-client"), PREFECT_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
    )
    return env


def setup(items: int, item_kb: int) -> dict[str, object]:
    """In this process's environment: an installation with ``items`` confirmed items."""
    import hashlib

    from catalog.decisions.records import Verdict
    from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
    from catalog.reports.records import CrawlResult
    from hotline.installation import Installation
    from hotline.settings import Settings

    inst = Installation.init(Settings())
    catalog = inst.catalog
    for start in range(0, items, 500):
        report = catalog.add_report(f"http://bench.example/{start}/", actor="bench")
        media, sightings, hashes = [], [], []
        for i in range(start, min(items, start + 500)):
            data = os.urandom(item_kb << 10)
            sha = inst.evidence.put(data)
            media.append(MediaRecord(sha, len(data), None, "image"))
            sightings.append(SightingRecord(sha, f"http://bench.example/{i}.jpg", f"http://bench.example/{start}/",
                                            country="NL"))
            hashes += [HashRecord(sha, "sha256", sha), HashRecord(sha, "md5", hashlib.md5(data).hexdigest())]
        catalog.record_crawl(report, CrawlResult(f"http://bench.example/{start}/", media=tuple(media),
                                                 sightings=tuple(sightings)))
        catalog.record_hashes(hashes)
        shas = [m.sha256 for m in media]
        catalog.queue_unmatched(shas)
        for sha in shas:
            catalog.record_verdict(sha, Verdict.BASELINE, actor="bench")
    inst.close()
    return {"items": items}


SAMPLE_S = 0.02  # between two looks at the processes' memory
AFTER_S = 60.0  # how long the run's process may outlive the command (it reports its state, then ends)
EXPORT_DEPLOYMENT = ("export-bundles", "export-interpol")


def memory_kb(pid: int) -> dict[str, int] | None:
    """A process's memory now (KiB): ``VmHWM`` (its peak RSS, kept by the kernel), ``VmRSS``,
    and from ``smaps_rollup`` its PSS and USS (private pages, clean and dirty); its parent and
    CPU ticks. None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    lines = (line.partition(":") for line in (status + rollup).splitlines())
    fields = {k: v.split()[0] for k, _, v in lines if v.strip()}
    if "VmHWM" not in fields:  # a zombie: its memory is gone
        return None
    ticks = stat.rpartition(")")[2].split()
    return {"hwm": int(fields["VmHWM"]), "rss": int(fields["VmRSS"]), "pss": int(fields.get("Pss", 0)),
            "uss": int(fields.get("Private_Clean", 0)) + int(fields.get("Private_Dirty", 0)),
            "ppid": int(fields["PPid"]), "cpu_ticks": int(ticks[11]) + int(ticks[12])}


def descendants(root: int) -> list[int]:
    """Every process under ``root`` (``/proc/<pid>/task/<tid>/children``)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                kids = [int(k) for k in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def api_json(api_url: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(api_url.rstrip("/") + path, timeout=30) as answer:  # noqa: S310 - the local service
        return dict(json.loads(answer.read()))


def export_runs(data_dir: Path, api_url: str) -> set[int]:
    """The pids the starter forked for runs of the export's deployment: its log line for each
    run ("flow run <id>: process <pid>"), the run's deployment from the Prefect API. A
    scheduled run of another deployment may be forked during the export too."""
    wanted = api_json(api_url, "/deployments/name/{}/{}".format(*EXPORT_DEPLOYMENT))["id"]
    pids = set()
    log = data_dir / "service" / "hotline.log"
    for run_id, pid in re.findall(r"flow run ([0-9a-f-]{36}): process (\d+)", log.read_text(errors="replace")):
        if api_json(api_url, f"/flow_runs/{run_id}").get("deployment_id") == wanted:
            pids.add(int(pid))
    return pids


def measure(argv: list[str]) -> dict[str, object]:
    """Runs ``argv`` (a flow command) against the service on ``HOTLINE_DATA_DIR`` and samples,
    every ``SAMPLE_S`` until they end, the memory of each process it or the service starts
    meanwhile: the run's process forked by the starter, or one the worker started, or the
    command itself when it runs the flow. The command's own peak is exact (``wait4``)."""
    data_dir = Path(os.environ["HOTLINE_DATA_DIR"])
    state = json.loads((data_dir / "service" / "state.json").read_text())
    service = int(state["pid"])
    starter = next((c["pid"] for c in state["components"] if c["name"] == "starter" and c["pid"]), None)
    before = set(descendants(service))
    starter_before = memory_kb(starter) if starter else None
    seen: dict[int, dict[str, Any]] = {}
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=out, stderr=err)
    status, usage, ended = None, None, None
    while True:
        pids = [proc.pid, *descendants(proc.pid), *(p for p in descendants(service) if p not in before)]
        for pid in pids:
            now = memory_kb(pid)
            if now is None:
                continue
            if pid not in seen:
                seen[pid] = {"cmdline": cmdline(pid), "ppid": now["ppid"], "first_s": time.perf_counter() - t0,
                             "start_rss": now["rss"],
                             **{k: 0 for k in ("hwm", "rss", "pss", "uss", "cpu_ticks")}}
            mine = seen[pid]
            for k in ("hwm", "rss", "pss", "uss", "cpu_ticks"):
                mine[k] = max(mine[k], now[k])
            mine["last_s"] = time.perf_counter() - t0
        if status is None:
            done, status_now, usage_now = os.wait4(proc.pid, os.WNOHANG)
            if done:
                status, usage, ended = status_now, usage_now, time.perf_counter()
        if status is not None:
            going = [p for p in pids if p != proc.pid and memory_kb(p) is not None]
            if not going or time.perf_counter() - ended > AFTER_S:
                break
        time.sleep(SAMPLE_S)
    assert usage is not None and ended is not None
    code = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read().decode(), err.read().decode()
    if code != 0:
        raise SystemExit(f"{argv[2:]} failed:\n{stdout[-2000:]}\n{stderr[-4000:]}")
    forked = export_runs(data_dir, state["api_url"]) if starter else set()
    tick = os.sysconf("SC_CLK_TCK")
    processes = []
    for pid, mine in seen.items():
        if pid == proc.pid:
            role = "command"
        elif mine["ppid"] == starter:
            role = "export run (starter's fork)" if pid in forked else "other run (starter's fork)"
        elif "prefect.engine" in mine["cmdline"]:
            role = "run (worker's engine)"
        else:
            role = "other"
        processes.append({"pid": pid, "role": role,
                          **{k: mine[k] / 1024 for k in ("hwm", "rss", "pss", "uss", "start_rss")},
                          "cpu_s": mine["cpu_ticks"] / tick, "cmdline": mine["cmdline"][:120]})
    command = next(p for p in processes if p["role"] == "command")
    command["hwm"] = usage.ru_maxrss / 1024  # exact, whatever the samples saw
    command["cpu_s"] = usage.ru_utime + usage.ru_stime
    ran = ([p for p in processes if p["role"] == "export run (starter's fork)"]
           or [p for p in processes if p["role"] == "run (worker's engine)"] or [command])
    starter_after = memory_kb(starter) if starter else None
    return {"wall_s": ended - t0, "stdout": stdout, "processes": processes,
            "export": max(ran, key=lambda p: p["hwm"]),
            "starter": ({k: starter_before[k] / 1024 for k in ("rss", "pss", "uss")} if starter_before else None),
            "starter_after_rss": starter_after["rss"] / 1024 if starter_after else None}


def child(step: str, env: dict[str, str], *args: str) -> dict[str, object]:
    """A step of this script in a fresh process (its figures are its own)."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--step", step, *args], env=env,
                         cwd=env["PYTHONPATH"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def hotline(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "hotline.cli", *args], env=env, cwd=env["PYTHONPATH"], check=True,
                   capture_output=True)


def run_tree(tree: Path, work: Path, endpoint: str, items: int, item_kb: int) -> dict[str, Any]:
    env = tree_env(tree, work / "data", endpoint)
    child("setup", env, "--items", str(items), "--item-kb", str(item_kb))
    floor = subprocess.run([sys.executable, "-c", "import flows.export_bundles, resource; "
                            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                           env=env, cwd=tree, capture_output=True, text=True, check=True)
    hotline(env, "up", "--detach", "--prefect-port", str(free_port()), "--review-port", str(free_port()))
    try:
        export = child("measure", env, sys.executable, "-m", "hotline.cli", "export", "--json")
    finally:
        hotline(env, "down")
    exported = json.loads(str(export.pop("stdout")))
    if exported["items"] != items:
        raise SystemExit(f"{tree}: exported {exported['items']} items of {items}")
    return {"floor_mb": int(floor.stdout.split()[-1]) / 1024, **export}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--item-kb", type=int, default=64)
    parser.add_argument("--baseline-tree", type=Path)
    parser.add_argument("--baseline-ref", help="A commit of this repository, unpacked with git archive.")
    parser.add_argument("--dir", type=Path, default=None, help="Work directory (default: a temporary one).")
    parser.add_argument("--step", choices=("setup", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "setup":
        print(json.dumps(setup(args.items, args.item_kb)))
        return
    if args.step == "measure":
        print(json.dumps(measure(args.rest)))
        return

    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-flow-memory-"))
    trees = compared_trees(work, args.baseline_ref, args.baseline_tree)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # moto as a module, not its console script: a venv that shares another's site-packages has no script
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
                              aws_access_key_id="bench", aws_secret_access_key="bench")
        for _ in range(300):
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(0.1)
        load = os.getloadavg()[0]
        results = {label: run_tree(tree, work / f"tree-{n}", endpoint, args.items, args.item_kb)
                   for n, (label, tree) in enumerate(trees)}
    finally:
        server.terminate()
        server.wait(timeout=60)
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)

    print(f"{args.items} items of {args.item_kb} KB exported with media to S3 (moto) by `hotline export --json` "
          f"against `hotline up`; load average at start {load:.1f} (2 cores, shared); MB = MiB")
    print(f"{'tree':<22} {'floor':>6} {'starter RSS':>12} {'USS':>6} {'export ran in':<28} {'RSS at start':>13} "
          f"{'peak RSS':>9} {'peak USS':>9} {'peak PSS':>9} {'run cpu s':>10} {'command peak':>13} {'wall s':>7}")
    for label, r in results.items():
        starter, run = r["starter"] or {"rss": 0.0, "uss": 0.0}, r["export"]
        command = next(p for p in r["processes"] if p["role"] == "command")
        print(f"{label:<22} {r['floor_mb']:6.0f} {starter['rss']:12.0f} {starter['uss']:6.0f} {run['role']:<28} "
              f"{run['start_rss']:13.0f} {run['hwm']:9.0f} {run['uss']:9.0f} {run['pss']:9.0f} {run['cpu_s']:10.1f} "
              f"{command['hwm']:13.0f} {r['wall_s']:7.1f}")
    for label, r in results.items():
        others = [p for p in r["processes"] if p["role"] != "command" and p["pid"] != r["export"]["pid"]]
        for p in others:
            print(f"  {label}: also {p['role']} pid {p['pid']}: peak RSS {p['hwm']:.0f}, USS {p['uss']:.0f} "
                  f"({p['cmdline'].partition(' ')[2][:70]})")
    if len(results) == 2:
        (_, head), (_, base) = results.items()
        print(f"export's peak RSS this tree / baseline: {head['export']['hwm'] / base['export']['hwm']:.2f}, "
              f"peak USS {head['export']['uss'] / max(base['export']['uss'], 1):.2f} (target <= 256 MB)")


if __name__ == "__main__":
    main()
