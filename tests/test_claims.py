"""Claims with an owner and a lease, on SQLite and PostgreSQL: runs claiming at once never
take the same report, a live lease is respected, and a dead run's reports are taken once
its lease expires."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from catalog.catalog import Catalog
from catalog.reports.claims import Heartbeat

LONG = timedelta(minutes=10)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog(catalog_url)
    cat.migrate()
    yield cat
    cat.dispose()


def _file(catalog: Catalog, n: int) -> list[int]:
    return [catalog.add_report(f"http://site.test/{i}", actor="t") for i in range(n)]


def test_runs_claiming_at_once_take_each_report_once(catalog: Catalog, catalog_url: str) -> None:
    ids = _file(catalog, 60)
    claimants = [Catalog(catalog_url) for _ in range(4)]  # an engine each, as separate processes have
    taken: dict[str, list[int]] = {}
    start = threading.Barrier(len(claimants))

    def claim(n: int, cat: Catalog) -> None:
        mine: list[int] = []
        start.wait()
        for attempt in range(100):  # a new run each time, as runs started one after another would be
            run = f"run-{n}-{attempt}"
            cat.start_run(run, flow="process-report", lease=LONG)
            batch = cat.claim_reports(run, limit=3)
            if not batch:
                break
            mine += [r.id for r in batch]
        taken[f"claimant-{n}"] = mine

    threads = [threading.Thread(target=claim, args=(n, cat)) for n, cat in enumerate(claimants)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for cat in claimants:
        cat.dispose()
    everything = [i for mine in taken.values() for i in mine]
    assert sorted(everything) == ids, "a report claimed twice, or not at all"
    assert all(r.status == "processing" for r in catalog.list_reports())


def test_a_live_lease_is_respected_and_a_dead_one_released(catalog: Catalog) -> None:
    ids = _file(catalog, 5)
    catalog.start_run("alive", flow="process-report", lease=LONG)
    catalog.start_run("dying", flow="process-report", lease=timedelta(seconds=1))
    assert [r.id for r in catalog.claim_reports("alive", limit=2)] == ids[:2]
    assert [r.id for r in catalog.claim_reports("dying", limit=2)] == ids[2:4]
    # asked again, a run gets its own claims back (a retried claim), never another's
    assert [r.id for r in catalog.claim_reports("alive", limit=10)] == [*ids[:2], ids[4]]
    catalog.start_run("next", flow="process-report", lease=LONG)
    assert catalog.claim_reports("next", limit=10) == []
    assert catalog.claim_reports("next", ids=ids) == []  # not even by ID
    time.sleep(1.5)  # the dying run's lease expires
    assert [r.id for r in catalog.claim_reports("next", limit=10)] == ids[2:4]
    # the run that lost its claims cannot close those reports; their new owner can
    assert not catalog.finish_report(ids[2], run_id="dying")
    assert catalog.finish_report(ids[2], run_id="next")
    assert catalog.get_report(ids[2]).status == "done"
    assert [r.id for r in catalog.unsettled_runs("process-report")] == ["dying"]
    catalog.settle_runs(["dying"])
    assert catalog.unsettled_runs("process-report") == []


def test_an_ended_run_releases_what_it_left_processing(catalog: Catalog) -> None:
    ids = _file(catalog, 2)
    with Heartbeat(catalog, "first", flow="process-report", lease=LONG) as held:
        assert [r.id for r in catalog.claim_reports("first")] == ids
        catalog.finish_report(ids[0], run_id="first")
        held.summary = {"reports": ids}
    run = catalog.get_run("first")
    assert run is not None and run.ended_at is not None and run.summary == {"reports": ids}
    catalog.start_run("second", flow="process-report", lease=LONG)
    assert [r.id for r in catalog.claim_reports("second")] == [ids[1]]  # left processing: taken


def test_the_heartbeat_keeps_a_short_lease_alive(catalog: Catalog) -> None:
    ids = _file(catalog, 3)
    lease = timedelta(seconds=4)
    with Heartbeat(catalog, "slow", flow="process-report", lease=lease):
        assert len(catalog.claim_reports("slow")) == 3
        catalog.start_run("other", flow="process-report", lease=LONG)
        for _ in range(4):  # three leases long: only renewals keep the claims
            time.sleep(lease.total_seconds())
            assert catalog.claim_reports("other") == []
    assert [r.id for r in catalog.claim_reports("other")] == ids  # ended: released
