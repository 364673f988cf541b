"""Review clustering at scale: 200,000 queued items placed through the indexes.

    .venv/bin/python bench/bench_clustering.py [--items 200000] [--copies 16] [--batch 10000] [--brute 320]
    .venv/bin/python bench/bench_clustering.py --scale 10000,50000,200000 --baseline-ref main [--pdq-only]

What is measured: ``classification.clusters.plan_clusters`` (the pure clustering step of
``cluster_queue``, without the catalog's reads and writes) over SYNTHETIC records, not decoded
pictures: ``--items / --copies`` originals, each a random PDQ with its seven variants and 160
random ORB-like keypoints (positions in a 320 x 240 grey copy, 32-byte descriptors); each
copy keeps 70% of its original's keypoints (descriptors with a few bits flipped, positions
under a small rotation, scale and shift) plus 30% new ones, and either a PDQ near the
original's (half of them: 0-24 bits flipped, or one of its variants, as a turned copy) or an
unrelated PDQ (the other half: crops and captions PDQ does not find, left to the second
stage, which verifies them with the real RANSAC check). Items arrive shuffled, in batches of
``--batch`` as ``cluster_queue`` takes them; each batch sees the faces (up to 8 members per
open cluster) of the clusters the earlier batches made, as it would read them from the catalog.

Printed: each batch's wall and CPU time as it ends (the cost per item must stay flat as the
open clusters grow), then items per second (wall and CPU), the mean time of the first two and
the last two batches, clusters made against the ideal (one per original), mixed clusters (any
that joined copies of two originals: there must be none), and the process's peak resident
memory (the synthetic records alone take about 6 KB an item). Two baselines in the same run:
the same clustering without indexes, every item compared with every face (``--brute`` items,
small enough to afford), and the PDQ stage alone (plain and dihedral PDQ through the
multi-index, no local features) over all the items (``--no-baseline`` skips it).

``--scale`` runs the clustering at each of its sizes in this tree and in a baseline tree
(``--baseline-ref``, a commit unpacked with git archive, or ``--baseline-tree``), each size
and tree a child process of its own (so each peak resident memory is that run's alone; the
synthetic records' share is printed beside it), under ``--timeout``: wall and CPU time, items
per second, the CPU time of each batch (flat if look-ups do not grow with the open clusters),
clusters and mixed clusters, and the second stage's cost (geometric verifications an item, the
most for one item, their CPU time an item). A tree with ``classification.clusters.Clustering``
keeps one for the run, as ``cluster_queue`` does; an older tree gets every open cluster's faces
again for each batch, as its ``cluster_queue`` did. ``--pdq-only`` measures the PDQ stage alone
(records without local features: cheaper, so it reaches 200,000 items on a loaded machine).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# a child run of --scale imports the clustering of the tree it is given (this one, or the baseline)
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]) if "--tree" in sys.argv else REPO
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(TREE))

from trees import compared_trees  # noqa: E402

from catalog.decisions.records import ClusterCandidate, LocalFeatures  # noqa: E402
from classification import clusters as clustering  # noqa: E402
from classification.cluster_index import PdqIndex, WordIndex  # noqa: E402
from classification.clusters import FACES_PER_CLUSTER, ClusteringConfig, pdq_matrix, plan_clusters  # noqa: E402
from hashing.local_features import verify  # noqa: E402

VARIANTS = ("rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")
NOW = datetime(2026, 12, 7)


def _masks(rows: int, width: int, bits: int, rng: np.random.Generator) -> np.ndarray:
    """``rows`` masks of ``width`` bytes with (up to) ``bits`` random bits set each."""
    mask = np.zeros((rows, width * 8), dtype=bool)
    mask[np.arange(rows)[:, None], rng.integers(0, width * 8, size=(rows, bits))] = True
    return np.packbits(mask, axis=1)


def _flip(raw: bytes, bits: int, rng: np.random.Generator) -> bytes:
    return (np.frombuffer(raw, dtype=np.uint8) ^ _masks(1, len(raw), bits, rng)[0]).tobytes()


def _records(items: int, copies: int, seed: int = 1,
             local: bool = True) -> tuple[list[ClusterCandidate], dict[str, LocalFeatures], dict[str, int]]:
    """The synthetic queue (``local``: with local features, else PDQs only)."""
    rng = np.random.default_rng(seed)
    candidates, features, truth = [], {}, {}
    for o in range(items // copies):
        pdq = rng.bytes(32)
        variants = [rng.bytes(32) for _ in VARIANTS]
        points = rng.uniform([8, 8], [312, 232], size=(160, 2))
        descriptors = rng.integers(0, 256, size=(160, 32), dtype=np.uint8)
        for c in range(copies):
            sha = f"{o:032x}{c:032x}"
            truth[sha] = o
            if c % 2 == 0:
                own = _flip(pdq, int(rng.integers(0, 25)), rng) if c % 4 == 0 else variants[c % 7]
            else:
                own = rng.bytes(32)  # PDQ does not find it
            if not local:
                candidates.append(ClusterCandidate(sha, "image", own.hex(), NOW, None, tuple(
                    (n, _flip(variants[i], 4, rng).hex() if c == 0 else rng.bytes(32).hex()) for i, n in enumerate(VARIANTS))))
                continue
            keep = rng.random(160) < 0.7
            angle, scale = rng.normal(0, 0.03), rng.uniform(0.9, 1.1)
            rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            moved = points[keep] @ rot.T + rng.normal(0, 0.5, size=(keep.sum(), 2)) + rng.uniform(-4, 4, 2)
            noisy = descriptors[keep] ^ _masks(int(keep.sum()), 32, 6, rng)
            extra = 160 - int(keep.sum())
            pts = np.vstack([moved, rng.uniform([8, 8], [312, 232], size=(extra, 2))]).astype(np.float16)
            desc = np.vstack([noisy, rng.integers(0, 256, size=(extra, 32), dtype=np.uint8)])
            features[sha] = LocalFeatures(sha, 320, 240, pts.tobytes(), desc.tobytes())
            candidates.append(ClusterCandidate(sha, "image", own.hex(), NOW, None,
                                               tuple((n, _flip(variants[i], 4, rng).hex() if c == 0 else rng.bytes(32).hex())
                                                     for i, n in enumerate(VARIANTS))))
    random.Random(seed).shuffle(candidates)
    return candidates, features, truth


def _run(candidates: list[ClusterCandidate], features: dict[str, LocalFeatures], truth: dict[str, int],
         config: ClusteringConfig, batch: int) -> dict[str, Any]:
    """Batches as ``cluster_queue`` places them: through one ``Clustering`` kept for the run
    where the tree has one, else (an older tree) through ``plan_clusters`` over every open
    cluster's faces, read again for each batch."""
    clusters: dict[int, list[str]] = {}  # cluster -> members, in the order they joined
    pdq_of = {c.sha256: c.signature for c in candidates}
    kept = getattr(clustering, "Clustering", None)
    run = kept([], [], config) if kept is not None else None
    wall, cpu = time.perf_counter(), time.process_time()
    batches = []  # (wall, CPU) of each batch
    for start in range(0, len(candidates), batch):
        at = time.perf_counter(), time.process_time()
        chunk = candidates[start:start + batch]
        mine = {c.sha256: features[c.sha256] for c in chunk} if config.verify else None
        if run is not None:
            plans = run.plan(chunk, mine)
        else:
            faces = [(cid, "image", pdq_of[m], m) for cid, members in clusters.items() for m in members[:FACES_PER_CLUSTER]]
            wanted = {c.sha256 for c in chunk} | {f[3] for f in faces}
            plans = plan_clusters(chunk, faces, [], config, {s: features[s] for s in wanted} if config.verify else None)
        made = {}
        for plan in plans:
            cid = plan.cluster_id if plan.cluster_id is not None else len(clusters) + 1
            clusters.setdefault(cid, []).extend(s for s, _ in plan.members)
            if plan.cluster_id is None and plan.representative:
                made[plan.representative] = cid
        if run is not None:
            run.settle(made)
        batches.append((time.perf_counter() - at[0], time.process_time() - at[1]))
        print(f"  batch {len(batches)}: {batches[-1][0]:.1f} s wall, {batches[-1][1]:.1f} s CPU; "
              f"{len(clusters)} clusters; peak RSS {_rss():.0f} MiB", flush=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    mixed = sum(1 for members in clusters.values() if len({truth[s] for s in members}) > 1)
    return {"clusters": len(clusters), "mixed": mixed, "wall": wall, "cpu": cpu, "batches": batches}


def _brute_force(candidates: list[ClusterCandidate], features: dict[str, LocalFeatures], truth: dict[str, int],
                 threshold: int = 31) -> dict[str, Any]:
    """The same leader clustering without indexes: each item is compared with every face
    (up to 8 members of each open cluster): PDQ and its variants with all of them, then
    geometric verification against all of them."""
    faces: list[str] = []
    cluster_of: dict[str, int] = {}
    members: dict[int, list[str]] = {}
    matrix = np.zeros((0, 4), dtype=np.uint64)
    wall, cpu = time.perf_counter(), time.process_time()
    for item in candidates:
        found: int | None = None
        queries = [item.signature, *(v for _, v in item.variants)]
        if len(faces):
            words = np.frombuffer(bytes.fromhex("".join(queries)), dtype=np.uint64).reshape(len(queries), 4)
            distances = np.bitwise_count(matrix[None, :, :] ^ words[:, None, :]).sum(axis=2)
            n, col = np.nonzero(distances <= threshold)
            if len(n):
                best = np.lexsort((col, n, distances[n, col]))[0]
                found = cluster_of[faces[int(col[best])]]
        if found is None:
            inliers = [(verify(features[item.sha256], features[f]) or 0, -k) for k, f in enumerate(faces)]
            top = max(inliers, default=(0, 0))
            found = cluster_of[faces[-top[1]]] if top[0] else None
        cid = found if found is not None else len(members) + 1
        members.setdefault(cid, []).append(item.sha256)
        if len(members[cid]) <= FACES_PER_CLUSTER:
            faces.append(item.sha256)
            cluster_of[item.sha256] = cid
            matrix = np.vstack([matrix, np.frombuffer(bytes.fromhex(item.signature), dtype=np.uint64)[None, :]])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    mixed = sum(1 for group in members.values() if len({truth[s] for s in group}) > 1)
    return {"clusters": len(members), "mixed": mixed, "wall": wall, "cpu": cpu}


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _index_growth(items: int, queries: int = 300, seed: int = 3) -> None:
    """The cost of one item's look-ups (PDQ with its seven variants, then descriptor keys) as
    the indexes fill up to ``items`` faces, beside a PDQ comparison with every face."""
    rng = np.random.default_rng(seed)
    pdq, words = PdqIndex(), WordIndex()
    table = np.zeros((items, 32), dtype=np.uint8)
    sample: list[tuple[int, bytes]] = []  # (row, descriptors) of faces the queries copy
    filled = 0
    for size in (s for s in (10_000, 25_000, 50_000, 100_000, 200_000, items) if s <= items):
        if size <= filled:
            continue
        for row in range(filled, size):
            table[row] = np.frombuffer(rng.bytes(32), dtype=np.uint8)
            descriptors = rng.bytes(160 * 32)
            pdq.add(row, table[row].tobytes().hex())
            words.add(row, descriptors)
            if rng.random() < 2 * queries / items:
                sample.append((row, descriptors))
        filled = size
        asked = [sample[int(i)] for i in rng.integers(0, len(sample), queries)]
        noisy = [(row, (np.frombuffer(d, dtype=np.uint8) ^ _masks(160, 32, 6, rng).ravel()).tobytes()) for row, d in asked]
        variants = [[_flip(table[row].tobytes(), 20, rng).hex(), *(rng.bytes(32).hex() for _ in VARIANTS)]
                    for row, _ in asked]
        cpu = time.process_time()
        found_pdq = sum(1 for (row, _), v in zip(asked, variants, strict=True) if (pdq.nearest(v, 31) or (None,))[0] == row)
        pdq_cpu = time.process_time() - cpu
        cpu = time.process_time()
        found_words = sum(1 for row, d in noisy if words.ranked(d, limit=16)[:1] == [row])
        words_cpu = time.process_time() - cpu
        cpu = time.process_time()
        for v in variants:
            rows = pdq_matrix(v)
            for query in rows:
                np.bitwise_count(table[:size].view(np.uint64) ^ query.view(np.uint64)).sum(axis=1)
        brute_cpu = time.process_time() - cpu
        print(f"  {size} faces: per item {1e3 * pdq_cpu / queries:.2f} ms CPU PDQ + variants, "
              f"{1e3 * words_cpu / queries:.2f} ms descriptor keys (found {found_pdq}/{queries}, "
              f"{found_words}/{queries}); PDQ against every face {1e3 * brute_cpu / queries:.2f} ms; "
              f"peak RSS {_rss():.0f} MiB", flush=True)


def _per_batch(r: dict[str, Any], which: slice) -> str:
    chosen = r["batches"][which]
    return (f"{sum(w for w, _ in chosen) / len(chosen):.1f} s wall, "
            f"{sum(c for _, c in chosen) / len(chosen):.1f} s CPU")


def _compare_brute_force(args: argparse.Namespace) -> None:
    small = _records(args.brute, args.copies, seed=2)
    brute = _brute_force(*small)
    indexed = _run(*small, ClusteringConfig(verify=verify), args.batch)
    print(f"{args.brute} items, against every face vs through the indexes: "
          f"wall {brute['wall']:.1f} s vs {indexed['wall']:.1f} s, CPU {brute['cpu']:.1f} s vs {indexed['cpu']:.1f} s "
          f"({brute['cpu'] / indexed['cpu']:.1f}x); clusters {brute['clusters']} vs {indexed['clusters']} "
          f"(ideal {args.brute // args.copies}); mixed {brute['mixed']} vs {indexed['mixed']}", flush=True)


class _Counted:
    """Geometric verification, counted: calls, CPU time, and the most calls for one item."""

    def __init__(self) -> None:
        self.calls, self.cpu, self.per_item = 0, 0.0, Counter[str]()

    def __call__(self, a: LocalFeatures, b: LocalFeatures) -> int | None:
        at = time.process_time()
        try:
            return verify(a, b)
        finally:
            self.cpu += time.process_time() - at
            self.calls += 1
            self.per_item[a.sha256] += 1


def _child(args: argparse.Namespace) -> None:
    """One size in one tree (a process of its own, so its peak memory is its own): prints a
    JSON line of its figures."""
    candidates, features, truth = _records(args.items, args.copies, local=not args.pdq_only)
    records_rss = _rss()
    counted = _Counted()
    r = _run(candidates, features, truth, ClusteringConfig(verify=None if args.pdq_only else counted), args.batch)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"items": len(candidates), "wall": r["wall"], "cpu": r["cpu"],
                      "cpu_total": usage.ru_utime + usage.ru_stime, "records_rss": records_rss, "peak_rss": _rss(),
                      "clusters": r["clusters"], "mixed": r["mixed"], "batches": r["batches"],
                      "verify_calls": counted.calls, "verify_cpu": counted.cpu,
                      "verify_most": max(counted.per_item.values(), default=0),
                      "verified_items": len(counted.per_item)}), flush=True)


