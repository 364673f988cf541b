"""The catalog: schema, idempotent writes, the append-only audit log, concurrent writers."""

from __future__ import annotations

import hashlib
import multiprocessing

import pytest
import sqlalchemy as sa

from catalog.catalog import Catalog
from catalog.db import head_revision
from catalog.decisions.records import Verdict
from catalog.errors import Ambiguous, InvalidState, NotFound
from catalog.known_sets.records import MatchRecord
from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
from catalog.reports.records import CrawlError, CrawlResult


def _sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _crawl(n: int, offset: int = 0) -> CrawlResult:
    media = tuple(MediaRecord(_sha(offset + i), 100 + i, "image/jpeg") for i in range(n))
    seen = tuple(SightingRecord(m.sha256, f"http://site.test/{m.sha256[-4:]}.jpg", "http://site.test/") for m in media)
    return CrawlResult(url="http://site.test/", media=media, sightings=seen)


@pytest.fixture
def catalog(catalog_url: str) -> Catalog:
    cat = Catalog(catalog_url)
    cat.migrate()
    yield cat
    cat.dispose()


def test_migrate_is_versioned_and_repeatable(catalog: Catalog) -> None:
    assert catalog.schema_revision() == head_revision()
    assert catalog.migrate() == head_revision()


def test_recording_a_crawl_twice_adds_no_media_or_sightings(catalog: Catalog) -> None:
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, _crawl(3))
    catalog.record_crawl(report, _crawl(3))
    with catalog.read() as conn:
        assert conn.scalar(sa.text("select count(*) from media")) == 3
        assert conn.scalar(sa.text("select count(*) from sightings")) == 3
    assert catalog.media_of_reports([report]) == sorted(_sha(i) for i in range(3))
    catalog.record_hashes([HashRecord(_sha(0), "sha256", _sha(0))])
    asked = [_sha(0), _sha(1), _sha(1), "f" * 64]  # repeats and unknown items are fine
    assert catalog.media_in_status(asked, "new") == {_sha(1)}
    assert catalog.media_in_status(asked, "hashed") == {_sha(0)}
    assert catalog.media_in_status([], "new") == set()


def test_every_hash_of_a_captioned_copy_is_recorded(catalog: Catalog) -> None:
    """A copy with a caption box gets the longest names a picture's hashes have (its filled
    caption's PDQ): every one is recorded and read back, on both engines."""
    from rehost_edits import edit, natural_photos

    from hashing import hash_image

    copy, _ = edit("small-text").apply(dict(natural_photos())["immunohistochemistry"])
    hashes = hash_image(copy)
    records = hashes.records()
    assert max(len(r.algorithm) for r in records) > 16
    sha = records[0].sha256
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, CrawlResult("http://site.test/", media=(MediaRecord(sha, 1),)))
    catalog.record_hashes(records)
    assert set(catalog.hashes_of([sha])[sha]) == {r.algorithm for r in records}


def test_lifecycle_known_queued_classified(catalog: Catalog) -> None:
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, _crawl(2))
    catalog.record_hashes([HashRecord(_sha(0), "pdq", "0" * 64, 100), HashRecord(_sha(1), "pdq", "f" * 64, 100)])
    assert catalog.record_matches([MatchRecord(_sha(0), "set-a", "sha256", 0, Verdict.BASELINE)]) == 1
    assert catalog.queue_unmatched([_sha(1)]) == 1
    assert [q.sha256 for q in catalog.queue()] == [_sha(1)]
    catalog.record_verdict(catalog.resolve_media_id(_sha(1)[:10]), Verdict.NOT_ILLEGAL, actor="ann")
    assert catalog.queue() == []
    outcomes = {o.sha256: o for o in catalog.outcomes([report])}
    assert outcomes[_sha(0)].verdict is Verdict.BASELINE and outcomes[_sha(0)].set_name == "set-a"
    assert outcomes[_sha(1)].verdict is Verdict.NOT_ILLEGAL and outcomes[_sha(1)].actor == "ann"
    assert [c.sha256 for c in catalog.export_candidates("interpol")] == [_sha(0)]
    actions = [e.action for e in catalog.audit_entries()]
    assert "verdict.record" in actions and "verdict.auto" in actions


def test_verdict_refused_for_unhashed_unknown_or_ambiguous_items(catalog: Catalog) -> None:
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, _crawl(2))
    with pytest.raises(InvalidState):
        catalog.record_verdict(_sha(0), Verdict.BASELINE, actor="ann")
    with pytest.raises(NotFound):
        catalog.resolve_media_id("ffffffffff")
    twins = CrawlResult(url="http://site.test/", media=(MediaRecord("ab" * 32, 1), MediaRecord("ab" * 31 + "cd", 1)),
                        sightings=(SightingRecord("ab" * 32, "u1", "p"), SightingRecord("ab" * 31 + "cd", "u2", "p")))
    catalog.record_crawl(report, twins)
    with pytest.raises(Ambiguous):
        catalog.resolve_media_id("abababab")
    assert catalog.resolve_media_id("ab" * 31 + "cd") == "ab" * 31 + "cd"


def test_crawl_errors_are_recorded_on_the_report(catalog: Catalog) -> None:
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, CrawlResult(url="http://site.test/", errors=(CrawlError("http://site.test/", "connection refused"),)))
    assert [e.reason for e in catalog.report_errors(report)] == ["connection refused"]


