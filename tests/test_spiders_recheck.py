"""Takedown re-checks, the catalog's new crawl columns and migration 0004, and the
report options of the command line.

Re-checks fetch from test sites on 127.0.0.1 through the same guarded worker as crawls;
DNS failures come from scripted answers, never from real DNS.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from catalog.catalog import Catalog
from catalog.db import _alembic_config
from catalog.decisions.records import Verdict
from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult, PageRecord, RecheckRecord, RecheckTarget
from flows.recheck import recheck_takedowns
from hotline.cli import app
from hotline.demo.local_site import Reply, Route, SiteRequest, serve_site, synthetic_image, unused_port
from hotline.installation import Installation
from spiders import CrawlRequest
from spiders.takedown_recheck import Observation, judge, recheck_confirmed

PICS = {n: synthetic_image(200 + n, size=(80, 60)) for n in range(8)}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- judging one observation (pure) -----------------------------------------------------

TARGET = RecheckTarget(report_id=3, sha256=sha(PICS[0]), url="https://host.test/a.jpg")


@pytest.mark.parametrize(
    ("seen", "outcome", "detail"),
    [
        (Observation(TARGET.url, NOW, 200, TARGET.url, sha(PICS[0]), "image/jpeg"), "still-up",
         "same item served"),
        (Observation(TARGET.url, NOW, 200, "https://cdn.test/a.jpg", sha(PICS[0]), "image/jpeg"),
         "still-up", "same item served at https://cdn.test/a.jpg"),
        (Observation(TARGET.url, NOW, 200, TARGET.url, sha(PICS[1]), "image/png"), "changed",
         f"other media (image/png, sha256 {sha(PICS[1])[:16]}); HTTP 200"),
        (Observation(TARGET.url, NOW, 200, TARGET.url, sha(b"<html>removed</html>")), "changed",
         "no media any more; HTTP 200"),
        (Observation(TARGET.url, NOW, 404, error="HTTP 404", gone=True), "missing", "HTTP 404"),
        (Observation(TARGET.url, NOW, error="connection refused"), None, "inconclusive: connection refused"),
        (Observation(TARGET.url, NOW, error="timed out after 20 s (request_timeout_s)"), None,
         "inconclusive: timed out after 20 s (request_timeout_s)"),
        (Observation(TARGET.url, NOW, 503, error="HTTP 503"), None, "inconclusive: HTTP 503"),
        (None, None, "not checked: the re-check run stopped at its time limit"),
    ],
)
def test_judge(seen: Observation | None, outcome: str | None, detail: str) -> None:
    row, text = judge(TARGET, seen)
    assert text == detail
    if outcome is None:
        assert row is None
    else:
        assert row == RecheckRecord(3, TARGET.sha256, TARGET.url, NOW, outcome,
                                    seen.http_status if seen else None, detail)


# --- re-checks against a live site ------------------------------------------------------


def confirmed_sightings(catalog: Catalog, urls: dict[str, tuple[bytes, Verdict]]) -> int:
    """A report whose crawl saw ``urls`` (URL -> bytes, verdict); verdicts recorded."""
    report_id = catalog.add_report("http://reported.test/", actor="test")
    media = {sha(b): MediaRecord(sha(b), len(b), "image/jpeg") for b, _ in urls.values()}
    result = CrawlResult(
        url="http://reported.test/",
        pages=(PageRecord("http://reported.test/", "http://reported.test/", 200),),
        media=tuple(media.values()),
        sightings=tuple(SightingRecord(sha(b), url, "http://reported.test/") for url, (b, _) in urls.items()),
    )
    catalog.record_crawl(report_id, result)
    catalog.record_hashes([HashRecord(s, "sha256", s) for s in media])
    for data, verdict in urls.values():
        catalog.record_verdict(sha(data), verdict, actor="ann")
    return report_id


def test_recheck_records_still_up_changed_removed(installation: Installation) -> None:
    catalog = installation.catalog
    served: dict[str, Route] = {
        "/a.jpg": (PICS[0], "image/jpeg"),  # still up
        "/b.jpg": (PICS[7], "image/jpeg"),  # other picture now
        "/c.jpg": Reply(b"gone", status=410),
        "/e.jpg": Reply(b"busy", status=503),  # proves nothing
        "/f.jpg": (PICS[5], "image/jpeg"),  # not-illegal: never re-checked
        "/moved.jpg": Reply.redirect("/a-copy.jpg"),
        "/a-copy.jpg": (PICS[6], "image/jpeg"),
    }
    with serve_site(served) as site:
        dead = unused_port()
        report_id = confirmed_sightings(catalog, {
            site.url("/a.jpg"): (PICS[0], Verdict.BASELINE),
            site.url("/b.jpg"): (PICS[1], Verdict.NATIONAL),
            site.url("/c.jpg"): (PICS[2], Verdict.BASELINE),
            site.url("/d.jpg"): (PICS[3], Verdict.NATIONAL),  # 404
            site.url("/e.jpg"): (PICS[4], Verdict.BASELINE),
            site.url("/f.jpg"): (PICS[5], Verdict.NOT_ILLEGAL),
            site.url("/moved.jpg"): (PICS[6], Verdict.BASELINE),
            f"http://gone.test:{site.port}/g.jpg": (PICS[7], Verdict.BASELINE),  # the name does not exist
            f"http://127.0.0.1:{dead}/h.jpg": (PICS[6], Verdict.BASELINE),  # connection refused: proves nothing
        })
        assert {t.url for t in catalog.recheck_targets()} == {
            site.url(p) for p in ("/a.jpg", "/b.jpg", "/c.jpg", "/d.jpg", "/e.jpg", "/moved.jpg")
        } | {f"http://gone.test:{site.port}/g.jpg", f"http://127.0.0.1:{dead}/h.jpg"}
        def limits(url: str) -> CrawlRequest:
            return CrawlRequest(url, allow=(site.host_port, f"127.0.0.1:{dead}"), request_timeout_s=5)

        summary = recheck_confirmed(catalog, limits, removed_after=2, test_hosts={"gone.test": []})
        assert "/f.jpg" not in site.requests
        # gone at one check is missing; gone at two in a row is removed
        assert (summary.targets, summary.still_up, summary.changed, summary.missing, summary.removed,
                summary.inconclusive) == (8, 2, 1, 3, 0, 2)
        again = recheck_confirmed(catalog, limits, removed_after=2, test_hosts={"gone.test": []})
        assert (again.missing, again.removed, again.inconclusive) == (0, 3, 2)

    outcomes = {r.url.rsplit("/", 1)[1]: (r.outcome, r.http_status, r.detail) for r in catalog.rechecks_of()}
    nxdomain = "DNS lookup failed for 'gone.test' ([Errno -2] 'gone.test' does not exist (scripted NXDOMAIN))"
    assert outcomes == {
        "a.jpg": ("still-up", 200, "same item served"),
        "moved.jpg": ("still-up", 200, f"same item served at {site.url('/a-copy.jpg')}"),
        "b.jpg": ("changed", 200, f"other media (image/jpeg, sha256 {sha(PICS[7])[:16]}); HTTP 200"),
        "c.jpg": ("removed", 410, "HTTP 410"),
        "d.jpg": ("removed", 404, "HTTP 404"),
        "g.jpg": ("removed", None, nxdomain),
    }
    assert [r.outcome for r in catalog.rechecks_of(url=site.url("/c.jpg"))] == ["missing", "removed"]
    rows = catalog.rechecks_of(url=site.url("/a.jpg"))
    assert rows[0].report_id == report_id and rows[0].sha256 == sha(PICS[0])
    assert sorted({(e.stage, e.reason) for e in catalog.report_errors(report_id)}) == [
        ("recheck", "inconclusive: HTTP 503"), ("recheck", "inconclusive: connection refused")
    ]
    # the next run starts with the URLs checked longest ago (all checked now: oldest first)
    assert len(catalog.recheck_targets(limit=3)) == 3


def test_recheck_sends_the_page_as_referer_and_the_reporters_user_agent(installation: Installation) -> None:
    """A hotlink-protected host serves media only to its own pages: without the Referer a
    re-check would see 403 (inconclusive) where the item is in fact still up."""
    catalog = installation.catalog
    agent = "Mozilla/5.0 (reporter's browser)"
    seen: list[dict[str, str]] = []

    def hotlinked(request: SiteRequest) -> Reply:
        seen.append({k.lower(): v for k, v in request.headers.items()})
        if request.headers.get("Referer") != page_url:
            return Reply(b"hotlinking not allowed", status=403)
        return Reply(PICS[0], content_type="image/jpeg")

    with serve_site({"/a.jpg": hotlinked}) as site:
        page_url = site.url("/gallery.html")
        report_id = catalog.add_report(page_url, actor="test", user_agent=agent)
        catalog.record_crawl(report_id, CrawlResult(
            url=page_url, pages=(PageRecord(page_url, page_url, 200),),
            media=(MediaRecord(sha(PICS[0]), len(PICS[0]), "image/jpeg"),),
            sightings=(SightingRecord(sha(PICS[0]), site.url("/a.jpg"), page_url),),
        ))
        catalog.record_hashes([HashRecord(sha(PICS[0]), "sha256", sha(PICS[0]))])
        catalog.record_verdict(sha(PICS[0]), Verdict.BASELINE, actor="ann")
        assert catalog.recheck_targets() == [
            RecheckTarget(report_id, sha(PICS[0]), site.url("/a.jpg"), page_url, agent)
        ]
        summary = recheck_confirmed(catalog, lambda url: CrawlRequest(url, allow=(site.host_port,)))
    assert summary.still_up == 1 and summary.inconclusive == 0
    assert [(h["referer"], h["user-agent"]) for h in seen] == [(page_url, agent)]


def test_recheck_refuses_what_a_crawl_refuses(installation: Installation) -> None:
    """A confirmed URL now redirecting into the hotline's network is not followed."""
    with serve_site({"/secret": (PICS[0], "image/png")}) as inside:
        with serve_site({"/a.jpg": Reply.redirect(inside.url("/secret"))}) as site:
            confirmed_sightings(installation.catalog, {site.url("/a.jpg"): (PICS[0], Verdict.BASELINE)})
            summary = recheck_confirmed(installation.catalog,
                                        lambda url: CrawlRequest(url, allow=(site.host_port,)))
        assert inside.requests == []
    assert summary.inconclusive == 1 and installation.catalog.rechecks_of() == []


