"""Benchmark of the review queue: 10,000 queued items in 1,000 clusters of 10.

Figures (server time from the app's Server-Timing header, p50/p95 over many requests, the
app in its own process as `hotline serve` runs it):

1. queue page (GET /queue: 50 clusters by priority with blurred previews, audited)
   baseline: the skeleton's flat queue listing, ``catalog.queue(limit=10_000)``
2. thumbnail once generated (GET /media/<id>/thumb, served from the in-memory cache)
   baseline: the same thumbnail generated cold (decrypt, decode, greyscale, blur)
3. a verdict for a cluster of 10 (``decide_cluster``: 10 gradings, 10 x jurisdiction
   verdicts, 10 verdicts, audit, lease end, in one transaction); also POST /cluster/<id>/decide
   baseline: 10 x the skeleton's ``record_verdict`` (one transaction each, no grading)

Targets: queue page p95 <= 100 ms, thumbnail p95 <= 50 ms, cluster verdict <= 100 ms.
Run: .venv/bin/python bench/bench_review.py [--clusters 1000 --size 10]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from catalog.decisions.records import Verdict
from classification import claim_next, decide_cluster, grading
from hotline.demo.local_site import unused_port
from hotline.installation import Installation, review_config
from hotline.passwords import hash_password
from hotline.settings import Settings
from review.sample_queue import seed_queue
from review.thumbnails import render

PASSWORD = "bench password 1"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def line(name: str, values: list[float], target: float | None = None, baseline: float | None = None) -> str:
    p50, p95 = pct(values, 0.5), pct(values, 0.95)
    text = f"{name:<44} n={len(values):<4} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms"
    if target is not None:
        text += f"  target p95 <= {target:g} ms: {'met' if p95 <= target else 'MISSED'}"
    if baseline is not None:
        text += f"  | baseline p50 {baseline:7.2f} ms, ratio {baseline / p50:5.1f}x"
    return text


def server_ms(response: httpx.Response) -> float:
    match = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
    assert match, response.headers
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reuse", type=Path, help="a data directory seeded by an earlier run (for quick iterations)")
    args = parser.parse_args()
    data_dir = args.reuse or Path(tempfile.mkdtemp(prefix="bench-review-")) / "data"
    os.environ["HOTLINE_DATA_DIR"] = str(data_dir)
    inst = Installation.init(Settings(data_dir=data_dir))
    catalog = inst.catalog
    print(f"machine: {os.cpu_count()} cores, shared with other engineers' work while this ran")

    started = time.perf_counter()
    if args.reuse:
        groups = [[c.representative] for c in catalog.queue_clusters(limit=args.requests)]
    else:
        groups = seed_queue(inst, [args.size] * args.clusters, exact_hashes=False, size=(320, 240), known=20)
        catalog.add_user("root", "admin", hash_password(PASSWORD), actor="system")  # the first admin adds ann
        catalog.add_user("ann", "analyst", hash_password(PASSWORD), actor="root")
    counts = catalog.queue_counts()
    print(f"{'reused' if args.reuse else 'seeded'} {counts['queued']} queued items in {counts['clusters']} clusters "
          f"({time.perf_counter() - started:.1f} s, synthetic benign pictures, encrypted evidence)")

    # baselines measured in this process, on the same catalog
    flat = []
    for _ in range(20):
        t = time.perf_counter()
        catalog.queue(limit=10_000)
        flat.append((time.perf_counter() - t) * 1000)
    cold = []
    for group in groups[:50]:
        t = time.perf_counter()
        render(inst.evidence.get(group[0]), "image", clear=False, blur=18)
        cold.append((time.perf_counter() - t) * 1000)

    port = unused_port()
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "PREFECT_LOGGING_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "hotline.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True, timeout=60)
        deadline = time.monotonic() + 120
        while True:
            try:
                form = client.get("/login")
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read() if server.stderr else ''}") from None
                time.sleep(0.2)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        page = client.post("/login", data={"name": "ann", "password": PASSWORD, "csrf": token})
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

        queue_ms = []
        for _ in range(args.requests):
            response = client.get("/queue")
            assert response.status_code == 200 and response.text.count('class="cluster-row"') == 50
            queue_ms.append(server_ms(response))

        shown = [g[0] for g in groups[: args.requests]]
        generate_ms = [server_ms(client.get(f"/media/{sha}/thumb")) for sha in shown]
        thumb_ms = [server_ms(client.get(f"/media/{sha}/thumb")) for sha in shown]

        config = review_config(inst.settings)
        baseline_grading = grading(age_group="prepubescent", depiction="real", sexual_activity=True)
        decide_ms = []
        for _ in range(50):
            cluster_id = claim_next(catalog, config, "ann")
            assert cluster_id is not None
            t = time.perf_counter()
            ids = decide_cluster(catalog, config, cluster_id, "ann", baseline_grading)
            decide_ms.append((time.perf_counter() - t) * 1000)
            assert len(ids) == args.size or args.reuse
        post_ms = []
        for _ in range(20):
            cluster_id = claim_next(catalog, config, "ann")
            response = client.post(f"/cluster/{cluster_id}/decide", follow_redirects=False,
                                   data={"csrf": csrf, "age_group": "adult", "depiction": "real", "severity": "0"})
            assert response.status_code == 303, response.text[:500]
            post_ms.append(server_ms(response))
        skeleton_ms = []
        for _ in range(20):
            cluster_id = claim_next(catalog, config, "ann")
            members = [m.sha256 for m in catalog.cluster_members(cluster_id)]
            t = time.perf_counter()
            for sha in members:
                catalog.record_verdict(sha, Verdict.NOT_ILLEGAL, actor="ann")
            skeleton_ms.append((time.perf_counter() - t) * 1000)
            catalog.refresh_open_clusters()
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(line("queue page GET /queue (server)", queue_ms, 100, statistics.median(flat)))
    print(f"{'':<44} baseline: catalog.queue(limit=10_000), the flat list of every waiting item")
    print(line("thumbnail, first request (generated)", generate_ms))
    print(line("thumbnail once generated (server)", thumb_ms, 50, statistics.median(cold)))
    print(f"{'':<44} baseline: the thumbnail generated cold in this process")
    print(line(f"verdict for a cluster of {args.size} (decide_cluster)", decide_ms, 100, statistics.median(skeleton_ms)))
    print(f"{'':<44} baseline: {args.size} x record_verdict, one transaction each, no grading")
    print(line("POST /cluster/<id>/decide incl. next claim", post_ms, 100))


if __name__ == "__main__":
    main()
