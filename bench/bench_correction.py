"""Benchmark: the correction round trip between two installations on one machine (ours in
NL, a partner in AT; two data directories, each the other's directory destination), against
the round trip of the item bundle that first told the partner.

    .venv/bin/python bench/bench_correction.py [--items 50] [--corrected 1] [--dir DIR]

* Setup (not timed): ``--items`` benign synthetic pictures hosted in AT, each with an
  analyst's baseline verdict at ours; the partner has crawled the same pictures (stored,
  hashed), so importing our bundle classifies them automatically.
* Baseline, timed: our export run (the item bundle to the partner), the partner's import
  poll and its matching of the crawled pictures against the set it just gained, until every
  item has its automatic verdict.
* Measured, timed: ``--corrected`` items changed to not-illegal by a senior with a reason
  and confirmed by a second senior (not timed: people), then from the confirmation: our
  export run (the retraction bundle), the partner's import poll, until every corrected item
  is back in the partner's review queue, clustered.

Wall and CPU seconds of each, the bundle sizes (bytes) and the ratio correction/baseline.
The machine is shared (2 cores, often loaded), so absolute figures vary from run to run;
the ratio is measured within one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from catalog.decisions.records import Verdict  # noqa: E402
from catalog.media_items.records import MediaRecord, SightingRecord  # noqa: E402
from catalog.reports.records import CrawlResult  # noqa: E402
from classification.review import confirm, set_by_hand  # noqa: E402
from hashing import hash_image, match_stored_media  # noqa: E402
from hotline.demo.local_site import synthetic_image  # noqa: E402
from hotline.installation import Installation, review_config  # noqa: E402
from hotline.services.partner_exchange import export_to_partner, partner_from_key_files, poll_inbound  # noqa: E402
from hotline.settings import Settings  # noqa: E402

NO_LOGIN = "!no-login"


def register(at: Installation, other: Installation, name: str, country: str) -> None:
    keys = other.keys.public_files()
    at.catalog.save_partner(partner_from_key_files(
        name, countries=[country], encryption_key=keys["inbox"], signing_keys=[keys["signing"]],
        destination=str(other.settings.inbox_dir)), actor="bench")


def crawled(inst: Installation, data: bytes, page: str, country: str) -> str:
    """Store and hash ``data`` as if a crawl of ``page`` (hosted in ``country``) found it."""
    sha = inst.evidence.put(data)
    report = inst.catalog.add_report(page, actor="bench")
    inst.catalog.record_crawl(report, CrawlResult(page, media=(MediaRecord(sha, len(data), "image/jpeg"),),
                                                  sightings=(SightingRecord(sha, f"{page}/{sha[:8]}.jpg", page,
                                                                            ip="192.0.2.7", country=country),)))
    inst.catalog.record_hashes(hash_image(data).records())
    return sha


def timed(step):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--corrected", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-correction-", dir=args.dir))
    ours = Installation.init(Settings(data_dir=root / "nl", country="NL"))
    theirs = Installation.init(Settings(data_dir=root / "at", country="AT"))
    register(ours, theirs, "at-hotline", "AT")
    register(theirs, ours, "nl-hotline", "NL")
    ours.catalog.add_user("root", "admin", NO_LOGIN, actor="system")
    for name in ("sam", "sue"):
        ours.catalog.add_user(name, "senior", NO_LOGIN, actor="root")

    pictures = [synthetic_image(n) for n in range(args.items)]
    shas = []
    for n, data in enumerate(pictures):
        sha = crawled(ours, data, f"http://site{n}.example/gallery", "AT")
        ours.catalog.queue_unmatched([sha])
        ours.catalog.record_verdict(sha, Verdict.BASELINE, actor="sam")
        shas.append(sha)
        crawled(theirs, data, f"http://mirror{n}.example/page", "AT")
        theirs.catalog.queue_unmatched([sha])

    def first_round() -> int:
        sent = export_to_partner(ours, "at-hotline", actor="bench")
        poll_inbound(theirs, actor="bench")
        theirs.catalog.record_matches(match_stored_media(theirs.catalog, shas))
        assert all(theirs.catalog.decision_state(s).source == "known-set" for s in shas)
        return sum(d.size for d in sent)

    base_size, base_wall, base_cpu = timed(first_round)

    config = review_config(ours.settings)
    corrected = shas[: args.corrected]
    for sha in corrected:
        verdict_id = set_by_hand(ours.catalog, config, sha, Verdict.NOT_ILLEGAL, "sam", "an adult: ID seen")
        ours.catalog.record_reveal("sue", sha)
        confirm(ours.catalog, verdict_id, "sue")

    def correction_round() -> int:
        sent = export_to_partner(ours, "at-hotline", actor="bench")
        (result,) = poll_inbound(theirs, actor="bench").imported
        assert sorted(result.sent_to_review) == sorted(corrected)
        assert all(theirs.catalog.cluster_of(s) is not None for s in corrected)
        return sum(d.size for d in sent)

    size, wall, cpu = timed(correction_round)
    print(f"items {args.items}, corrected {args.corrected}")
    print(f"baseline (item bundle: export, import, {args.items} items auto-classified): "
          f"{base_wall:.2f} s wall, {base_cpu:.2f} s CPU, bundle {base_size:,} bytes")
    print(f"correction (retraction bundle: export, import, {args.corrected} item(s) back in review): "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU, bundle {size:,} bytes")
    print(f"ratio correction/baseline: wall {wall / base_wall:.0%}, CPU {cpu / base_cpu:.0%}, "
          f"size {size / base_size:.0%}")
    ours.close()
    theirs.close()
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
