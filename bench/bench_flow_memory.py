"""Benchmark: peak memory of ``hotline export`` where the export really runs, the flow
command's own process (with ``hotline up`` running, the command runs the flow in its
process against the service's Prefect server), in this tree and in a baseline tree.

    .venv/bin/python bench/bench_flow_memory.py [--items 4000] [--item-kb 64] \
        [--baseline-ref main | --baseline-tree DIR] [--dir DIR]

Target: the export's peak <= 256 MB.

* Baseline: ``--baseline-tree`` (a checkout), or ``--baseline-ref`` (``git archive`` of
  that commit unpacked into a temporary directory); each tree runs in processes of its own
  (``PYTHONPATH`` = the tree), with its own installation and its own service, in this run.
* Setup (not measured): a fresh installation whose evidence store holds ``--items`` items of
  ``--item-kb`` random bytes (benign), each with a baseline verdict; the INTERPOL route is
  ``s3://bench/drop`` (moto's S3 server on 127.0.0.1) with media; ``hotline up --detach``.
* Measured: (1) the import floor: peak RSS of a process that only imports the export
  flow's module (``flows.export_bundles``); (2) ``hotline export --json``: the peak RSS
  (``ru_maxrss``) of the command's own process, which runs the flow, and of its process
  tree (``RUSAGE_CHILDREN`` of a wrapper: the largest process it waited for), with the
  command's wall and CPU seconds.

The machine is shared (2 cores): times vary with its load; peak memory hardly does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trees import compared_trees

REPO = Path(__file__).resolve().parents[1]
BUCKET = "bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}

# Runs the command line in this process and leaves its peak RSS (KiB) in a file at exit:
# the flow process's own figure, whatever the command's exit status.
CLI_WITH_PEAK = (
    "import atexit, os, resource, runpy, sys\n"
    "atexit.register(lambda: open(os.environ['BENCH_PEAK_FILE'], 'w').write("
    "str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))\n"
    "sys.argv = ['hotline', *sys.argv[1:]]\n"
    "runpy.run_module('hotline.cli', run_name='__main__', alter_sys=True)\n"
)


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


def measure(argv: list[str]) -> dict[str, object]:
    """Runs ``argv``; its own peak (``BENCH_PEAK_FILE``, when it writes one) and the tree's."""
    peak_file = Path(tempfile.mkstemp(prefix="bench-peak-")[1])
    env = {**os.environ, "BENCH_PEAK_FILE": str(peak_file)}
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = peak_file.read_text()
    peak_file.unlink()
    if done.returncode != 0:
        raise SystemExit(f"{argv[2:]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "tree_peak_mb": usage.ru_maxrss / 1024,
            "own_peak_mb": int(own) / 1024 if own else None, "stdout": done.stdout}


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


def run_tree(tree: Path, work: Path, endpoint: str, items: int, item_kb: int) -> dict[str, object]:
    env = tree_env(tree, work / "data", endpoint)
    child("setup", env, "--items", str(items), "--item-kb", str(item_kb))
    floor = child("measure", env, sys.executable, "-c",
                  "import flows.export_bundles, os, resource; open(os.environ['BENCH_PEAK_FILE'], 'w')"
                  ".write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))")
    hotline(env, "up", "--detach", "--prefect-port", str(free_port()), "--review-port", str(free_port()))
    try:
        export = child("measure", env, sys.executable, "-c", CLI_WITH_PEAK, "export", "--json")
    finally:
        hotline(env, "down")
    exported = json.loads(str(export.pop("stdout")))
    if exported["items"] != items:
        raise SystemExit(f"{tree}: exported {exported['items']} items of {items}")
    return {"floor": floor, "export": export}


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
          f"against `hotline up`; load average at start {load:.1f} (2 cores, shared)")
    print(f"{'tree':<22} {'import floor MB':>16} {'export own peak MB':>19} {'export tree peak MB':>20} "
          f"{'wall s':>8} {'cpu s':>8}")
    for label, r in results.items():
        floor, export = r["floor"], r["export"]
        print(f"{label:<22} {floor['own_peak_mb']:16.0f} {export['own_peak_mb']:19.0f} {export['tree_peak_mb']:20.0f} "
              f"{export['wall_s']:8.1f} {export['cpu_s']:8.1f}")
    if len(results) == 2:
        (_, head), (_, base) = results.items()
        print(f"export peak this tree / baseline: {head['export']['own_peak_mb'] / base['export']['own_peak_mb']:.2f} "
              f"(target <= 256 MB)")


if __name__ == "__main__":
    main()
