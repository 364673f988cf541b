"""Crash safety: real flow runs (``hotline run`` / ``hotline export`` in their own process
groups, on the session's Prefect server) are killed with SIGKILL mid-crawl, mid-hash and
mid-export, as a machine dying would, and run again. Afterwards nothing is missing,
nothing is recorded twice, and nothing is delivered twice. Two runs at once share the
reports between them, each crawled once; a killed run's reports wait for its lease to
expire, and the next run finishes them and marks the dead run crashed in Prefect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from people import add_people

from catalog.db import utcnow
from catalog.decisions.records import Verdict
from catalog.schema import crawls, export_items, exports, media, report_errors, reports, runs, sightings, verdicts
from classification import classify
from hashing import hash_image
from hotline.demo.local_site import Route, Site, serve_site, synthetic_image
from hotline.installation import Installation

pytestmark = pytest.mark.usefixtures("prefect_server")

REPORTS = 4
IMAGES = 12  # per report; report r shows pictures r*IMAGES .. r*IMAGES+IMAGES-1, plus a shared one
SHARED = 999  # a picture every report shows (one item, seen in every report)
LEASE = "15"  # seconds a run's claims last unless renewed: a killed run's reports wait this long


def _slow(body: bytes, seconds: float) -> Callable[[object], tuple[bytes, str]]:
    def route(_request: object) -> tuple[bytes, str]:
        time.sleep(seconds)
        return body, "image/jpeg"

    return route


def _picture(seed: int) -> bytes:
    return synthetic_image(seed, (320, 240))


@pytest.fixture
def site() -> Iterator[Site]:
    """REPORTS pages of IMAGES pictures each (served slowly: a crawl takes seconds), a
    picture they all share, and one truncated JPEG."""
    routes: dict[str, Route] = {}
    for r in range(REPORTS):
        names = [f"/p{r}/{n}.jpg" for n in range(IMAGES)]
        routes[f"/r{r}"] = "".join(f"<img src='{n}'>" for n in [*names, "/shared.jpg", "/bad.jpg"]).encode()
        for n, name in enumerate(names):
            routes[name] = _slow(_picture(r * IMAGES + n), 0.15)
    routes["/shared.jpg"] = (_picture(SHARED), "image/jpeg")
    routes["/bad.jpg"] = (_picture(SHARED)[:200], "image/jpeg")
    with serve_site(routes) as served:
        yield served


def _env(inst: Installation, site: Site, **extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_DATA_DIR=str(inst.settings.data_dir), HOTLINE_CRAWL_ALLOW=site.host_port,
               PREFECT_API_URL=str(PREFECT_API_URL.value()), HOTLINE_HASH_BATCH="4", HOTLINE_CLAIM_LEASE_S=LEASE)
    env.update(extra)
    return env


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hotline.cli", *args], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# ``hotline <args>`` whose evidence reads stop the process (SIGSTOP) at the second one: an
# export is then in the middle of writing a bundle's media, however small the bundle
_STOP_AT_SECOND_READ = """
import os, signal, sys
from evidence.store import LocalEvidenceStore
from hotline.cli import main
reads = []
real_get = LocalEvidenceStore.get
def get(self, sha256):
    reads.append(sha256)
    if len(reads) == 2:
        os.kill(os.getpid(), signal.SIGSTOP)
    return real_get(self, sha256)
LocalEvidenceStore.get = get
sys.argv = ["hotline", *sys.argv[1:]]
main()
"""


def _start_stopping(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _STOP_AT_SECOND_READ, *args], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped by a signal (state T in /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "T"


def _kill_when(proc: subprocess.Popen[bytes], reached: Callable[[], bool], what: str, timeout: float = 180) -> None:
    """SIGKILL the run's whole process group (the flow and its crawl workers) once ``reached``."""
    deadline = time.monotonic() + timeout
    while not reached():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"{what} not reached in {timeout} s")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _leases_expire(inst: Installation, timeout: float = 300) -> None:
    """Wait until no run holds a live lease (the killed runs' leases have expired)."""
    deadline = time.monotonic() + timeout
    while _rows(inst, runs, runs.c.ended_at.is_(None), runs.c.expires_at > utcnow()):
        assert time.monotonic() < deadline, f"a lease still live after {timeout} s"
        time.sleep(0.2)


