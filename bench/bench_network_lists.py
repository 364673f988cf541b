"""Benchmark: handled lists between two partner hotlines (keyed hashes of URLs).

    .venv/bin/python bench/bench_network_lists.py [--urls 100000] [--items 0] [--incoming 10000] [--dir DIR]

* Setup (not timed): two installations on one machine (NL sends, AT receives), registered
  at each other; NL's catalog holds ``--urls`` reports (half crawled, half pending; benign
  ``bench.example`` URLs) and ``--items`` decided items (ledger rows only, no media).
* Measured: (1) NL builds its list for AT (normalise, HMAC under the partnership key) and
  delivers it as a signed, encrypted bundle to AT's inbox: the bundle's size; (2) AT imports
  it (verify, decrypt, keep the entries); (3) AT checks ``--incoming`` new reports against it
  (half of them URLs NL has, in another spelling), the check ``process-report`` runs before
  crawling; against (4) the baseline, in the same process: the lookup AT already makes for
  its own reports (``reported_urls``, the inbound bundles' deduplication) of the same URLs.

Wall and CPU time (this process) are printed for each; the machine is shared (2 cores), so
the ratio within one run is the figure to compare.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<44} wall {wall:8.3f} s   cpu {cpu:8.3f} s")
    return result, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=0)
    parser.add_argument("--incoming", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    from exchange_support import make_installation, register

    from catalog.db import utcnow
    from catalog.schema import media, reports, verdicts
    from hotline.services.network_lists import check_reports, send_handled_list
    from hotline.services.partner_exchange import poll_inbound

    root = Path(tempfile.mkdtemp(prefix="bench-lists-", dir=args.dir))
    nl, at = make_installation(root, "nl", "NL"), make_installation(root, "at", "AT")
    register(nl, at, "at-hotline", countries=["AT"])
    register(at, nl, "nl-hotline", countries=["NL"])
    start = utcnow() - timedelta(days=1)
    with nl.catalog.engine.begin() as conn:
        conn.execute(reports.insert(), [
            dict(url=f"http://bench.example/{n}/page.html", source="public", status="done" if n % 2 else "pending",
                 received_at=start) for n in range(args.urls)])
        if args.items:
            shas = [f"{n:064x}" for n in range(args.items)]
            conn.execute(media.insert(), [dict(sha256=s, size=1, kind="image", status="classified", first_seen_at=start)
                                          for s in shas])
            conn.execute(verdicts.insert(), [dict(sha256=s, verdict="baseline", source="analyst", actor="bench",
                                                  created_at=start) for s in shas])
    print(f"list of {args.urls} URLs and {args.items} decided items, {args.incoming} incoming reports")

    delivery, _, _ = timed("build + sign + encrypt + deliver list", send_handled_list, nl, "at-hotline", actor="bench")
    print(f"bundle size {delivery.size} bytes ({delivery.size / max(1, delivery.items):.1f} bytes an entry)")
    polled, _, _ = timed("import list (verify, decrypt, keep)", poll_inbound, at, actor="bench")
    assert polled.refused == [], polled.refused

    # half the incoming reports are URLs NL has (upper-case host, default port: one identity)
    urls = [f"http://BENCH.example:80/{n * 2}/page.html" if n % 2 == 0 else f"http://other.example/{n}"
            for n in range(args.incoming)]
    with at.catalog.engine.begin() as conn:
        conn.execute(reports.insert(), [dict(url=u, source="public", status="pending", received_at=utcnow())
                                        for u in urls])
    ids = [r.id for r in at.catalog.list_reports(status="pending", limit=10 * args.incoming)]
    _, base_wall, base_cpu = timed("baseline: reported_urls (own lookup)", at.catalog.reported_urls, urls)
    linked, wall, cpu = timed("check incoming reports against the list", check_reports, at, ids, actor="bench")
    print(f"linked {len(linked)} of {len(ids)} (expected {len(ids) // 2})")
    print(f"ratio check/baseline: wall {wall / base_wall:.1f}x   cpu {cpu / max(base_cpu, 1e-9):.1f}x")
    print(f"per incoming report: wall {wall / len(ids) * 1e6:.0f} us   cpu {cpu / len(ids) * 1e6:.0f} us")
    nl.close()
    at.close()


if __name__ == "__main__":
    main()
