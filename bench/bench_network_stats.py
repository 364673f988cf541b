"""Benchmark: the network's statistics with three installations on one machine (two hotlines
and a coordinator, each its own data directory).

    .venv/bin/python bench/bench_network_stats.py [--items 240000] [--reports 24000] [--urls] [--dir DIR]

Each hotline gets a synthetic year (``bench_stats.generate``; ``--items`` and ``--reports`` a
year, so the defaults are 20,000 items and 2,000 reports a month), publishes every month as a
statistics bundle, and the coordinator imports them and builds the network snapshot. Printed:
the size of a month's bundle and the time to publish it, against the hotline's own snapshot
(the baseline, built in the same process); the import and the network snapshot's build; and
the checks the closing note quotes: the network's figures equal the sum of the hotlines' own
snapshots, a repeated bundle changes nothing, a corrected one replaces its month.

With ``--urls`` both hotlines publish their URL rows (``HOTLINE_STATS_PUBLISH_URLS``): the
months' statistics are also cut without them in the same process (the baseline of what the
URL rows cost), and the network counts each content URL once (the sum check leaves out the
counts per URL and prints them beside the hotlines' own).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stats import generate  # noqa: E402

from exports.errors import BundleReplayed  # noqa: E402
from hotline.installation import Installation  # noqa: E402
from hotline.services.network_stats import (  # noqa: E402
    add_publisher,
    import_statistics_file,
    poll_statistics,
    publish_statistics,
)
from hotline.settings import Settings  # noqa: E402
from stats import SnapshotOptions, write_snapshot  # noqa: E402
from stats.network import open_network  # noqa: E402
from stats.publication import month_statistics  # noqa: E402
from stats.snapshot_versions import DATABASE  # noqa: E402


def _overview(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, object]:
    rel = con.sql(sql)
    return dict(zip(rel.columns, rel.fetchall()[0], strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=240_000, help="items a year, per hotline")
    parser.add_argument("--reports", type=int, default=24_000, help="reports a year, per hotline")
    parser.add_argument("--urls", action="store_true", help="the hotlines publish their URL rows")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed at the end)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-network-"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared: figures vary)")
    coord = Installation.init(Settings(data_dir=work / "coordinator", country="LU"))
    inbox = coord.settings.network_folder / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    hotlines: dict[str, Installation] = {}
    for k, (name, country) in enumerate((("nl-hotline", "NL"), ("be-hotline", "BE"))):
        inst = Installation.init(Settings(data_dir=work / name, country=country, stats_coordinator=str(inbox),
                                          stats_coordinator_key=coord.keys.public_files()["inbox"],
                                          stats_publish_urls=args.urls))
        started = time.perf_counter()
        generate(work / name / "catalog.db", args.items + 37_000 * k, args.reports + 3_700 * k, seed=7 + k)
        print(f"{name}: a synthetic year generated in {time.perf_counter() - started:.1f} s")
        add_publisher(coord, name, [inst.keys.public_files()["signing"]], actor="bench")
        hotlines[name] = inst

    own: dict[str, duckdb.DuckDBPyConnection] = {}
    for name, inst in hotlines.items():
        wall, cpu = time.perf_counter(), time.process_time()
        info = write_snapshot(inst.catalog, inst.settings.snapshot_dir, SnapshotOptions(country=inst.settings.country))
        base_wall, base_cpu = time.perf_counter() - wall, time.process_time() - cpu
        own[name] = duckdb.connect(str(info.path / DATABASE), read_only=True)
        wall, cpu = time.perf_counter(), time.process_time()
        sent = publish_statistics(inst, actor="bench")
        pub_wall, pub_cpu = time.perf_counter() - wall, time.process_time() - cpu
        sizes = sorted(p.size for p in sent)
        wall = time.perf_counter()
        one = publish_statistics(inst, last=1, actor="bench")[0]
        month_wall = time.perf_counter() - wall
        print(f"\n{name}: baseline, its own snapshot: {base_wall:.1f} s wall, {base_cpu:.1f} s CPU "
              f"({info.rows['reports']:,} reports, {info.rows['items']:,} items)")
        print(f"  publish every month ({len(sent)} bundles): {pub_wall:.1f} s wall, {pub_cpu:.1f} s CPU "
              f"= {pub_wall / base_wall:.2f}x the snapshot; bundle sizes {sizes[0] / 1e3:.0f}-{sizes[-1] / 1e3:.0f} kB "
              f"(median {sizes[len(sizes) // 2] / 1e3:.0f} kB), {sum(sizes) / 1e6:.1f} MB in all")
        print(f"  publish one month (the scheduled run's last month, {one.period}: "
              f"{one.rows['report_facts']:,} report rows, {one.rows['items']:,} items): {month_wall:.1f} s, "
              f"{one.size / 1e3:.0f} kB")
        if args.urls:
            cut = {}
            for policy in ("none", "full"):
                wall, cpu = time.perf_counter(), time.process_time()
                months = month_statistics(inst.catalog, SnapshotOptions(country=inst.settings.country, urls=policy))
                cut[policy] = (time.perf_counter() - wall, time.process_time() - cpu,
                               sum(len(b) for m in months for b in m.files.values()))
            (w0, c0, b0), (w1, c1, b1) = cut["none"], cut["full"]
            print(f"  every month cut without URL rows (baseline): {w0:.1f} s wall, {c0:.1f} s CPU, {b0 / 1e6:.1f} MB; "
                  f"with them: {w1:.1f} s wall, {c1:.1f} s CPU, {b1 / 1e6:.1f} MB "
                  f"= {w1 / w0:.2f}x wall, {c1 / c0:.2f}x CPU, {b1 / b0:.2f}x bytes")

    wall, cpu = time.perf_counter(), time.process_time()
    polled = poll_statistics(coord, actor="bench")
    imp_wall, imp_cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert polled.snapshot is not None and not polled.refused, polled.refused
    print(f"\ncoordinator: {len(polled.imported)} bundles imported and the network snapshot built in "
          f"{imp_wall:.1f} s wall, {imp_cpu:.1f} s CPU (of which the snapshot {polled.snapshot.seconds:.1f} s); "
          f"{sum(p.stat().st_size for p in polled.snapshot.path.rglob('*') if p.is_file()) / 1e6:.0f} MB on disk")

    net = open_network(coord.settings.network_folder / "snapshot")
    total = _overview(net, "SELECT * FROM network_overview WHERE jurisdiction = 'home'")
    mine = {n: _overview(c, f"SELECT * FROM overview WHERE jurisdiction = '{hotlines[n].settings.country}'")
            for n, c in own.items()}
    per_url = ("content_urls", "content_urls_illegal") if args.urls else ()
    counts = [c for c, v in total.items() if isinstance(v, int) and c not in ("hotlines", *per_url)]
    equal = all(total[c] == sum(m[c] for m in mine.values()) for c in counts)  # type: ignore[misc]
    print(f"network figures = sum of the hotlines' own snapshots ({len(counts)} counts, e.g. reports "
          f"{total['reports_received']:,} = " + " + ".join(f"{m['reports_received']:,}" for m in mine.values())
          + f", new items {total['items_new']:,}): {'YES' if equal else 'NO'}")
    if args.urls:
        urls = _overview(net, "SELECT * FROM network_urls WHERE jurisdiction = 'home'")
        print(f"content URLs, each once: {total['content_urls']:,} (the hotlines' own: "
              + " + ".join(f"{m['content_urls']:,}" for m in mine.values())
              + f"; seen by both {urls['content_urls_seen_by_several']:,}), {urls['hosts']:,} hosts, "
              f"{urls['urls_exchanged']:,} URLs exchanged")
        equal = equal and total["content_urls"] == urls["content_urls"]
    before = net.sql("SELECT * FROM network_overview ORDER BY jurisdiction").fetchall()
    version = net.sql("SELECT version FROM snapshot").fetchall()[0][0]
    kept_before = net.sql("SELECT count(*) FROM periods").fetchall()[0][0]
    net.close()

    again = sorted(inbox.glob("*.hlb"))[0]
    try:
        import_statistics_file(coord, again, actor="bench")
        replay = "IMPORTED (wrong)"
    except BundleReplayed as exc:
        replay = f"refused ({type(exc).__name__})"
    shutil.copy(again, inbox / "hotline-copy.hlb")
    repeated = poll_statistics(coord, actor="bench")
    net = open_network(coord.settings.network_folder / "snapshot")
    same = net.sql("SELECT * FROM network_overview ORDER BY jurisdiction").fetchall() == before and \
        net.sql("SELECT version FROM snapshot").fetchall()[0][0] == version
    net.close()
    print(f"repeated bundle: {replay}; a copy under another name: {len(repeated.refused)} refused, "
          f"{len(repeated.imported)} imported; network figures unchanged: {'YES' if same else 'NO'}")

    nl = hotlines["nl-hotline"]
    nl.catalog.add_report("http://late.example.test/gallery", actor="bench")
    newer = publish_statistics(nl, last=1, actor="bench")
    corrected = poll_statistics(coord, actor="bench")
    net = open_network(coord.settings.network_folder / "snapshot")
    after = _overview(net, "SELECT * FROM network_overview WHERE jurisdiction = 'home'")
    periods = net.sql("SELECT count(*) FROM periods").fetchall()[0][0]
    net.close()
    replaced = [r.replaced for r in corrected.imported]
    print(f"corrected month {newer[0].period}: imported {len(corrected.imported)} (replaced {replaced}); reports "
          f"{total['reports_received']:,} -> {after['reports_received']:,}; (hotline, month)s kept {periods} "
          f"(before {kept_before})")
    ok = equal and same and replaced == [True] and periods == kept_before and \
        after["reports_received"] == total["reports_received"] + 1  # type: ignore[operator]
    for c in own.values():
        c.close()
    for inst in (coord, *hotlines.values()):
        inst.close()
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}; checks {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
