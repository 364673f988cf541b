"""Load benchmark: reports of 50 images each through the whole process-report flow.

    .venv/bin/python bench/bench_pipeline.py [--reports 1000] [--images 50] [--profiles single,cluster-1,cluster-2]

A local site on 127.0.0.1 (``hotline.demo.local_site.serve_site``, in a process of its own) serves one page per report, each
showing ``--images`` distinct benign synthetic JPEGs; a known set holds one picture in ten
(exact SHA-256), so matching has work to do. Each profile gets a fresh installation, the
reports are filed, and one ``process_report(limit=N)`` run (Prefect's engine, on a local
temporary Prefect server) processes them all:

- single: SQLite catalog, evidence in a directory, tasks on Prefect's thread pool;
- cluster-K: the catalog in a fresh PostgreSQL database (127.0.0.1:5432), evidence and the
  known set on S3 (moto's server on 127.0.0.1, in its own process), and crawls and hashing batches fanned out with
  prefect-dask's DaskTaskRunner to a LocalCluster of K worker processes.

For each: reports per minute, items per second, peak memory (the flow's process plus the
processes it starts, crawl workers and Dask workers, summed; and the flow's process alone), errors (target 0), and where the time goes, from the
flow run's task runs on the Prefect server: the wall time each stage spans (crawl, hash,
match, queue + cluster; claim + finish, which only write the catalog; hash and queue write
their results too) and the rest (orchestration: task submission, Dask start, result passing). The baseline is the single profile, measured in
the same run; the machine is shared (2 cores, other engineers' work running), so absolute
figures vary between runs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

STAGES = {
    "crawl_report": "crawl", "plan_hashing": "hash", "hash_media": "hash", "hashed_media": "match",
    "match_media": "match", "queue_media": "queue", "claim_reports": "catalog", "finish_reports": "catalog",
}


def _picture(seed: int) -> bytes:
    from hotline.demo.local_site import synthetic_image

    return synthetic_image(seed, (256, 192), quality=85)


def _site_routes(reports: int, images: int) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    for r in range(reports):
        names = [f"/p{r}/{n}.jpg" for n in range(images)]
        routes[f"/r{r}"] = "".join(f"<img src='{n}'>" for n in names).encode()
        for n, name in enumerate(names):
            routes[name] = (_picture(r * images + n), "image/jpeg")
    return routes


def _known_set(reports: int, images: int, folder: Path) -> Path:
    """One picture in ten of the site's, by SHA-256."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "known.parquet"
    digests = [hashlib.sha256(_picture(seed)).hexdigest() for seed in range(0, reports * images, 10)]
    pq.write_table(pa.table({"sha256": digests}), path)
    return path