def test_audit_log_refuses_update_and_delete(catalog: Catalog) -> None:
    catalog.audit("ann", "item.view", "x")
    for statement in ("update audit_log set actor = 'eve'", "delete from audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with catalog.write() as conn:
                conn.execute(sa.text(statement))
    assert [e.actor for e in catalog.audit_entries()] == ["ann"]


def test_export_items_cannot_be_recorded_twice_for_a_destination(catalog: Catalog) -> None:
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, _crawl(1))
    catalog.record_hashes([HashRecord(_sha(0), "md5", "0" * 32)])
    catalog.record_matches([MatchRecord(_sha(0), "s", "md5", 0, Verdict.NATIONAL)])
    candidates = catalog.export_candidates("interpol")
    items = [(c.sha256, c.verdict_id) for c in candidates]
    locations = [(c.sha256, str(s["media_url"]), str(s["page_url"])) for c in candidates for s in c.sightings]
    assert locations
    kwargs = dict(destination="interpol", location="drop/x", recipients=["r"], sha256="0" * 64, size=1, items=items,
                  locations=locations, actor="t")
    assert catalog.record_export(bundle_id="a" * 32, **kwargs)
    assert not catalog.record_export(bundle_id="a" * 32, **kwargs)
    assert catalog.export_candidates("interpol") == []
    with pytest.raises(sa.exc.IntegrityError):
        catalog.record_export(bundle_id="b" * 32, **kwargs)
    assert [e.bundle_id for e in catalog.exports()] == ["a" * 32]


ROUNDS = 150


def _writer(url: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    cat = Catalog(url)
    start.wait()
    for i in range(ROUNDS):
        report = cat.add_report(f"http://w{worker}.test/{i}", actor=f"writer-{worker}")
        cat.record_crawl(report, _crawl(2, offset=worker * 10_000 + i * 2))
        cat.audit(f"writer-{worker}", "test.write", str(i))
    cat.dispose()


def test_two_writing_processes_lose_nothing(catalog_url: str) -> None:
    url = catalog_url
    setup = Catalog(url)
    setup.migrate()
    setup.dispose()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(url, w, start)) for w in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0, "a writer failed (lock error?)"
    cat = Catalog(url)
    with cat.read() as conn:
        assert conn.scalar(sa.text("select count(*) from reports")) == 2 * ROUNDS
        assert conn.scalar(sa.text("select count(*) from media")) == 2 * ROUNDS * 2
        assert conn.scalar(sa.text("select count(*) from sightings")) == 2 * ROUNDS * 2
        assert conn.scalar(sa.text("select count(*) from audit_log where action = 'test.write'")) == 2 * ROUNDS
        urls = set(conn.scalars(sa.text("select url from reports")))
    cat.dispose()
    assert urls == {f"http://w{w}.test/{i}" for w in (1, 2) for i in range(ROUNDS)}


def test_integrity_checks_and_reattachment(catalog: Catalog) -> None:
    """An item recorded without a sighting (as older crawlers did) is found, re-attached to
    the report of the crawl that recorded it, and that report goes back to pending."""
    lost, seen = "1" * 64, "2" * 64
    first = catalog.add_report("http://a.test/", actor="t")
    second = catalog.add_report("http://b.test/", actor="t")
    catalog.record_crawl(first, CrawlResult("http://a.test/", media=(MediaRecord(lost, 3),)))
    catalog.record_crawl(second, CrawlResult("http://b.test/", media=(MediaRecord(seen, 3),), sightings=(
        SightingRecord(seen, "http://b.test/x.jpg", "http://b.test/"),)))
    for report_id in (first, second):
        catalog.claim_reports("test-run", ids=[report_id])
        catalog.finish_report(report_id)
    assert catalog.media_without_sightings() == [lost]
    assert catalog.done_reports_with_unprocessed_media() == [second]
    repair = catalog.reattach_media(actor="op")
    assert (repair.reattached, repair.unattached, repair.reports) == ((lost,), (), (first, second))
    assert catalog.media_of_reports([first]) == [lost]
    assert [(r.status, r.processed_at) for r in map(catalog.get_report, (first, second))] == [("pending", None)] * 2
    assert catalog.open_crawl(first) == 1  # the crawl is kept: no second visit
    assert catalog.media_without_sightings() == [] and catalog.done_reports_with_unprocessed_media() == []


def test_a_partner_match_of_a_type_the_catalog_does_not_know_is_only_a_hint(catalog: Catalog) -> None:
    """Only content digests are exact: a partner's verdict reached by any other match type (a
    signal type added after this code was written included) decides nothing."""
    report = catalog.add_report("http://site.test/", actor="t")
    catalog.record_crawl(report, _crawl(2))
    for name, source in (("partner-at", "partner:at-hotline"), ("ours", None)):
        catalog.register_known_set(name=name, verdict=None, path=f"/{name}.parquet", rows=1,
                                   content_sha256=hashlib.sha256(name.encode()).hexdigest(), actor="t", source=source)
    catalog.record_matches([MatchRecord(_sha(0), "partner-at", "toyhash", 1, Verdict.BASELINE),
                            MatchRecord(_sha(1), "ours", "toyhash", 1, Verdict.BASELINE)])
    outcomes = {o.sha256: o.verdict for o in catalog.outcomes([report])}
    assert outcomes == {_sha(0): None, _sha(1): Verdict.BASELINE}