def _scale(args: argparse.Namespace) -> None:
    """Two stages at each of --scale's sizes, this tree and the baseline alternately, each
    run a child process under --timeout; a table of the figures, then the ratios."""
    work = Path(tempfile.mkdtemp(prefix="bench-clustering-"))
    trees = compared_trees(work, args.baseline_ref, args.baseline_tree)
    sizes = [int(n) for n in args.scale.split(",")]
    print(("PDQ stage alone" if args.pdq_only else "two stages (PDQ, then local features)")
          + f"; {args.copies} copies an original, batches of {args.batch}", flush=True)
    rows: list[tuple[int, str, dict[str, Any] | None, str]] = []
    print(f"{'items':>7} {'tree':<16} {'wall s':>8} {'CPU s':>8} {'items/s':>8} {'peak RSS':>9} {'records':>8} "
          f"{'clusters':>8} {'mixed':>5}  second stage", flush=True)
    for items in sizes:
        for label, tree in trees:
            argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--tree", str(tree), "--items", str(items),
                    "--copies", str(args.copies), "--batch", str(args.batch), *(["--pdq-only"] if args.pdq_only else [])]
            note = ""
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=args.timeout, check=False)
                lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
                result = json.loads(lines[-1]) if lines else None
                batches = sum(1 for ln in done.stdout.splitlines() if ln.lstrip().startswith("batch "))
                if result is None:
                    note = f"failed after {batches} batches: {done.stderr.strip().splitlines()[-1:]}"
            except subprocess.TimeoutExpired as stopped:
                result = None
                out = stopped.stdout.decode() if isinstance(stopped.stdout, bytes) else (stopped.stdout or "")
                batches = sum(1 for ln in out.splitlines() if ln.lstrip().startswith("batch "))
                last = [ln.strip() for ln in out.splitlines() if ln.lstrip().startswith("batch ")][-1:]
                note = (f"did not finish in {args.timeout:.0f} s: {batches} of {-(-items // args.batch)} batches done"
                        f"{'; last ' + last[0] if last else ''}")
            rows.append((items, label, result, note))
            if result is None:
                print(f"{items:>7} {label:<16} {note}", flush=True)
                continue
            r = result
            print(f"{items:>7} {label:<16} {r['wall']:>8.1f} {r['cpu']:>8.1f} {items / r['wall']:>8.0f} "
                  f"{r['peak_rss']:>6.0f} MiB {r['records_rss']:>4.0f} MiB {r['clusters']:>8} {r['mixed']:>5}  "
                  f"{r['verify_calls'] / items:.2f} verifications an item ({r['verified_items']} items verified, "
                  f"at most {r['verify_most']} for one), {1e3 * r['verify_cpu'] / items:.2f} ms CPU an item", flush=True)
            cpu = [c for _, c in r["batches"]]
            print(f"{'':>7} {'':<16} CPU per batch of {args.batch}: first {cpu[0]:.1f} s, last {cpu[-1]:.1f} s "
                  f"({' '.join(f'{c:.1f}' for c in cpu)})", flush=True)
    if len(trees) < 2:
        return
    print("this tree vs baseline (wall, CPU, peak RSS):")
    for items in sizes:
        mine, base = (next(r for n, lab, r, _ in rows if n == items and lab == label) for label, _ in trees)
        if mine is None or base is None:
            print(f"  {items}: no ratio (a run did not finish)")
            continue
        print(f"  {items}: {base['wall'] / mine['wall']:.1f}x faster wall, {base['cpu'] / mine['cpu']:.1f}x less CPU, "
              f"peak RSS {mine['peak_rss'] / base['peak_rss']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--brute", type=int, default=320, help="items of the brute-force comparison (0: none)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the PDQ-only run")
    parser.add_argument("--index-only", action="store_true",
                        help="only the look-ups' cost as the indexes fill up to --items faces")
    parser.add_argument("--scale", help="sizes (e.g. 10000,50000,200000): two stages at each, in child processes")
    parser.add_argument("--baseline-ref", help="with --scale: a commit to compare with (git archive), e.g. main")
    parser.add_argument("--baseline-tree", type=Path, help="with --scale: a checkout to compare with")
    parser.add_argument("--timeout", type=float, default=3600, help="with --scale: seconds a child may run")
    parser.add_argument("--pdq-only", action="store_true",
                        help="with --scale: the PDQ stage alone (records without local features)")
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)
    if args.scale:
        return _scale(args)

    print("look-ups as the indexes fill (random faces, 160 descriptors each; CPU time):", flush=True)
    _index_growth(args.items)
    if args.index_only:
        return
    if args.brute:
        _compare_brute_force(args)

    started = time.perf_counter()
    candidates, features, truth = _records(args.items, args.copies)
    print(f"{len(candidates)} synthetic records ({args.items // args.copies} originals x {args.copies} copies) "
          f"made in {time.perf_counter() - started:.0f} s; peak RSS so far {_rss():.0f} MiB", flush=True)
    ideal = args.items // args.copies
    runs = []
    if not args.no_baseline:
        print("baseline: PDQ + dihedral PDQ only", flush=True)
        runs.append(("baseline: PDQ + dihedral PDQ only", _run(candidates, features, truth, ClusteringConfig(), args.batch),
                     _rss()))
    print("two stages: + local features", flush=True)
    full = _run(candidates, features, truth, ClusteringConfig(verify=verify), args.batch)
    runs.append(("two stages: + local features", full, _rss()))
    for name, r, rss in runs:
        print(f"{name}: {len(candidates) / r['wall']:.0f} items/s wall ({r['wall']:.0f} s, CPU {r['cpu']:.0f} s); "
              f"clusters {r['clusters']} vs ideal {ideal} ({r['clusters'] / ideal:.2f}x); mixed {r['mixed']}; "
              f"peak RSS {rss:.0f} MiB")
        print(f"  per batch of {args.batch}: first two {_per_batch(r, slice(0, 2))}; "
              f"last two {_per_batch(r, slice(-2, None))}")
    if args.no_baseline:
        return
    base = runs[0][1]
    print(f"two stages vs baseline: {full['wall'] / base['wall']:.1f}x the wall time, "
          f"{full['cpu'] / base['cpu']:.1f}x the CPU, {base['clusters'] / max(full['clusters'], 1):.1f}x fewer clusters")


if __name__ == "__main__":
    main()