class _MemoryPeak:
    """Samples, twice a second, the resident memory of this process (where the flow runs)
    and of its descendants started since (crawl workers, Dask workers), leaving out the
    processes that were already there (the site, moto, the Prefect server): the pipeline's
    own peak, in MiB."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self._before = {p.pid for p in self._me.children(recursive=True)}
        self.total = self.flow = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            own = self._me.memory_info().rss
            total = own
            for child in self._me.children(recursive=True):
                if child.pid in self._before:
                    continue
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass  # ended meanwhile
            self.flow, self.total = max(self.flow, own / 2**20), max(self.total, total / 2**20)

    def __enter__(self) -> _MemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class _CpuUse:
    """CPU seconds (user + system) spent during the run, by whom: the flow's process, the
    processes it started and reaped (crawl workers, Dask workers and their crawl workers:
    exact, from ``RUSAGE_CHILDREN``), the Prefect server, moto and the site (processes of
    the bench, by PID), and the rest of the machine (PostgreSQL's backends, anything else
    running), from the machine's own counters."""

    def __init__(self, services: dict[str, list[int]]) -> None:
        import psutil

        self._services = {name: [psutil.Process(pid) for pid in pids] for name, pids in services.items()}
        self.seconds: dict[str, float] = {}
        self.busy = 0.0  # share of the machine's cores busy over the run

    @staticmethod
    def _machine() -> tuple[float, float]:
        import psutil

        t = psutil.cpu_times()
        return t.user + t.system + getattr(t, "nice", 0.0) + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0), t.idle

    def _sample(self) -> dict[str, float]:
        import resource

        import psutil

        me = psutil.Process().cpu_times()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        sample = {"flow": me.user + me.system, "workers": kids.ru_utime + kids.ru_stime}
        for name, procs in self._services.items():
            total = 0.0
            for proc in procs:
                for p in [proc, *proc.children(recursive=True)]:
                    try:
                        t = p.cpu_times()
                        total += t.user + t.system
                    except psutil.Error:
                        pass
            sample[name] = total
        return sample

    def __enter__(self) -> _CpuUse:
        self._start, self._machine_start, self._clock = self._sample(), self._machine(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        end, (busy, idle) = self._sample(), self._machine()
        self.seconds = {k: end[k] - self._start[k] for k in end}
        used = busy - self._machine_start[0]
        self.seconds["rest"] = max(0.0, used - sum(self.seconds.values()))
        self.busy = used / (used + idle - self._machine_start[1])


def _stage_times(flow_run_id: Any) -> dict[str, float]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    spans: dict[str, list[float]] = defaultdict(list)
    writes = 0.0  # claim and finish: nothing but catalog writes
    runs: list[Any] = []
    with get_client(sync_client=True) as client:
        while page := client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                            limit=200, offset=len(runs)):
            runs += page
        for run in runs:
            stage = STAGES.get(run.name.rsplit("-", 1)[0], "other")
            if not (run.start_time and run.end_time):
                continue
            if stage == "catalog":
                writes += (run.end_time - run.start_time).total_seconds()
            else:
                spans[stage] += [run.start_time.timestamp(), run.end_time.timestamp()]
    return {"catalog": writes, **{stage: max(ts) - min(ts) for stage, ts in spans.items()}}


def _run_profile(name: str, workers: int, images: int, site: str, reports: int, work: Path,
                 s3_endpoint: str | None, services: dict[str, list[int]]) -> dict[str, Any]:
    from cluster_support import BUCKET, postgres_database

    from catalog.decisions.records import Verdict
    from flows.process_report import process_report
    from hotline.installation import Installation
    from hotline.settings import Settings

    with ExitStack() as stack:
        env = {"HOTLINE_DATA_DIR": str(work / name), "HOTLINE_CRAWL_ALLOW": site}
        if workers:
            run = uuid.uuid4().hex[:8]
            env.update(HOTLINE_CATALOG_URL=stack.enter_context(postgres_database("hotline_bench")),
                       HOTLINE_EVIDENCE_URL=f"s3://{BUCKET}/{run}/evidence",
                       HOTLINE_KNOWN_URL=f"s3://{BUCKET}/{run}/known", HOTLINE_S3_ENDPOINT_URL=s3_endpoint or "",
                       HOTLINE_DASK_WORKERS=str(workers))
        os.environ.update(env)
        try:
            settings = Settings()
            inst = Installation.init(settings)
            inst.import_known_set(_known_set(reports, images, work), "bench", Verdict.BASELINE)
            for r in range(reports):
                inst.catalog.add_report(f"http://{site}/r{r}", actor="bench")
            from flows.common import task_runner

            flow = process_report.with_options(task_runner=task_runner(settings))
            started = time.perf_counter()
            with _MemoryPeak() as memory, _CpuUse(services) as cpu:
                state = flow(limit=reports, return_state=True)
            elapsed = time.perf_counter() - started
            summary = state.result()
            stages = _stage_times(state.state_details.flow_run_id)
            with inst.catalog.read() as conn:
                import sqlalchemy as sa

                from catalog.schema import media, report_errors

                errors = conn.scalar(sa.select(sa.func.count()).select_from(report_errors)) or 0
                items = conn.scalar(sa.select(sa.func.count()).select_from(media)) or 0
            inst.close()
        finally:
            for key in env:
                os.environ.pop(key, None)
    stages["orchestration"] = max(0.0, elapsed - sum(stages.values()))
    return {"profile": name, "seconds": elapsed, "reports": len(summary["reports"]), "items": items,
            "errors": errors, "queued": summary["queued"], "known": summary["auto_classified"], "stages": stages,
            "memory_total": memory.total, "memory_flow": memory.flow, "cpu": cpu.seconds, "busy": cpu.busy}