@pytest.mark.usefixtures("prefect_server")
def test_recheck_flow(installation: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_site({"/a.jpg": (PICS[0], "image/jpeg")}) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        confirmed_sightings(installation.catalog, {site.url("/a.jpg"): (PICS[0], Verdict.BASELINE),
                                                   site.url("/b.jpg"): (PICS[1], Verdict.NATIONAL)})
        monkeypatch.setenv("HOTLINE_RECHECK_REMOVED_AFTER", "1")  # one 404 is enough here
        summary = recheck_takedowns()
    assert summary == {"targets": 2, "still_up": 1, "changed": 0, "missing": 0, "removed": 1, "inconclusive": 0}
    assert {r.outcome for r in installation.catalog.rechecks_of()} == {"still-up", "removed"}


def test_a_media_host_stopped_for_one_recheck_removes_nothing(installation: Installation) -> None:
    """The host restarts while a re-check runs: every connection is refused. That proves
    nothing about the content: no URL counts as removed, and the share removed stays 0."""
    from stats import compute_figures

    catalog = installation.catalog
    served: dict[str, Route] = {f"/{n}.jpg": (PICS[n], "image/jpeg") for n in range(8)}
    with serve_site(served) as site:
        confirmed_sightings(catalog, {site.url(f"/{n}.jpg"): (PICS[n], Verdict.BASELINE) for n in range(8)})
        allow = site.host_port
        assert recheck_confirmed(catalog, lambda url: CrawlRequest(url, allow=(allow,))).still_up == 8
    summary = recheck_confirmed(catalog, lambda url: CrawlRequest(url, allow=(allow,)), removed_after=2)
    assert (summary.targets, summary.removed, summary.missing, summary.inconclusive) == (8, 0, 0, 8)
    assert {r.outcome for r in catalog.rechecks_of()} == {"still-up"}
    (removal,) = [r for r in compute_figures(catalog).views["time_to"] if r["stage"] == "removal"]
    assert (removal["eligible"], removal["reached"], removal["within_3_days"]) == (8, 0, 0)


# --- catalog: new columns and migration 0004 --------------------------------------------


def test_crawl_evidence_columns_round_trip(installation: Installation) -> None:
    catalog = installation.catalog
    report_id = catalog.add_report("https://t.test/x", actor="ann", referer="https://r.test/",
                                   pathway=("https://s.test/1", "https://r.test/"), user_agent="Firefox/128")
    report = catalog.get_report(report_id)
    assert report.pathway == ("https://s.test/1", "https://r.test/") and report.user_agent == "Firefox/128"
    request = installation.crawl_request(report)
    assert request.pathway == report.pathway and request.user_agent == "Firefox/128"
    digest = sha(PICS[0])
    catalog.record_crawl(report_id, CrawlResult(
        url=report.url,
        pages=(PageRecord(report.url, report.url, 200, "8.8.8.8", "US", view="pathway",
                          referer="https://r.test/", headers={"Server": "nginx"}),),
        media=(MediaRecord(digest, 10),),
        sightings=(SightingRecord(digest, "https://t.test/a", report.url, "8.8.8.8", "US",
                                  final_url="https://cdn.test/a", redirects=("https://t.test/a",),
                                  http_status=200, content_type="text/plain", headers={"Via": "cdn"}),),
    ))
    with catalog.read() as conn:
        page = conn.execute(sa.text("SELECT view, referer, headers, country FROM pages")).one()
        seen = conn.execute(sa.text(
            "SELECT final_url, redirects, http_status, content_type, headers, country FROM sightings")).one()
    assert tuple(page[:2]) == ("pathway", "https://r.test/") and json.loads(page[2]) == {"Server": "nginx"}
    assert page[3] == "US"
    assert seen[0] == "https://cdn.test/a" and json.loads(seen[1]) == ["https://t.test/a"]
    assert tuple(seen[2:4]) == (200, "text/plain") and json.loads(seen[4]) == {"Via": "cdn"}


def test_migration_0004_upgrades_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    catalog = Catalog(url)
    cfg = _alembic_config()
    with catalog.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.commit()
        conn.execute(sa.text("INSERT INTO reports (url, source, status, received_at) "
                             "VALUES ('https://old.test/', 'public', 'done', '2026-01-01')"))
        conn.commit()
        command.upgrade(cfg, "0004")
        conn.commit()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("sightings")}
        assert {"final_url", "redirects", "http_status", "content_type", "headers"} <= columns
        assert conn.execute(sa.text("SELECT url, pathway FROM reports")).one() == ("https://old.test/", None)
        command.downgrade(cfg, "0001")
        conn.commit()
        assert "pathway" not in {c["name"] for c in sa.inspect(conn).get_columns("reports")}
        assert conn.execute(sa.text("SELECT count(*) FROM reports")).scalar() == 1
    catalog.dispose()


