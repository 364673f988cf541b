"""The cluster profile's parts, and fault handling: crawls storing into S3, known-hash sets
shared through S3, S3 failures told apart (transient or not), items retried then
quarantined, the retention flow, migration 0009 on SQLite and PostgreSQL, the task runner.
The end-to-end run on the cluster profile is tests/test_pipeline.py's, on both profiles."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from botocore.config import Config
from cluster_support import AWS, BUCKET, cluster_settings, postgres_database
from people import add_people

from catalog.catalog import Catalog
from catalog.db import head_revision
from catalog.decisions.records import Verdict
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from catalog.schema import media, verdicts
from classification import classify
from evidence import EvidenceError, EvidenceSpec, EvidenceUnavailable, S3EvidenceStore, new_data_key, write_data_key
from flows.common import task_runner
from hashing import hash_image
from hotline.demo.local_site import serve_site, synthetic_image, unused_port
from hotline.installation import Installation
from hotline.services.doctor import doctor
from hotline.services.hashing_stage import hash_batch
from hotline.settings import Settings
from spiders import CrawlRequest, crawl


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_installation(s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    """An installation with the cluster profile's storage: PostgreSQL catalog, S3 evidence and sets."""
    with postgres_database() as url:
        inst = Installation.init(cluster_settings(monkeypatch, tmp_path / "data", url, s3_server))
        yield inst
        inst.close()


def test_a_crawl_stores_its_media_sealed_in_s3(s3_server: str, aws: None, tmp_path: Path) -> None:
    key_file = tmp_path / "data.key"
    write_data_key(key_file, new_data_key())
    spec = EvidenceSpec(f"s3://{BUCKET}/crawl-test", key_file, s3_server)
    picture = synthetic_image(5)
    with serve_site({"/": b"<img src='/a.jpg'>", "/a.jpg": (picture, "image/jpeg")}) as site:
        result = crawl(CrawlRequest(site.url("/"), allow=(site.host_port,)), spec)
    assert result.errors == () and len(result.media) == 1
    sha256 = result.media[0].sha256
    client = boto3.client("s3", endpoint_url=s3_server)
    blob = client.get_object(Bucket=BUCKET, Key=f"crawl-test/{sha256[:2]}/{sha256[2:4]}/{sha256}")["Body"].read()
    assert picture[100:164] not in blob  # ciphertext only
    assert spec.open().get(sha256) == picture


def test_s3_failures_are_transient_or_not(s3_server: str, aws: None) -> None:
    quick = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=1, read_timeout=1)
    nobody = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{unused_port()}", config=quick)
    store = S3EvidenceStore("s3://x/y", new_data_key(), client=nobody)
    with pytest.raises(EvidenceUnavailable, match="unreachable"):
        store.get("0" * 64)
    with pytest.raises(EvidenceUnavailable):
        store.put(b"data")
    missing_bucket = S3EvidenceStore("s3://no-such-bucket/p", new_data_key(), endpoint_url=s3_server)
    with pytest.raises(EvidenceError) as refused:
        missing_bucket.put(b"data")
    assert not isinstance(refused.value, EvidenceUnavailable)


class _FailingFirst(BaseHTTPRequestHandler):
    """Answers the first ``failures`` requests with 503 SlowDown, forwards the rest to S3."""

    upstream = ""
    failures = 0
    seen = 0

    def _any(self) -> None:
        cls = type(self)
        cls.seen += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if cls.seen <= cls.failures:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection(cls.upstream, timeout=30)
        conn.request(self.command, self.path, body=body, headers=dict(self.headers))
        answer = conn.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = _any

    def log_message(self, *args: object) -> None:
        pass


