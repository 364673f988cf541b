"""Exposure benchmark: how many decisions an analyst faces for a site of re-hosted copies.

    .venv/bin/python bench/bench_exposure.py [--originals 40] [--pages 8] [--baseline-tree DIR] [--second-wave] [--explain]

A benign site on 127.0.0.1 re-hosts ``--originals`` pictures (``tests/rehost_edits.py``:
scikit-image sample photos, then synthetic ones) in each of the 16 edit kinds, shuffled over
``--pages`` pages. Half of the originals are in a hash-only known set (a CSV of the MD5 and
PDQ of the ORIGINAL files, imported as ``hotline known import`` does). Each page is filed as a
report and the real process-report flow (Prefect's engine, a Scrapy crawl per report,
hashing, matching, queueing and clustering) runs over all of them.

It prints, per tree: items crawled, items auto-classified, items queued, copies of known
originals queued, review clusters (the decisions needed) per 100 crawled items against the
ideal (one per distinct original in the queue, and one per unknown original), their ratio
(target <= 1.2) and the clusters that mix two originals (target 0). The source tree under
test is this checkout; ``--baseline-tree`` (a checkout of the base commit, e.g.
``git worktree add /tmp/base 0568f30``) is measured in the same run, each tree in a process
of its own with its own installation.

``--explain`` lists, per original and tree, the edit kinds in each of its review clusters
with how each copy joined (founded it, or the stage with its PDQ variant and distance or
its inlier count), the copies decided automatically and by what, and for a known-set
original each queued copy's PDQ distance to the original's PDQ and its PDQ quality: which
edits split from their original, and which copies of a known original the set missed.

``--second-wave``: after the flow, an analyst decides the whole queue (each cluster graded as
its representative's original is: a third baseline, a third drawn adults, a third a
pubescent real person's genital focus); then a second site re-hosts fresh copies of every
original in every edit kind (each re-encoded once more, so no file repeats), filed as
reports and run through the flow again. It prints, for that second site, what the known set
decided, what took a decision of ours (and how many of those are wrong: a verdict other
than the one the original's grading gives), what was left for review as ambiguous, and the
decisions left for an analyst (clusters, how many of them pre-decided).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _site(originals: int, pages: int, wave: int = 1
          ) -> tuple[dict[str, Any], dict[str, tuple[str, str]], list[tuple[str, bytes]]]:
    """Routes, which original and edit each image URL shows, and the original files; the
    second wave's under ``/w2/``, each copy re-encoded once more."""
    from PIL import Image  # noqa: F401  (the edits need Pillow)
    from rehost_edits import EDITS
    from rehost_edits import originals as make_originals

    files: list[tuple[str, bytes]] = []
    images: list[tuple[str, bytes, str, str, str]] = []  # path, bytes, type, original, edit
    for n, (name, picture) in enumerate(make_originals(originals)):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=95)
        files.append((name, buffer.getvalue()))
        for edit in EDITS:
            data, mime = edit.apply(picture)
            if wave > 1:  # a fresh copy: the edited file saved once more by the next re-hoster
                data, mime = _reencoded(data), "image/jpeg"
            images.append((f"{_prefix(wave)}/img/{n}-{edit.name}.{mime.split('/')[1]}", data, mime, name, edit.name))
    random.Random(7 * wave).shuffle(images)
    routes: dict[str, Any] = {}
    truth: dict[str, tuple[str, str]] = {}
    for p in range(pages):
        mine = images[p::pages]
        routes[f"{_prefix(wave)}/page{p}"] = "".join(f"<img src='{path}'>" for path, *_ in mine).encode()
        for path, data, mime, original, edit in mine:
            routes[path] = (data, mime)
            truth[path] = (original, edit)
    return routes, truth, files


def _prefix(wave: int) -> str:
    return "" if wave == 1 else f"/w{wave}"


def _reencoded(data: bytes) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, "JPEG", quality=87)
    return buffer.getvalue()


