"""Benchmark: the PDQ index at 10 million hashes.

Builds hashing's multi-index (``MihIndex``) over N random PDQ hashes plus planted near
duplicates, saves it, reopens it memory-mapped (as a restarted process would), and sends
queries in batches as a crawl would. Reports build seconds, resident memory (peak while
building, and after reopening and querying), queries per second at distance 31 on one
core, and recall against brute force; then the same queries through FAISS
``IndexBinaryFlat`` (the baseline; radius 32 because FAISS's range is exclusive) in a
separate process, so neither's memory counts for the other.

    .venv/bin/python bench/bench_index.py                # 10,000,000 hashes
    .venv/bin/python bench/bench_index.py --n 1000000    # quicker

Needs faiss-cpu (pip install -e '.[bench]'). Single-threaded: OMP/BLAS threads are 1.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from hashing.signals.pdq.mih import MihIndex  # noqa: E402

RADIUS = 31


def data(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """N random hashes, the first ``queries`` of them with a planted near duplicate
    (0..40 bits away, so some fall outside the radius) used as the queries; a fifth of
    the queries are random (almost surely no match)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    planted = base[rng.choice(n, queries, replace=False)]
    bits = np.unpackbits(planted, axis=1)
    for row in bits:
        row[rng.choice(256, rng.integers(0, 41), replace=False)] ^= 1
    near = np.packbits(bits, axis=1)
    near[: queries // 5] = rng.integers(0, 256, (queries // 5, 32), dtype=np.uint8)
    return base, near


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_mih(args: argparse.Namespace) -> dict[str, object]:
    base, queries = data(args.n, args.queries, args.seed)
    before = rss_mb()
    start = time.perf_counter()
    index = MihIndex.build(base)
    build = time.perf_counter() - start
    build_peak = peak_mb()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        index.save(Path(folder) / "mih")
        saved = time.perf_counter() - start
        del index, base
        start = time.perf_counter()
        index = MihIndex.load(Path(folder) / "mih")
        reopened = time.perf_counter() - start
        results, seconds = search_batches(lambda q: index.search(q, RADIUS), queries, args.batch)
        serving_rss = rss_mb()
        hits = {(int(q), int(e), int(d)) for r, off in results for q, e, d in zip(r.query + off, r.entry, r.distance, strict=True)}
    return {
        "build_s": round(build, 2), "save_s": round(saved, 2), "reopen_s": round(reopened, 4),
        "rss_before_build_mb": round(before), "peak_rss_build_mb": round(build_peak),
        "rss_serving_after_reopen_mb": round(serving_rss),
        "qps": round(len(queries) / seconds, 1), "hits": sorted(hits),
    }  # fmt: skip


def search_batches(search, queries: np.ndarray, batch: int):  # noqa: ANN001, ANN201
    results = []
    start = time.perf_counter()
    for offset in range(0, len(queries), batch):
        results.append((search(queries[offset : offset + batch]), offset))
    return results, time.perf_counter() - start


def run_faiss(args: argparse.Namespace) -> dict[str, object]:
    import faiss

    faiss.omp_set_num_threads(1)
    base, queries = data(args.n, args.queries, args.seed)
    start = time.perf_counter()
    index = faiss.IndexBinaryFlat(256)
    index.add(base)
    build = time.perf_counter() - start
    start = time.perf_counter()
    hits = set()
    for offset in range(0, len(queries), args.batch):
        lims, distances, labels = index.range_search(queries[offset : offset + args.batch], RADIUS + 1)
        for q in range(len(lims) - 1):
            for k in range(lims[q], lims[q + 1]):
                hits.add((offset + q, int(labels[k]), int(distances[k])))
    seconds = time.perf_counter() - start
    return {"build_s": round(build, 2), "peak_rss_mb": round(peak_mb()),
            "qps": round(len(queries) / seconds, 1), "hits": sorted(hits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200, help="queries per call, as a crawl batch")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["both", "mih", "faiss"], default="both")
    args = parser.parse_args()
    if args.engine != "both":
        result = run_mih(args) if args.engine == "mih" else run_faiss(args)
        print(json.dumps(result))
        return
    common = [sys.executable, __file__, "--n", str(args.n), "--queries", str(args.queries),
              "--batch", str(args.batch), "--seed", str(args.seed), "--engine"]
    mih = json.loads(subprocess.run([*common, "mih"], capture_output=True, text=True, check=True).stdout)
    flat = json.loads(subprocess.run([*common, "faiss"], capture_output=True, text=True, check=True).stdout)
    truth = {tuple(h) for h in flat.pop("hits")}
    found = {tuple(h) for h in mih.pop("hits")}
    recall = len(found & truth) / max(1, len(truth))
    print(f"PDQ index benchmark: {args.n:,} random hashes, {args.queries:,} queries "
          f"({args.queries // 5:,} random, the rest planted 0-40 bits from an entry), "
          f"batches of {args.batch}, radius {RADIUS}, one core. Shared 2-core machine: "
          "other engineers' jobs run alongside, so figures vary by +-20%.")
    print(f"  hashing MihIndex   : build {mih['build_s']} s (+ save {mih['save_s']} s, reopen "
          f"{mih['reopen_s']} s), peak RSS while building {mih['peak_rss_build_mb']} MB, RSS serving "
          f"after reopen {mih['rss_serving_after_reopen_mb']} MB, {mih['qps']:,} queries/s")
    print(f"  FAISS IndexBinaryFlat (baseline): add {flat['build_s']} s, peak RSS {flat['peak_rss_mb']} MB, "
          f"{flat['qps']:,} queries/s")
    print(f"  speed-up vs FAISS flat: {mih['qps'] / flat['qps']:.1f}x")
    print(f"  hits within {RADIUS}: brute force {len(truth)}, MihIndex {len(found)}; recall "
          f"{100 * recall:.2f}%, extra {len(found - truth)}")
    if found != truth:
        raise SystemExit("MihIndex results differ from brute force")


if __name__ == "__main__":
    main()