def _count(inst: Installation, query: sa.Select[tuple[int]]) -> int:
    with inst.catalog.read() as conn:
        return int(conn.scalar(query) or 0)


def _rows(inst: Installation, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    return _count(inst, sa.select(sa.func.count()).select_from(table).where(*where))


def _duplicates(inst: Installation, *columns: sa.Column[object]) -> int:
    """Rows beyond the first of each group of equal ``columns``."""
    table = columns[0].table
    grouped = sa.select(sa.func.count().label("n")).select_from(table).group_by(*columns).subquery()
    return _count(inst, sa.select(sa.func.coalesce(sa.func.sum(grouped.c.n - 1), 0)))


def _file_reports(inst: Installation, site: Site) -> list[int]:
    return [inst.catalog.add_report(site.url(f"/r{r}"), actor="t") for r in range(REPORTS)]


def _known_set(inst: Installation, tmp_path: Path) -> None:
    """Two pictures of report 0 are known (exact), so a verdict is given automatically."""
    digests = [hash_image(_picture(n)).sha256 for n in (0, 1)]
    path = tmp_path / "known.parquet"
    pq.write_table(pa.table({"sha256": digests, "id": ["k0", "k1"]}), path)
    inst.import_known_set(path, "crash-known", Verdict.BASELINE)


def _assert_whole_and_once(inst: Installation, ids: list[int]) -> None:
    """Every report done, every picture collected and decided or queued, nothing twice."""
    statuses = {inst.catalog.get_report(i).status for i in ids}
    assert statuses == {"done"}, statuses
    assert _rows(inst, media) == REPORTS * IMAGES + 2  # the pictures, the shared one, the bad one
    assert _rows(inst, sightings) == REPORTS * (IMAGES + 2)
    assert _rows(inst, media, media.c.status.in_(("new", "hashed"))) == 0
    assert _rows(inst, media, media.c.status == "known") == 2
    assert _rows(inst, media, media.c.status == "queued") == REPORTS * IMAGES - 2 + 1
    assert _rows(inst, media, media.c.status == "error") == 1
    assert _duplicates(inst, crawls.c.report_id) == 0, "a crawl recorded before the kill was repeated"
    assert _duplicates(inst, verdicts.c.sha256) == 0
    assert _duplicates(inst, report_errors.c.report_id, report_errors.c.stage, report_errors.c.url,
                       report_errors.c.sha256, report_errors.c.reason) == 0
    with inst.catalog.read() as conn:
        kept = list(conn.scalars(sa.select(media.c.sha256).where(media.c.status != "error")))
    for sha256 in kept:
        inst.evidence.get(sha256)  # the evidence is there and decrypts


def test_killed_mid_crawl_mid_hash_and_mid_export_then_run_again(
    installation: Installation, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.export_bundles import export_bundles
    from flows.process_report import process_report

    _known_set(installation, tmp_path)
    ids = _file_reports(installation, site)
    env = _env(installation, site, HOTLINE_EXPORT_MEDIA="true")

    # 1. killed while crawling: some crawls recorded, others still fetching
    _kill_when(_start(env, "run"), lambda: 1 <= _rows(installation, crawls) < REPORTS, "a first recorded crawl")
    assert _rows(installation, reports, reports.c.status == "processing") == REPORTS
    # 2. run again once the dead run's lease has expired, killed while hashing: every crawl
    # recorded, some batches hashed
    _leases_expire(installation)
    _kill_when(_start(env, "run"), lambda: _rows(installation, crawls) == REPORTS
               and _rows(installation, media, media.c.status != "new") > 0, "hashing under way")
    assert _rows(installation, media, media.c.status == "new") > 0
    # 3. run again, to the end (here, in-process)
    _leases_expire(installation)
    monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
    process_report()
    _assert_whole_and_once(installation, ids)

    # 4. killed while writing a bundle (with media) into the outbox
    queued = [q.sha256 for q in installation.catalog.queue(limit=1000)]
    add_people(installation.catalog, ann="analyst")
    for sha256 in queued:
        classify(installation.catalog, sha256, Verdict.NATIONAL, analyst="ann")
    outbox = installation.settings.outbox_dir
    export = _start_stopping(env, "export")
    _kill_when(export, lambda: _stopped(export.pid) and any(outbox.rglob("*.part")), "a bundle being built")
    assert installation.catalog.exports() == []
    # 5. run again twice: one bundle with every item, then nothing
    monkeypatch.setenv("HOTLINE_EXPORT_MEDIA", "true")
    # the analysts' items; the two known items are baseline, but INTERPOL gets no known-set verdicts
    assert export_bundles()["items"] == len(queued)
    assert export_bundles()["items"] == 0
    assert _rows(installation, exports) == 1 and _rows(installation, export_items) == len(queued)
    drop = sorted(installation.settings.drop_dir.iterdir())
    assert len(drop) == 1 and drop[0].name.endswith(".hlb"), drop
    left = [p.name for p in outbox.rglob("*") if p.suffix in (".hlb", ".json", ".part")]
    assert left == [], "bundles or sidecars left in the outbox"


def test_two_runs_at_once_crawl_each_report_once(installation: Installation) -> None:
    """Two ``hotline run`` processes started together on 30 reports: each report is claimed
    by one of them, so each page is fetched once and crawled once."""
    pages = 30
    routes: dict[str, Route] = {}
    for r in range(pages):
        routes[f"/r{r}"] = f"<img src='/p{r}.jpg'>".encode()
        routes[f"/p{r}.jpg"] = _slow(_picture(r), 0.3)
    with serve_site(routes) as served:
        ids = [installation.catalog.add_report(served.url(f"/r{r}"), actor="t") for r in range(pages)]
        env = _env(installation, served, HOTLINE_CLAIM_LEASE_S="300")
        both = [_start(env, "run"), _start(env, "run")]
        for proc in both:
            _, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, err.decode()[-3000:]
        fetched = served.requests
    assert {installation.catalog.get_report(i).status for i in ids} == {"done"}
    assert _rows(installation, crawls) == pages and _duplicates(installation, crawls.c.report_id) == 0
    for r in range(pages):
        assert fetched.count(f"/r{r}") == 1 and fetched.count(f"/p{r}.jpg") == 1, (r, fetched)
    assert _rows(installation, runs) == 2 and _rows(installation, runs, runs.c.ended_at.is_(None)) == 0


def test_a_killed_runs_reports_are_finished_by_the_next_run_and_it_is_marked_crashed(
    installation: Installation, site: Site
) -> None:
    from prefect.client.orchestration import get_client

    ids = _file_reports(installation, site)
    env = _env(installation, site)
    _kill_when(_start(env, "run"), lambda: 1 <= _rows(installation, crawls) < REPORTS, "a first recorded crawl")
    with installation.catalog.read() as conn:
        (dead,) = conn.scalars(sa.select(runs.c.id))
    # while the dead run's lease lasts, its reports are not for anyone else
    assert installation.catalog.claim_reports("a-probe", limit=100) == []
    _leases_expire(installation)
    finisher = _start(env, "run")
    _, err = finisher.communicate(timeout=900)
    assert finisher.returncode == 0, err.decode()[-3000:]
    assert {installation.catalog.get_report(i).status for i in ids} == {"done"}
    assert _duplicates(installation, crawls.c.report_id) == 0, "a crawl recorded before the kill was repeated"
    assert _rows(installation, media, media.c.status.in_(("new", "hashed"))) == 0
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(uuid.UUID(dead)).state
    assert state is not None and state.is_crashed(), state