GRADINGS: tuple[dict[str, Any], ...] = (
    {"age_group": "prepubescent", "depiction": "real", "sexual_activity": True},
    {"age_group": "adult", "depiction": "drawn"},
    {"age_group": "pubescent", "depiction": "real", "genital_focus": True},
)
"""How the analyst grades original number n: ``GRADINGS[n % 3]``."""


def _known_csv(files: list[tuple[str, bytes]], folder: Path) -> tuple[Path, set[str]]:
    """Half of the originals (every other one), by MD5 and PDQ of the original file."""
    import hashlib

    from hashing import hash_image

    path = folder / "known.csv"
    known = set()
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["md5", "pdq"])
        for n, (name, data) in enumerate(files):
            if n % 2 == 0:
                writer.writerow([hashlib.md5(data).hexdigest(), hash_image(data).pdq])
                known.add(name)
    return path, known


def child(args: argparse.Namespace) -> None:
    """One tree: a fresh installation, the known set, the reports, one flow run; prints JSON."""
    import sqlalchemy as sa

    from catalog.decisions.records import Verdict
    from catalog.schema import audit_log, clusters, verdicts
    from flows.process_report import process_report
    from hotline.installation import Installation
    from hotline.settings import Settings

    os.environ.update(HOTLINE_DATA_DIR=args.work, HOTLINE_CRAWL_ALLOW=args.host)
    inst = Installation.init(Settings())
    inst.import_known_set(Path(args.known), "known-originals", Verdict.BASELINE)
    for p in range(args.pages):
        inst.catalog.add_report(f"http://{args.host}/page{p}", actor="bench")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):  # a temporary Prefect server of its own
        started, cpu = time.perf_counter(), time.process_time()
        process_report(limit=args.pages)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        first = _snapshot(inst)
        second: dict[str, Any] = {}
        if args.second_wave:
            truth = json.loads(Path(args.second_wave).read_text())
            second["analyst_decisions"] = _decide_queue(inst, truth)
            for p in range(args.pages):
                inst.catalog.add_report(f"http://{args.host}/w2/page{p}", actor="bench")
            started2, cpu2 = time.perf_counter(), time.process_time()
            process_report(limit=args.pages)
            second.update(seconds=time.perf_counter() - started2, cpu=time.process_time() - cpu2)
    if args.second_wave:
        second["after"] = _snapshot(inst)
        with inst.catalog.read() as conn:
            second["novel"] = dict(conn.execute(sa.select(clusters.c.id, clusters.c.novel)).all())
            second["verdicts"] = {sha: [verdict, source] for sha, verdict, source in conn.execute(
                sa.select(verdicts.c.sha256, verdicts.c.verdict, verdicts.c.source).order_by(verdicts.c.id))}
            second["ambiguous"] = list(conn.scalars(sa.select(audit_log.c.subject).where(
                audit_log.c.action == "verdict.ambiguous")))
    if args.explain:
        first["explain"] = _explain_rows(inst)
    print(json.dumps({**first, "seconds": elapsed, "cpu": cpu, "second": second}))


def _explain_rows(inst: Any) -> dict[str, Any]:
    """Why each item went where it did: its PDQ and quality, the evidence it joined its
    cluster by, each cluster's representative, the source of an automatic verdict."""
    import sqlalchemy as sa

    from catalog.schema import cluster_members, clusters, hashes, verdicts

    with inst.catalog.read() as conn:
        pdq = {sha: [value, quality] for sha, value, quality in conn.execute(
            sa.select(hashes.c.sha256, hashes.c.value, hashes.c.quality).where(hashes.c.algorithm == "pdq"))}
        evidence = dict(conn.execute(sa.select(cluster_members.c.sha256, cluster_members.c.evidence)).all())
        representative = {str(cid): rep for cid, rep in conn.execute(
            sa.select(clusters.c.id, clusters.c.representative))}
        source = {sha: src for sha, src in conn.execute(
            sa.select(verdicts.c.sha256, verdicts.c.source).order_by(verdicts.c.id))}
    return {"pdq": pdq, "evidence": evidence, "representative": representative, "source": source}