# --- command line -----------------------------------------------------------------------


def test_report_add_with_pathway_and_user_agent(installation: Installation) -> None:
    runner = CliRunner()
    result = runner.invoke(app, [
        "report", "add", "https://t.test/x", "--pathway", "https://s.test/1", "--pathway", "https://s.test/2",
        "--user-agent", "Firefox/128", "--referer", "https://s.test/2", "--json",
    ])
    assert result.exit_code == 0, result.output
    report = installation.catalog.get_report(json.loads(result.stdout)["id"])
    assert (report.pathway, report.user_agent, report.referer) == (
        ("https://s.test/1", "https://s.test/2"), "Firefox/128", "https://s.test/2")
    bad = runner.invoke(app, ["report", "add", "https://t.test/x", "--pathway", "file:///etc/passwd"])
    assert bad.exit_code != 0 and "pathway step must be an http or https URL" in bad.stderr


def test_a_failed_worker_leaves_every_url_inconclusive(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import spiders.takedown_recheck

    report_id = confirmed_sightings(installation.catalog, {"http://127.0.0.1:9/a.jpg": (PICS[0], Verdict.BASELINE)})
    monkeypatch.setattr(spiders.takedown_recheck, "WORKER", (sys.executable, "-c", "import sys; sys.exit(3)"))
    summary = recheck_confirmed(installation.catalog, installation.recheck_request)
    assert (summary.targets, summary.inconclusive) == (1, 1) and installation.catalog.rechecks_of() == []
    [error] = installation.catalog.report_errors(report_id)
    assert error.stage == "recheck" and error.reason.startswith("not checked: crawl worker exited with status 3")


@pytest.mark.usefixtures("prefect_server")
def test_recheck_command(installation: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["recheck", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"targets": 0, "still_up": 0, "changed": 0, "missing": 0, "removed": 0,
                                         "inconclusive": 0, "urls": []}
    # with URLs: the whole re-check history of each URL the run checked
    with serve_site({"/a.jpg": (PICS[0], "image/jpeg")}) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        confirmed_sightings(installation.catalog, {site.url("/a.jpg"): (PICS[0], Verdict.BASELINE),
                                                   site.url("/b.jpg"): (PICS[1], Verdict.NATIONAL)})
        runs = [CliRunner().invoke(app, ["recheck", "--json"]) for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0], runs[-1].output
    urls = {u["url"].rsplit("/", 1)[1]: u for u in json.loads(runs[-1].stdout)["urls"]}
    assert [c["outcome"] for c in urls["a.jpg"]["checks"]] == ["still-up", "still-up"]
    assert (urls["a.jpg"]["outcome"], urls["a.jpg"]["removed_at"]) == ("still-up", None)
    gone = urls["b.jpg"]
    assert [(c["outcome"], c["http_status"]) for c in gone["checks"]] == [("missing", 404), ("removed", 404)]
    assert gone["outcome"] == "removed" and gone["removed_at"] == gone["checks"][1]["checked_at"]
    assert gone["sha256"] == sha(PICS[1]) and gone["report_id"] == 1
