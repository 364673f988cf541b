"""process-report: crawl each pending report, hash what it found, match the hashes against
the known sets and the pictures we decided, and queue the unknown items for review.

Tasks pass references (report IDs, SHA-256s), never media. Each crawl runs in its own
process; crawls of several reports, and hashing batches, run concurrently on the flow's
task runner: threads, or a Dask cluster in the cluster profile (``flows.common.task_runner``).

Killed at any point and run again, it finishes the job without doing anything twice: the
reports left ``processing`` are claimed again once the dead run's lease expires, a crawl
already recorded is kept, items already hashed are matched and queued, and nothing is
recorded twice (see docs/operations.md, "Crash safety").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task, unmapped

from catalog.decisions.records import OwnMatch
from catalog.known_sets.records import MatchRecord
from catalog.reports.records import PendingMedia
from classification import FloodConfig, triage
from flows.common import CATALOG_RETRIES, IO_RETRIES, batches, installation, publish_summary, task_runner
from flows.runs import claims_held, settle_dead_runs, this_run_id
from hashing import match_decided, match_stored_media
from hotline import progress
from hotline.installation import clustering_config, review_config
from hotline.progress import Progress
from hotline.services.hashing_stage import hash_batch
from hotline.services.network_lists import check_items, check_reports, partner_decision_profiles
from spiders import crawl

FLOW = "process-report"
# what a command that runs this flow in its own process shows (``hotline.progress``)
CRAWLED, HASHED, MATCHED, QUEUED = "reports crawled", "items hashed", "items matched", "items queued or classified"


@task(**CATALOG_RETRIES)
def claim_reports(run_id: str, report_ids: list[int] | None, limit: int) -> list[int]:
    """Claim the reports for this run (``catalog.reports.claims``): those another live run holds are skipped."""
    return [r.id for r in installation().catalog.claim_reports(run_id, limit=limit, ids=report_ids)]


@task(**CATALOG_RETRIES)
def defer_to_partners(report_ids: list[int]) -> list[int]:
    """The claimed reports to crawl: those whose URL a partner handles are linked to its case
    instead (``hotline.services.network_lists``)."""
    linked = set(check_reports(installation(), report_ids, actor=FLOW))
    return [r for r in report_ids if r not in linked]


@task(**IO_RETRIES)
def crawl_report(report_id: int) -> int:
    """Crawl one report into the evidence store; returns how many media items it found.
    A report with items an earlier crawl could not store fetches just those again
    (``catalog.reports.pending``); otherwise a crawl that a killed run had recorded already is kept,
    not repeated."""
    inst = installation()
    waiting = inst.catalog.pending_media(report_id)
    if not waiting:
        already = inst.catalog.open_crawl(report_id)
        if already is not None:
            progress.report(Progress(CRAWLED, advance=1, unit="reports"))
            return already
    report = inst.catalog.get_report(report_id)
    result = crawl(inst.crawl_request(report, retry=waiting), inst.evidence_spec)
    inst.catalog.record_crawl(report_id, result, give_up_after=inst.settings.quarantine_after)
    progress.report(Progress(CRAWLED, advance=1, unit="reports"))
    return len(result.media)


@task
def plan_hashing(report_ids: list[int]) -> list[list[str]]:
    """The new media of these reports, in batches of ``hash_batch``: one hashing task each."""
    inst = installation()
    return batches(inst.catalog.media_of_reports(report_ids, status="new"), inst.settings.hash_batch)


@task(**IO_RETRIES)
def hash_media(sha256s: list[str], report_ids: list[int]) -> dict[str, Any]:
    """Hash one batch (images and videos, by their bytes) and record hashes and failures
    (``hotline.services.hashing_stage``); returns the SHA-256s hashed and the failures counted."""
    done = vars(hash_batch(installation(), sha256s, report_ids))
    progress.report(Progress(HASHED, advance=len(sha256s)))
    return done


@task
def hashed_media(report_ids: list[int]) -> list[str]:
    """The hashed, not yet matched items of these reports: this run's, and any that a
    killed run hashed but did not match."""
    return installation().catalog.media_of_reports(report_ids, status="hashed")


@task
def match_media(sha256s: list[str]) -> list[MatchRecord]:
    """Match hashed items against the enabled known sets (videos the vPDQ way)."""
    inst = installation()
    inst.sync_known_sets()  # cluster profile: set files imported on another machine
    s = inst.settings
    progress.report(Progress(MATCHED, total=len(sha256s)))
    found = match_stored_media(inst.catalog, sha256s, min_quality=s.pdq_min_quality, vpdq_threshold=s.vpdq_threshold)
    progress.report(Progress(MATCHED, advance=len(sha256s)))
    return found


@task
def match_own_decisions(sha256s: list[str]) -> list[OwnMatch]:
    """Match hashed items against the pictures we decided (``hashing.decided``)."""
    s = installation().settings
    return match_decided(installation().catalog, sha256s, threshold=s.pdq_threshold, min_quality=s.pdq_min_quality)


@task(**CATALOG_RETRIES)
def note_partner_decisions(sha256s: list[str]) -> list[str]:
    """Note the items a partner decided (its verdict is shown to our analysts); returns those
    of ``sha256s`` any partner decided, for triage to derive our verdict from its grading."""
    inst = installation()
    check_items(inst, sha256s, actor=FLOW)
    return sorted(inst.catalog.partner_decisions_of(sha256s))


@task(**CATALOG_RETRIES)
def queue_media(sha256s: list[str], found: list[MatchRecord], own: list[OwnMatch],
                partner_decided: list[str]) -> dict[str, int]:
    inst = installation()
    s = inst.settings
    flood = FloodConfig(s.known_flood_threshold, timedelta(hours=s.known_flood_window_h))
    clustering = clustering_config(s, inst.evidence.get)  # the pictures themselves, read in memory
    # our profiles derive our verdict from a partner's grading; without them the items wait
    # for our analysts (own decisions need them: a broken profile fails the run, as before)
    profiles = review_config(s).profiles if own else partner_decision_profiles(inst) if partner_decided else None
    if partner_decided and profiles is None:
        get_run_logger().warning(f"{len(partner_decided)} item(s) a partner decided are queued: our law profiles "
                                 "could not be loaded (hotline doctor names the fault)")
    result = triage(inst.catalog, sha256s, found, clustering=clustering, flood=flood, own=own, profiles=profiles,
                    partner_decided=partner_decided)
    progress.report(Progress(QUEUED, advance=len(sha256s), total=len(sha256s)))
    return {"auto_classified": result.auto_classified, "own_decided": result.own_decided,
            "ambiguous": result.ambiguous, "queued": result.queued, "quarantined_rows": result.quarantined,
            "partner_auto_classified": result.partner_decided, "partner_to_review": result.partner_to_review}


@task(**CATALOG_RETRIES)
def finish_reports(run_id: str, report_ids: list[int]) -> dict[str, Any]:
    """Close each report: ``failed`` when nothing could be collected and errors say why.
    A report with items that could not be stored stays open (``pending`` again, for the
    next run), and the run says so in one warning. A report another run took over (this
    run's lease had expired) is left to that run."""
    catalog = installation().catalog
    statuses: dict[int, str] = {}
    error_count = 0
    waiting: dict[int, list[PendingMedia]] = {}
    for report_id in report_ids:
        if items := catalog.pending_media(report_id):
            waiting[report_id] = items
            catalog.defer_report(report_id, f"{len(items)} item(s) not stored yet, kept for the next run: "
                                            f"{items[0].reason}")
            statuses[report_id] = "pending"
            continue
        if catalog.media_of_reports([report_id], status="new"):
            statuses[report_id] = "retry"  # an item could not be read: the next run claims it again
            continue
        errors = catalog.report_errors(report_id)
        error_count += len(errors)
        failed = not catalog.media_of_reports([report_id]) and bool(errors)
        if catalog.finish_report(report_id, failed=failed, error=errors[0].reason if failed else None, run_id=run_id):
            statuses[report_id] = "failed" if failed else "done"
        else:
            statuses[report_id] = "taken over"
    pending = sum(len(items) for items in waiting.values())
    warning = None
    if waiting:
        first = next(iter(waiting.values()))[0]
        warning = (f"{pending} item(s) of {len(waiting)} report(s) could not be "
                   f"{'stored' if first.stage == 'evidence' else 'fetched again'} and are kept pending; "
                   f"the next run fetches them again. First reason: {first.reason}")
        get_run_logger().warning(warning)
    return {"statuses": statuses, "errors": error_count, "pending": pending, "warning": warning}


@flow(name=FLOW, task_runner=task_runner())
def process_report(report_ids: list[int] | None = None, limit: int = 100) -> dict[str, Any]:
    """Process the given reports, or up to ``limit`` pending ones. The run holds its
    reports under a lease renewed while it works (``catalog.reports.claims``); runs that died
    before it are marked crashed in Prefect first (``flows.runs``)."""
    settle_dead_runs(FLOW)
    run_id = this_run_id()
    with claims_held(run_id, FLOW) as held:
        held_reports = claim_reports(run_id, report_ids, limit)
        claimed = defer_to_partners(held_reports)
        progress.report(Progress(CRAWLED, total=len(claimed), unit="reports"))
        media = sum(crawl_report.map(claimed).result()) if claimed else 0
        planned = plan_hashing(claimed)
        progress.report(Progress(HASHED, total=sum(map(len, planned))))
        outcomes = hash_media.map(planned, unmapped(claimed)).result()
        ready = hashed_media(claimed)
        found = match_media(ready)
        own = match_own_decisions(ready)
        partner_decided = note_partner_decisions(ready)
        counts = queue_media(ready, found, own, partner_decided)
        closed = finish_reports(run_id, claimed)
        failures = {k: sum(o[k] for o in outcomes) for k in ("deferred", "quarantined")}
        hashed = sum(len(o["hashed"]) for o in outcomes)
        summary = {"reports": claimed, "media": media, "hashed": hashed, **failures, **counts, **closed,
                   "linked_to_partners": sorted(set(held_reports) - set(claimed)), "partner_decided": len(partner_decided)}
        held.summary = summary  # kept with the run in the catalog, whatever becomes of Prefect
    publish_summary("process-report-summary", summary, "What this run of process-report did")
    return summary


if __name__ == "__main__":
    print(process_report())