def _snapshot(inst: Any) -> dict[str, Any]:
    """Each item's status, URLs and cluster, and the clusters still open."""
    import sqlalchemy as sa

    from catalog.schema import cluster_members, clusters, media, sightings

    with inst.catalog.read() as conn:
        status = dict(conn.execute(sa.select(media.c.sha256, media.c.status)).all())
        urls = conn.execute(sa.select(sightings.c.sha256, sightings.c.media_url)).all()
        member = dict(conn.execute(sa.select(cluster_members.c.sha256, cluster_members.c.cluster_id)).all())
        open_ids = set(conn.scalars(sa.select(clusters.c.id).where(clusters.c.status == "open", clusters.c.waiting > 0)))
    return {"status": status, "urls": [list(u) for u in urls], "member": member, "open": sorted(open_ids)}


def _decide_queue(inst: Any, truth: dict[str, list[Any]]) -> int:
    """An analyst decides every cluster of the queue, graded as its representative's
    original is (``GRADINGS``); returns the clusters decided."""
    import sqlalchemy as sa

    from catalog.schema import sightings
    from classification import claim_next, decide_cluster, grading
    from hotline.installation import review_config
    from hotline.passwords import hash_password

    catalog = inst.catalog
    catalog.add_user("bench-admin", "admin", hash_password("bench password 1"), actor="system")
    catalog.add_user("bench-analyst", "analyst", hash_password("bench password 1"), actor="bench-admin")
    config = review_config(inst.settings, inst.evidence.get)
    with catalog.read() as conn:
        path_of = {sha: "/" + url.split("/", 3)[3] for sha, url in conn.execute(
            sa.select(sightings.c.sha256, sightings.c.media_url))}
    decided = 0
    while (cluster_id := claim_next(catalog, config, "bench-analyst")) is not None:
        shown = catalog.cluster(cluster_id).representative
        number = truth[path_of[shown]][2]
        decide_cluster(catalog, config, cluster_id, "bench-analyst", grading(**GRADINGS[number % 3]))
        decided += 1
    return decided


