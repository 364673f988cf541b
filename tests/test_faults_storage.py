"""Evidence that cannot be stored during a crawl is kept, not lost: real process-report runs
against a full filesystem (a small tmpfs under the evidence directory) and an S3 endpoint
(moto) behind a TCP relay cut mid-crawl. The items the store refused stay pending with
their URL and page, their reports stay open, the crawl stops fetching media after a few
failures in a row, and once space is freed or the endpoint is back the next run stores
every one of them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from fault_support import TcpProxy, grow, small_filesystem

from catalog.schema import crawls, pending_media, report_errors, reports, sightings
from flows.process_report import process_report
from hotline.demo.local_site import Route, Site, serve_site, synthetic_image
from hotline.installation import Installation
from hotline.settings import Settings
from spiders.results import NO_MEDIA

pytestmark = pytest.mark.usefixtures("prefect_server")

MAX_FAILURES = 4


@contextmanager
def serve_gallery(reports_n: int, images: int, delay_s: float = 0.02) -> Iterator[Site]:
    """``reports_n`` pages of ``images`` distinct pictures each, each served after ``delay_s``."""

    def picture(seed: int) -> Route:
        body = synthetic_image(seed, (320, 240))

        def route(_request: object) -> tuple[bytes, str]:
            time.sleep(delay_s)
            return body, "image/jpeg"

        return route

    routes: dict[str, Route] = {}
    for r in range(reports_n):
        names = [f"/p{r}/{n}.jpg" for n in range(images)]
        routes[f"/r{r}"] = "".join(f"<img src='{name}'>" for name in names).encode()
        for n, name in enumerate(names):
            routes[name] = picture(r * images + n)
    with serve_site(routes) as site:
        yield site


def _cut_after(proxy: TcpProxy, endpoint: str, bucket: str, prefix: str, stored: int) -> None:
    """Cut the relay once ``stored`` objects are under ``prefix`` (asked of moto directly; the
    bucket is shared with other tests, so its own count says nothing)."""
    import boto3
    from cluster_support import AWS

    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"], region_name=AWS["AWS_DEFAULT_REGION"])
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) >= stored:
            proxy.cut()
            return
        time.sleep(0.05)


def _figures(inst: Installation, found: int) -> dict[str, int]:
    """Media URLs found, stored (seen with a stored item), pending (kept to fetch again)
    and lost (neither)."""
    with inst.catalog.engine.connect() as conn:
        stored = conn.scalar(sa.select(sa.func.count(sa.distinct(sightings.c.media_url))))
        waiting = conn.scalar(sa.select(sa.func.count(sa.distinct(pending_media.c.media_url)))
                              .where(pending_media.c.status == "pending"))
        stats = list(conn.scalars(sa.select(crawls.c.stats)))

    def total(key: str) -> int:
        return sum(int((s or {}).get(key, 0)) for s in stats)

    return {"found": found, "stored": stored or 0, "pending": waiting or 0,
            "lost": found - (stored or 0) - (waiting or 0), "store_failures": total("evidence/failed"),
            "not_tried": total("evidence/not_fetched") + total("evidence/not_tried"),
            "paused": total("evidence/paused")}


def _statuses(inst: Installation) -> list[str]:
    return [r.status for r in inst.catalog.list_reports()]


def _file_reports(inst: Installation, site: Site, n: int) -> None:
    for r in range(n):
        inst.catalog.add_report(site.url(f"/r{r}"), actor="test")


def _check_kept(inst: Installation, summary: dict[str, object], figures: dict[str, int], needle: str) -> None:
    """After the failing run: nothing lost, reports open, one clear warning, no "no media"."""
    assert figures["lost"] == 0, figures
    assert figures["pending"] > 0 and figures["stored"] > 0, figures
    assert figures["stored"] + figures["pending"] == figures["found"], figures
    assert set(_statuses(inst)) == {"pending"}, _statuses(inst)
    warning = str(summary["warning"])
    assert "kept pending" in warning and "the next run fetches them again" in warning and needle in warning
    with inst.catalog.engine.connect() as conn:
        reasons = list(conn.scalars(sa.select(report_errors.c.reason)))
        rows = conn.execute(sa.select(pending_media)).all()
    assert NO_MEDIA not in reasons
    assert any("evidence store failing: stopped storing media" in r for r in reasons), reasons
    assert all(row.page_url.rsplit("/", 1)[-1].startswith("r") and row.stage == "evidence" for row in rows)
    assert any(needle in row.reason for row in rows)
    # the crawl paused once the store had failed MAX_FAILURES times in a row. How many items
    # were then kept without a try depends on how many puts were already under way (the
    # pause itself is tested without timing below)
    assert figures["paused"] > 0, str(figures)


def _check_recovered(inst: Installation, figures: dict[str, int]) -> None:
    assert figures == {**figures, "stored": figures["found"], "pending": 0, "lost": 0}, figures
    assert set(_statuses(inst)) == {"done"}, _statuses(inst)
    with inst.catalog.engine.connect() as conn:
        assert set(conn.scalars(sa.select(pending_media.c.status))) == {"stored"}
        assert conn.scalar(sa.select(sa.func.count()).select_from(reports).where(reports.c.error.is_not(None))) == 0


def test_a_full_disk_keeps_every_item_and_the_next_run_stores_them(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports_n, images = 3, 30
    monkeypatch.setenv("HOTLINE_CRAWL_MAX_STORE_FAILURES", str(MAX_FAILURES))
    evidence_dir = installation.settings.evidence_dir
    with small_filesystem(evidence_dir, "256k"), serve_gallery(reports_n, images) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        _file_reports(installation, site, reports_n)

        summary = process_report()
        first = _figures(installation, reports_n * images)
        _check_kept(installation, summary, first, "No space left on device")

        grow(evidence_dir, "64m")  # the operator frees space
        started = time.monotonic()
        again = process_report()
        recovery_s = time.monotonic() - started
        second = _figures(installation, reports_n * images)
        _check_recovered(installation, second)
        assert again["warning"] is None and again["pending"] == 0
        print(f"\nfull disk: run 1 {first}; run 2 {second}; recovery run {recovery_s:.1f} s; "
              f"warning: {summary['warning']}")


def test_an_s3_outage_mid_crawl_keeps_every_item_and_the_next_run_stores_them(
    s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cluster_support import AWS, BUCKET

    reports_n, images, cut_at = 2, 30, 15
    host, port = s3_server.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port))
    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "hotline-data"))
    prefix = f"{uuid.uuid4().hex}/"
    monkeypatch.setenv("HOTLINE_EVIDENCE_URL", f"s3://{BUCKET}/{prefix}evidence")
    monkeypatch.setenv("HOTLINE_S3_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("HOTLINE_S3_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("HOTLINE_CRAWL_MAX_STORE_FAILURES", str(MAX_FAILURES))
    inst = Installation.init(Settings())
    try:
        watcher = threading.Thread(target=_cut_after, args=(proxy, s3_server, BUCKET, prefix, cut_at), daemon=True)
        with serve_gallery(reports_n, images, delay_s=0.1) as site:
            watcher.start()
            monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
            _file_reports(inst, site, reports_n)

            summary = process_report()
            first = _figures(inst, reports_n * images)
            _check_kept(inst, summary, first, "S3 unreachable")

            proxy.restore()  # the endpoint is back
            started = time.monotonic()
            again = process_report()
            recovery_s = time.monotonic() - started
            second = _figures(inst, reports_n * images)
            _check_recovered(inst, second)
            assert again["warning"] is None
            print(f"\nS3 cut: run 1 {first}; run 2 {second}; recovery run {recovery_s:.1f} s; "
                  f"warning: {summary['warning']}")
    finally:
        inst.close()
        proxy.close()



def test_storing_pauses_after_failures_in_a_row_and_a_success_resets_the_count(tmp_path: Path) -> None:
    from evidence import LocalEvidenceStore, new_data_key
    from spiders.pipelines.evidence import EvidencePipeline

    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")  # a store rooted at a file: every write fails with a real OSError
    broken, working = LocalEvidenceStore(blocked, new_data_key()), LocalEvidenceStore(tmp_path / "ok", new_data_key())
    pipeline = EvidencePipeline(broken, stats=None, max_failures=3)  # type: ignore[arg-type]  # stats unused by _put
    bodies = iter(synthetic_image(seed, (64, 48)) for seed in range(100))
    for _ in range(2):
        with pytest.raises(OSError):
            pipeline._put(next(bodies))
    pipeline.store = working
    assert pipeline._put(next(bodies)) is not None  # stored: the count starts again
    pipeline.store = broken
    for _ in range(2):
        with pytest.raises(OSError):
            pipeline._put(next(bodies))
    assert pipeline._paused is None
    with pytest.raises(OSError):
        pipeline._put(next(bodies))
    assert pipeline._paused is not None and "failed 3 times in a row" in pipeline._paused
    pipeline.store = working  # even a store that works again is not tried for this crawl
    assert pipeline._put(next(bodies)) is None


def test_a_second_attempt_settles_each_item_by_what_the_site_answers(
    installation: Installation, tmp_path: Path
) -> None:
    from catalog.reports.records import CrawlResult, PendingMedia
    from hotline.demo.local_site import Reply, SiteRequest
    from spiders import CrawlRequest, crawl

    picture = synthetic_image(41, (64, 48))
    referers: list[str | None] = []

    def ok(request: SiteRequest) -> tuple[bytes, str]:
        referers.append(request.headers.get("Referer"))
        return picture, "image/jpeg"

    def slow(_request: SiteRequest) -> tuple[bytes, str]:
        time.sleep(6)
        return picture, "image/jpeg"

    routes: dict[str, Route] = {"/ok.jpg": ok, "/gone.jpg": Reply(b"gone", status=404), "/slow.jpg": slow,
                                "/flaky.jpg": Reply(b"busy", status=503), "/text.jpg": (b"just text", "image/jpeg")}
    catalog = installation.catalog
    with serve_site(routes) as site:
        page = site.url("/page")
        report = catalog.add_report(page, actor="test")
        names = ("ok", "gone", "flaky", "text", "slow")
        first = CrawlResult(page, pending=tuple(
            PendingMedia(site.url(f"/{n}.jpg"), page, "could not store media: [Errno 28] No space left on device")
            for n in names))
        catalog.record_crawl(report, first)
        waiting = catalog.pending_media(report)
        assert [p.media_url.rsplit("/", 1)[-1] for p in waiting] == [f"{n}.jpg" for n in names]

        request = CrawlRequest(page, allow=(site.host_port,), request_timeout_s=2,
                               retry=tuple((p.media_url, p.page_url) for p in waiting))
        result = crawl(request, installation.evidence_spec)
    assert referers == [page]  # fetched with the page it was found on as Referer
    # a failing or slow site is tried again later; the item itself is not to blame
    assert sorted((p.media_url, p.stage) for p in result.pending) == [
        (site.url("/flaky.jpg"), "crawl"), (site.url("/slow.jpg"), "crawl")]
    assert len(result.media) == 1 and NO_MEDIA not in [e.reason for e in result.errors]
    catalog.record_crawl(report, result, give_up_after=3)
    with catalog.engine.connect() as conn:
        rows = {r.media_url.rsplit("/", 1)[-1]: r for r in conn.execute(sa.select(pending_media))}
    assert rows["ok.jpg"].status == "stored"
    assert (rows["gone.jpg"].status, rows["gone.jpg"].reason) == ("closed", "HTTP 404")
    assert rows["text.jpg"].status == "closed" and "not media by its magic bytes" in rows["text.jpg"].reason
    assert (rows["flaky.jpg"].status, rows["flaky.jpg"].attempts) == ("pending", 2)
    assert "HTTP 503" in rows["flaky.jpg"].reason and "timed out" in rows["slow.jpg"].reason
    catalog.record_crawl(report, result, give_up_after=3)  # the site keeps failing: given up
    assert catalog.pending_media(report) == []
    with catalog.engine.connect() as conn:
        reason = conn.scalar(sa.select(pending_media.c.reason).where(pending_media.c.media_url.like("%flaky.jpg")))
    assert reason is not None and reason.startswith("given up after 3 attempts: HTTP 503")


def test_pending_items_are_kept_and_settled_on_both_databases(catalog_url: str) -> None:
    from catalog.catalog import Catalog
    from catalog.media_items.records import MediaRecord, SightingRecord
    from catalog.reports.records import CrawlError, CrawlResult, PendingMedia

    catalog = Catalog(catalog_url)
    catalog.migrate()
    report = catalog.add_report("http://example.test/page", actor="t")
    page, a, b = "http://example.test/page", "http://example.test/a.jpg", "http://example.test/b.jpg"
    full = "could not store media: [Errno 28] No space left on device"
    catalog.record_crawl(report, CrawlResult(page, pending=(PendingMedia(a, page, full), PendingMedia(b, page, full))))
    catalog.defer_report(report, "2 item(s) not stored yet")
    assert catalog.get_report(report).status == "pending"
    assert [p.media_url for p in catalog.pending_media(report)] == [a, b]
    # the next run: a stored, b still refused by the store (never given up: not the site's fault)
    for _ in range(5):
        catalog.record_crawl(report, CrawlResult(
            page, media=(MediaRecord("a" * 64, 10),), sightings=(SightingRecord("a" * 64, a, page),),
            pending=(PendingMedia(b, page, full),)), give_up_after=2)
    assert catalog.pending_media(report) == [PendingMedia(b, page, full)]
    catalog.record_crawl(report, CrawlResult(page, errors=(CrawlError(b, "HTTP 410"),)))
    assert catalog.pending_media(report) == []
    assert catalog.pending_media_counts() == {"stored": 1, "closed": 1}
    catalog.dispose()