def test_s3_server_errors_are_retried_with_backoff(s3_server: str, aws: None) -> None:
    key = new_data_key()
    store = S3EvidenceStore(f"s3://{BUCKET}/retry", key, endpoint_url=s3_server)
    sha256 = store.put(b"benign bytes")
    _FailingFirst.upstream, _FailingFirst.failures, _FailingFirst.seen = s3_server.removeprefix("http://"), 2, 0
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _FailingFirst)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        behind = S3EvidenceStore(f"s3://{BUCKET}/retry", key, endpoint_url=f"http://127.0.0.1:{proxy.server_port}")
        assert behind.get(sha256) == b"benign bytes"  # two 503s, then the answer
        assert _FailingFirst.seen == 3
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_known_sets_reach_other_machines_through_s3(s3_installation: Installation, tmp_path: Path) -> None:
    inst = s3_installation
    picture = synthetic_image(8)
    path = tmp_path / "k.parquet"
    pq.write_table(pa.table({"sha256": [hash_image(picture).sha256], "id": ["k"]}), path)
    imported, _ = inst.import_known_set(path, "shared", Verdict.BASELINE)
    assert inst.sync_known_sets() == 0  # this machine has it
    imported.path.unlink()  # another machine: same settings, no local copy
    assert inst.sync_known_sets() == 1 and imported.path.is_file()
    assert inst.sync_known_sets() == 0


def _stored_item(inst: Installation, seed: int) -> tuple[str, int]:
    data = synthetic_image(seed, (160, 120))
    sha256 = inst.evidence.put(data)
    report = inst.catalog.add_report(f"http://example.test/{seed}", actor="t")
    inst.catalog.record_crawl(report, CrawlResult("u", media=(MediaRecord(sha256, len(data), "image/jpeg"),),
                                                  sightings=(SightingRecord(sha256, f"http://example.test/{seed}.jpg", "p"),)))
    return sha256, report