def _measure(tree: Path, host: str, known: Path, pages: int, work: Path, second_wave: Path | None = None,
             explain: bool = False) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{tree / 'tests'}", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PREFECT_LOGGING_LEVEL="WARNING")
    env.pop("PREFECT_API_URL", None)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--host", host, "--known", str(known),
                          "--pages", str(pages), "--work", str(work),
                          *(["--second-wave", str(second_wave)] if second_wave else []),
                          *(["--explain"] if explain else [])], cwd=tree, env=env,
                         capture_output=True,
                         text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise SystemExit(f"the run in {tree} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _figures(raw: dict[str, Any], truth: dict[str, tuple[str, str]], known: set[str]) -> dict[str, Any]:
    original_of: dict[str, str] = {}
    for sha, url in raw["urls"]:
        path = "/" + url.split("/", 3)[3]
        if path in truth:
            original_of[sha] = truth[path][0]
    status = raw["status"]
    queued = [s for s, st in status.items() if st == "queued" and s in original_of]
    open_ids = set(raw["open"])
    by_cluster: dict[int, set[str]] = defaultdict(set)
    for sha in queued:
        cid = raw["member"].get(sha)
        if cid in open_ids:
            by_cluster[cid].add(original_of[sha])
    unclustered = [s for s in queued if raw["member"].get(s) not in open_ids]
    decisions = len(by_cluster) + len(unclustered)
    in_queue = {original_of[s] for s in queued}
    per_original = Counter(o for origs in by_cluster.values() for o in origs)
    crawled = len(original_of)
    return {
        "crawled": crawled, "auto": sum(1 for s in original_of if status.get(s) in ("known", "classified")),
        "queued": len(queued), "known_copies_queued": sum(1 for s in queued if original_of[s] in known),
        "decisions": decisions, "ideal": len(in_queue), "ideal_unknown": len(in_queue - known),
        "mixed": sum(1 for origs in by_cluster.values() if len(origs) > 1),
        "median_clusters_per_original": sorted(per_original.values())[len(per_original) // 2] if per_original else 0,
        "seconds": raw["seconds"], "cpu": raw["cpu"],
    }


def _second_figures(raw: dict[str, Any], truth: dict[str, list[Any]], known: set[str]) -> dict[str, Any]:
    """What became of the second site's items: decided by the known set, by a decision of
    ours (and wrongly so), left for review."""
    from classification import decide, grading
    from hotline.installation import review_config
    from hotline.settings import Settings

    profiles = review_config(Settings(country="XX")).profiles
    right = {n: decide("-", grading(**g), profiles).verdict.value for n, g in enumerate(GRADINGS)}
    second = raw["second"]
    after = second["after"]
    original_of: dict[str, list[Any]] = {}
    for sha, url in after["urls"]:
        path = "/" + url.split("/", 3)[3]
        if path.startswith("/w2/") and path in truth:
            original_of[sha] = truth[path]
    status, verdicts = after["status"], second["verdicts"]
    own = [s for s in original_of if verdicts.get(s, [None, None])[1] == "own-match"]
    wrong = [s for s in own if verdicts[s][0] != right[original_of[s][2] % 3]]
    queued = [s for s in original_of if status.get(s) == "queued"]
    open_ids = set(after["open"])
    clusters = {after["member"].get(s) for s in queued} & open_ids
    return {
        "crawled": len(original_of),
        "known": sum(1 for s in original_of if verdicts.get(s, [None, None])[1] == "known-set"),
        "own": len(own), "wrong": len(wrong), "wrong_items": wrong[:5],
        "own_of_unknown": sum(1 for s in own if original_of[s][0] not in known),
        "ambiguous": len(set(second["ambiguous"]) & set(original_of)),
        "queued": len(queued), "decisions": len(clusters) + sum(1 for s in queued if after["member"].get(s) not in open_ids),
        "pre_decided": sum(1 for c in clusters if not second["novel"].get(str(c), True)),
        "queued_edits": dict(Counter(original_of[s][1] for s in queued).most_common()),
        "first_wave_decisions": second["analyst_decisions"], "seconds": second["seconds"], "cpu": second["cpu"],
    }


def _show_explain(raw: dict[str, Any], truth: dict[str, tuple[str, str]], known: set[str],
                  files: list[tuple[str, bytes]]) -> None:
    """Per original: the edit kinds in each of its review clusters (with how each joined),
    those decided automatically, and, for a known-set original, how far (PDQ) each queued
    copy is from the original's PDQ."""
    from hashing import hash_image

    why = raw["explain"]
    edits_of: dict[str, list[tuple[str, str]]] = defaultdict(list)  # original -> (sha, edit)
    for sha, url in raw["urls"]:
        path = "/" + url.split("/", 3)[3]
        if path in truth:
            edits_of[truth[path][0]].append((sha, truth[path][1]))
    open_ids = set(raw["open"])
    for name, data in files:
        hashed = hash_image(data)
        rows = sorted(edits_of[name], key=lambda row: row[1])
        auto = [f"{edit}({why['source'].get(sha, '?')})" for sha, edit in rows
                if raw["status"].get(sha) in ("known", "classified")]
        by_cluster: dict[int, list[str]] = defaultdict(list)
        for sha, edit in rows:
            cluster = raw["member"].get(sha)
            if raw["status"].get(sha) != "queued":
                continue
            if cluster not in open_ids:
                by_cluster[-1].append(f"{edit}[no cluster]")
                continue
            ev = why["evidence"].get(sha) or {}
            pdq, quality = why["pdq"].get(sha, [None, None])
            far = "" if pdq is None else f" d{_pdq_distance(pdq, hashed.pdq)} q{quality}"
            how = ("rep" if why["representative"].get(str(cluster)) == sha
                   else f"{ev.get('stage')}:{ev.get('variant', '')}{ev.get('distance', '')}{ev.get('inliers', '')}")
            by_cluster[cluster].append(f"{edit}<{how}{far if name in known else ''}>")
        print(f"  {name} ({'known' if name in known else 'unknown'}, PDQ quality {hashed.pdq_quality}): "
              f"{len([c for c in by_cluster if c != -1])} clusters; auto {', '.join(auto) or '-'}")
        for cluster, members in sorted(by_cluster.items()):
            print(f"    cluster {cluster}: {' '.join(members)}")


def _pdq_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _show_second(name: str, f: dict[str, Any]) -> None:
    print(f"{name}, second site: {f['crawled']} fresh copies; known set decided {f['known']}, took a decision "
          f"of ours {f['own']} ({f['own_of_unknown']} of originals the known set lacks; wrong {f['wrong']}), "
          f"ambiguous {f['ambiguous']}; queued {f['queued']} in {f['decisions']} decisions "
          f"({f['pre_decided']} pre-decided); first site's queue took {f['first_wave_decisions']} analyst "
          f"decisions; flow {f['seconds']:.0f} s wall, {f['cpu']:.0f} s CPU (flow process)")
    print(f"  queued by edit: {f['queued_edits']}")


def _show(name: str, f: dict[str, Any]) -> None:
    per100 = 100 / max(f["crawled"], 1)
    print(f"{name}: crawled {f['crawled']}, auto-classified {f['auto']}, queued {f['queued']} "
          f"(copies of known originals {f['known_copies_queued']}); decisions {f['decisions']} "
          f"= {f['decisions'] * per100:.1f} per 100 crawled, ideal {f['ideal']} distinct originals queued "
          f"({f['ideal'] * per100:.1f} per 100; unknown originals {f['ideal_unknown']}); "
          f"ratio {f['decisions'] / max(f['ideal'], 1):.2f}x (target <= 1.2); mixed clusters {f['mixed']} (target 0); "
          f"median clusters per original {f['median_clusters_per_original']}; flow {f['seconds']:.0f} s wall, "
          f"{f['cpu']:.0f} s CPU (flow process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--originals", type=int, default=40)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--baseline-tree", type=Path)
    parser.add_argument("--second-wave", nargs="?", const="yes", default=None,
                        help="decide the queue, then crawl a second site of fresh copies (see above)")
    parser.add_argument("--explain", action="store_true",
                        help="per original: its clusters' edit kinds and how each copy joined, its automatic decisions")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--host")
    parser.add_argument("--known")
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO))
    from hotline.demo.local_site import serve_site

    routes, truth, files = _site(args.originals, args.pages)
    numbers = {name: n for n, (name, _) in enumerate(files)}
    if args.second_wave:
        more, truth2, _ = _site(args.originals, args.pages, wave=2)
        routes |= more
    trees = [("this tree", REPO)] + ([("baseline", args.baseline_tree.resolve())] if args.baseline_tree else [])
    with tempfile.TemporaryDirectory() as folder, serve_site(routes) as site:
        known_path, known = _known_csv(files, Path(folder))
        print(f"site: {args.originals} originals x 16 edits = {len(truth)} images on {args.pages} pages; "
              f"{len(known)} originals in the known set (MD5 + PDQ of the original files)")
        waves = None
        if args.second_wave:
            both = {path: [o, e, numbers[o]] for path, (o, e) in (truth | truth2).items()}
            waves = Path(folder) / "truth.json"
            waves.write_text(json.dumps(both))
        results, seconds = {}, {}
        for name, tree in trees:
            raw = _measure(tree, site.host_port, known_path, args.pages, Path(folder) / name.replace(" ", "-"), waves,
                           args.explain)
            results[name] = _figures(raw, truth, known)
            _show(name, results[name])
            if args.explain:
                _show_explain(raw, truth, known, files)
            if waves is not None:
                seconds[name] = _second_figures(raw, both, known)
                _show_second(name, seconds[name])
        if "baseline" in seconds:
            mine, base = seconds["this tree"], seconds["baseline"]
            print(f"second site: {mine['queued']} items queued in {mine['decisions']} decisions vs {base['queued']} in "
                  f"{base['decisions']} on the baseline; wrong automatic verdicts {mine['wrong']} vs {base['wrong']}")
        if "baseline" in results:
            mine, base = results["this tree"], results["baseline"]
            print(f"decisions: {mine['decisions']} vs {base['decisions']} on the baseline "
                  f"({base['decisions'] / max(mine['decisions'], 1):.1f}x fewer)")


if __name__ == "__main__":
    main()