def _serve(reports: int, images: int, ready: Any, stop: Any) -> None:
    from hotline.demo.local_site import serve_site

    with serve_site(_site_routes(reports, images)) as site:
        ready.put(site.host_port)
        stop.wait()


@contextmanager
def _site_process(reports: int, images: int) -> Iterator[tuple[str, int]]:
    """The site, made and served by a process of its own (host:port), so that serving it
    does not compete with the flow for this process's GIL, nor its pictures count in this
    process's memory."""
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(reports, images, ready, stop), daemon=True)
    proc.start()
    try:
        yield ready.get(timeout=3600), proc.pid
    finally:
        stop.set()
        proc.join(timeout=30)


@contextmanager
def _moto_process() -> Iterator[tuple[str, int]]:
    """moto's S3 server in its own process (in this one it would compete with the flow for
    the GIL), with the bench's bucket; its endpoint and PID."""
    import boto3
    from cluster_support import BUCKET

    from hotline.demo.local_site import unused_port

    port = unused_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--profiles", default="single,cluster-1,cluster-2")
    args = parser.parse_args()
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]

    from cluster_support import AWS
    from prefect.testing.utilities import prefect_test_harness

    os.environ.update(AWS)
    print(f"generating {args.reports} pages x {args.images} images ...", flush=True)
    results = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        import psutil

        site, site_pid = stack.enter_context(_site_process(args.reports, args.images))  # forked before any thread
        stack.enter_context(prefect_test_harness(server_startup_timeout=120))
        services = {"site": [site_pid], "prefect server": [p.pid for p in psutil.Process().children()
                                                          if p.pid != site_pid]}
        endpoint = None
        if any(p.startswith("cluster") for p in profiles):
            endpoint, moto_pid = stack.enter_context(_moto_process())
            services["moto"] = [moto_pid]

        for name in profiles:
            workers = int(name.split("-", 1)[1]) if name.startswith("cluster") else 0
            print(f"running {name} ...", flush=True)
            results.append(_run_profile(name, workers, args.images, site, args.reports, Path(tmp), endpoint,
                                        services))
            r = results[-1]  # as it happens, for a long run
            print(f"  {name}: {r['seconds']:.1f} s, {r['reports'] / r['seconds'] * 60:.1f} reports/min, "
                  f"{r['errors']} errors, peak {r['memory_total']:.0f} MiB", flush=True)

    base = next((r for r in results if r["profile"] == "single"), results[0])
    print(f"\n{args.reports} reports x {args.images} images; shared 2-core machine (other engineers' work running)")
    print(f"{'profile':<11} {'s':>8} {'reports/min':>12} {'items/s':>8} {'errors':>7} {'vs single':>10} "
          f"{'peak MiB':>9} {'flow MiB':>9}  stages (s)")
    for r in results:
        rpm = r["reports"] / r["seconds"] * 60
        ratio = base["seconds"] / r["seconds"]
        stages = " ".join(f"{k}={v:.1f}" for k, v in sorted(r["stages"].items(), key=lambda kv: -kv[1]))
        print(f"{r['profile']:<11} {r['seconds']:>8.1f} {rpm:>12.1f} {r['items'] / r['seconds']:>8.1f} "
              f"{r['errors']:>7} {ratio:>9.2f}x {r['memory_total']:>9.0f} {r['memory_flow']:>9.0f}  {stages}")
    print(f"\nCPU seconds by process over each run (user + system; {os.cpu_count()} cores):")
    names = ["flow", "workers", "prefect server", "moto", "site", "rest"]
    print(f"{'profile':<11} " + " ".join(f"{n:>14}" for n in names) + f" {'machine busy':>13}")
    for r in results:
        print(f"{r['profile']:<11} " + " ".join(f"{r['cpu'].get(n, 0.0):>14.1f}" for n in names)
              + f" {r['busy']:>12.0%}")
    print("workers: crawl workers and Dask workers (with the crawls they started); rest: the machine's other "
          "processes, PostgreSQL's backends (cluster profiles) among them.")
    print("peak MiB: resident memory of the flow's process and the processes it started (crawl workers, Dask "
          "workers), summed at its highest; flow MiB: the flow's process alone. The site, moto and the Prefect "
          "server are not counted.")
    for r in results:
        assert r["items"] == args.reports * args.images, f"{r['profile']}: {r['items']} items collected"


if __name__ == "__main__":
    main()