def test_an_item_failing_transiently_is_retried_then_quarantined(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha256, report = _stored_item(installation, 3)
    other, other_report = _stored_item(installation, 4)
    inst = Installation.open(Settings(quarantine_after=2))

    def unreachable(store: object, wanted: str) -> bytes:
        raise EvidenceUnavailable("S3 unreachable while trying to read evidence: connection refused")

    monkeypatch.setattr("evidence.store.LocalEvidenceStore.get", unreachable)
    first = hash_batch(inst, [sha256], [report])
    assert (first.hashed, first.deferred, first.quarantined) == ([], 1, 0)
    (waiting,) = inst.catalog.failing_items()
    assert (waiting.status, waiting.attempts) == ("new", 1) and "unreachable" in (waiting.reason or "")
    assert "to be tried again (1 failed attempt(s))" in {c.name: c for c in doctor(inst)}["quarantine"].detail
    second = hash_batch(inst, [sha256], [report])
    assert (second.deferred, second.quarantined) == (0, 1)
    (quarantined,) = inst.catalog.failing_items()
    assert quarantined.status == "error" and quarantined.reason.startswith("quarantined after 2 failed attempts")
    assert any(e.reason.startswith("quarantined") for e in inst.catalog.report_errors(report))
    assert "quarantined after 2" in {c.name: c for c in doctor(inst)}["quarantine"].detail
    monkeypatch.undo()
    assert hash_batch(inst, [other], [other_report]).hashed == [other]  # the store is back: others go on
    inst.close()


def test_a_retried_hash_batch_records_nothing_twice(installation: Installation) -> None:
    good, report = _stored_item(installation, 5)
    broken = synthetic_image(6)[:300]
    bad = installation.evidence.put(broken)
    installation.catalog.record_crawl(report, CrawlResult("u", media=(MediaRecord(bad, len(broken), "image/jpeg"),),
                                                          sightings=(SightingRecord(bad, "http://example.test/b.jpg", "p"),)))
    first = hash_batch(installation, [good, bad], [report])
    assert (first.hashed, first.failed) == ([good], 1)
    again = hash_batch(installation, [good, bad], [report])  # a task retry after a late failure
    assert (again.hashed, again.failed) == ([], 0)
    assert [e.sha256 for e in installation.catalog.report_errors(report)] == [bad]


@pytest.mark.usefixtures("prefect_server")
def test_a_report_whose_item_could_not_be_read_is_claimed_again(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.process_report import process_report

    picture = synthetic_image(12)
    real_get = installation.evidence.__class__.get
    failures = {"left": 1}

    def flaky(store: object, wanted: str) -> bytes:
        if failures["left"]:
            failures["left"] -= 1
            raise EvidenceUnavailable("S3 kept failing while trying to read evidence: 503")
        return real_get(store, wanted)  # type: ignore[arg-type]

    monkeypatch.setattr("evidence.store.LocalEvidenceStore.get", flaky)
    with serve_site({"/": b"<img src='/a.jpg'>", "/a.jpg": (picture, "image/jpeg")}) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        report = installation.catalog.add_report(site.url("/"), actor="t")
        first = process_report()
        assert first["deferred"] == 1 and first["statuses"] == {report: "retry"}
        assert installation.catalog.get_report(report).status == "processing"
        second = process_report()
    assert second["reports"] == [report] and second["statuses"] == {report: "done"}
    assert second["queued"] == 1 and len(site.requests) == 2  # the page and the picture: crawled once


@pytest.mark.usefixtures("prefect_server")
def test_retention_flow_is_off_until_configured_then_purges(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.retention import retention

    sha256, _ = _stored_item(installation, 21)
    installation.catalog.record_hashes(hash_image(installation.evidence.get(sha256)).records())
    installation.catalog.queue_unmatched([sha256])
    add_people(installation.catalog, ann="analyst")
    classify(installation.catalog, sha256, Verdict.NOT_ILLEGAL, analyst="ann")
    assert retention() == {"enabled": False}
    monkeypatch.setenv("HOTLINE_RETENTION_DAYS", "30")
    assert retention()["candidates"] == 0  # decided today
    with installation.catalog.write() as conn:
        conn.execute(verdicts.update().values(created_at=sa.func.datetime("now", "-40 days")))
    assert retention(dry_run=True)["candidates"] == 1 and installation.evidence.exists(sha256)
    done = retention()
    assert (done["retention_days"], done["purged"]) == (30, 1) and not installation.evidence.exists(sha256)
    assert [e.actor for e in installation.catalog.audit_entries(action="evidence.purge")] == ["retention"]


def test_migration_0009_counts_attempts_on_both_databases(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)

    assert catalog.migrate() == head_revision()  # 0009 and the other feature branches, merged
    with catalog.read() as conn:
        assert "attempts" in {c["name"] for c in sa.inspect(conn).get_columns("media")}
    report = catalog.add_report("http://example.test/", actor="t")
    catalog.record_crawl(report, CrawlResult("u", media=(MediaRecord("a" * 64, 1),)))
    assert not catalog.record_transient_failure("a" * 64, "503", [report], quarantine_after=2)
    assert catalog.record_transient_failure("a" * 64, "503 again", [report], quarantine_after=2)
    with catalog.read() as conn:
        assert conn.execute(sa.select(media.c.status, media.c.attempts)).one() == ("error", 2)
    catalog.dispose()


def test_task_runner_follows_the_settings() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    threads = task_runner(Settings(flow_threads=3))
    assert isinstance(threads, ThreadPoolTaskRunner) and threads._max_workers == 3
    local = task_runner(Settings(dask_workers=3, flow_threads=8))
    assert isinstance(local, DaskTaskRunner) and local.cluster_kwargs["n_workers"] == 3
    assert local.cluster_kwargs["threads_per_worker"] == 2
    remote = task_runner(Settings(dask_address="tcp://10.0.0.5:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"


def test_tasks_in_one_process_share_one_installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow tasks open the installation through ``flows.common.installation``: once per
    process and settings, so every task shares one PostgreSQL connection pool (each task
    opening its own engine ran the server out of connections with 1,000 reports)."""
    from concurrent.futures import ThreadPoolExecutor

    from flows.common import installation

    with postgres_database("hotline_share") as url:
        monkeypatch.setenv("HOTLINE_CATALOG_URL", url)
        for name in ("a", "b"):
            Installation.init(Settings(data_dir=tmp_path / name)).close()
        monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "a"))

        def task(_: int) -> int:
            inst = installation()
            inst.catalog.schema_revision()
            return id(inst)

        with ThreadPoolExecutor(8) as pool:
            assert len(set(pool.map(task, range(300)))) == 1
        first = installation()
        admin = sa.create_engine(url)
        with admin.connect() as conn:
            open_connections = conn.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"))
        assert open_connections <= 8 + 1  # the pool's, at most one per thread, and this one
        monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "b"))  # other settings: another installation
        second = installation()
        assert second is not first and second.settings.data_dir == tmp_path / "b"
        assert first.catalog.engine.pool.checkedin() == 0  # the old one was closed
        second.close()
        admin.dispose()
