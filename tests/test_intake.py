"""Filing reports in bulk: `hotline report add --from FILE` (text and CSV, stdin), a URL
reported again linked to the earlier report instead of crawled twice, and the HTTP intake
(tokens per client, idempotency keys, size and rate limits, the OpenAPI description)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from people import NO_LOGIN, hotline_cli

from catalog.reports.records import NewReport
from hotline.demo.local_site import unused_port
from hotline.installation import Installation
from hotline.services.identity import token_hash
from hotline.services.intake import IntakeEntry, file_reports
from hotline.settings import Settings
from review.app import create_app
from review.server import running


def test_a_file_of_urls_is_filed_in_batches_repeats_linked_and_bad_lines_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    hotline_cli(data_dir, "init")
    urls = tmp_path / "urls.txt"
    urls.write_text("# reports of the week\nhttp://a.test/1\n\nftp://a.test/2\nhttp://A.test:80/1#top\nhttp://a.test/3\n"
                    "not a url\n")
    summary = json.loads(hotline_cli(data_dir, "report", "add", "--from", str(urls), "--json",
                                     HOTLINE_INTAKE_BATCH_SIZE="2").stdout)
    assert (summary["added"], summary["first_id"], summary["last_id"]) == (2, 1, 3)
    assert [(r["line"], r["id"], r["linked_to"]) for r in summary["linked"]] == [(5, 2, 1)]  # one URL identity
    assert [(r["line"], r["value"]) for r in summary["refused"]] == [(4, "ftp://a.test/2"), (7, "not a url")]
    assert "http or https" in summary["refused"][0]["reason"]

    csv_text = ("url,pathway,user_agent,reporter_ref,received_at\n"
                "http://a.test/3,http://s.test/1 http://s.test/2,Mozilla/5.0,CASE-9,2026-12-01T10:00:00+01:00\n"
                "http://b.test/x,http://s.test/1,,CASE-10,2026-12-01T09:00:00Z\n"
                "http://b.test/y,,,,yesterday\n")
    again = json.loads(hotline_cli(data_dir, "report", "add", "--from", "-", "--json", stdin=csv_text).stdout)
    assert again["added"] == 1 and [r["linked_to"] for r in again["linked"]] == [3]
    assert [r["line"] for r in again["refused"]] == [4] and "ISO 8601" in again["refused"][0]["reason"]
    shown = json.loads(hotline_cli(data_dir, "report", "show", str(again["first_id"]), "--json").stdout)["report"]
    assert (shown["pathway"], shown["user_agent"], shown["reporter_ref"], shown["received_at"]) == (
        ["http://s.test/1"], None, "CASE-10", "2026-12-01T09:00:00Z")
    linked = hotline_cli(data_dir, "report", "show", "2").stdout
    assert "linked to report 1" in linked
    listed = {r["id"]: r["status"] for r in json.loads(hotline_cli(data_dir, "report", "list", "--json").stdout)}
    assert listed[2] == "linked" and listed[1] == "pending"  # a linked report is never claimed for a crawl

    single = json.loads(hotline_cli(data_dir, "report", "add", "http://a.test/1", "--json").stdout)
    assert single["status"] == "linked" and single["linked_to"] == 1
    fresh = json.loads(hotline_cli(data_dir, "report", "add", "http://a.test/1", "--again", "--json").stdout)
    assert fresh["status"] == "pending"
    audit = json.loads(hotline_cli(data_dir, "audit", "--json").stdout)
    intakes = [e for e in audit if e["action"] == "report.intake"]
    assert {e["subject"] for e in intakes} >= {str(urls), "stdin", "command line"}
    assert sum(e["action"] == "report.add" for e in audit) == 7


def test_the_duplicate_window_is_a_setting(installation: Installation) -> None:
    catalog = installation.catalog
    old = catalog.add_reports([NewReport(url="http://c.test/", url_key="http://c.test/")], actor="system")[0]
    # an earlier report received long ago is outside the window
    later = catalog.add_reports([NewReport(url="http://c.test/", url_key="http://c.test/")], actor="system",
                                link_within=timedelta(days=30))[0]
    assert later.linked_to == old.id
    with catalog.write() as conn:
        from catalog.schema import reports

        conn.execute(reports.update().values(received_at=reports.c.received_at - timedelta(days=31)))
    entry = IntakeEntry(line=1, url="http://c.test/")
    crawled = file_reports(catalog, [entry], installation.settings, actor="system", via="test", keep_results=True)
    assert crawled.results[0].status == "added"
    never = installation.settings.model_copy(update={"intake_duplicate_window_days": 0})
    assert file_reports(catalog, [entry], never, actor="system", via="test", keep_results=True).results[0].status == "added"


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Installation, str, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("intake") / "data", intake_rate_per_minute=8,
                        intake_max_body_bytes=4000, intake_max_reports=10)
    inst = Installation.init(settings)
    inst.catalog.add_user("root", "admin", NO_LOGIN, actor="system")
    inst.catalog.add_user("ana", "analyst", NO_LOGIN, actor="root")
    tokens = {"form": "form-token", "burst": "burst-token", "ana": "analyst-token"}
    for client in ("form", "burst"):
        inst.catalog.issue_intake_token(client, token_hash(tokens[client]), timedelta(days=1), actor="root")
    inst.catalog.start_cli_token("ana", token_hash(tokens["ana"]), timedelta(days=1))
    with running(create_app(inst), unused_port()) as url:
        yield inst, url, tokens
    inst.close()


def _post(url: str, token: str | None, body: object, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{url}/api/reports", content=json.dumps(body), headers=headers, timeout=60)


def test_the_http_intake_files_reports_once_per_idempotency_key(intake) -> None:  # type: ignore[no-untyped-def]
    inst, url, tokens = intake
    body = {"reports": [{"url": "http://d.test/1", "reporter_ref": "F-1"}, {"url": "http://d.test/1#again"},
                        {"url": "file:///etc/passwd"}]}
    assert _post(url, None, body).status_code == 401
    assert _post(url, "wrong", body).status_code == 401
    assert _post(url, tokens["ana"], body).status_code == 403  # an analyst's login is no intake client
    first = _post(url, tokens["form"], body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    answer = first.json()
    assert (answer["added"], answer["linked"], answer["refused"]) == (1, 1, 1)
    added, linked, refused = answer["reports"]
    assert linked["linked_to"] == added["id"] and refused["status"] == "refused" and "http" in refused["reason"]
    assert inst.catalog.get_report(added["id"]).source == "form"
    assert inst.catalog.get_report(added["id"]).reporter_ref == "F-1"

    replay = _post(url, tokens["form"], body, **{"Idempotency-Key": "k-1"})
    assert (replay.status_code, replay.json(), replay.headers["idempotent-replayed"]) == (201, answer, "true")
    assert len(inst.catalog.list_reports()) == 2  # nothing filed twice
    other = _post(url, tokens["form"], {"reports": [{"url": "http://d.test/2"}]}, **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    assert _post(url, tokens["form"], {"reports": [{"url": "http://d.test/2", "colour": "red"}]}).status_code == 422
    assert _post(url, tokens["form"], {"reports": [{"url": "x" * 5000}]}).status_code == 413
    many = {"reports": [{"url": f"http://d.test/m{i}"} for i in range(11)]}
    assert _post(url, tokens["form"], many).status_code == 413
    intakes = [e for e in inst.catalog.audit_entries("report.intake") if e.actor == "form"]
    assert intakes and intakes[-1].detail == {"source": "form", "added": 1, "linked": 1, "refused": 1}


def test_the_http_intake_limits_each_clients_rate_and_describes_itself(intake) -> None:  # type: ignore[no-untyped-def]
    _inst, url, tokens = intake
    answers = [_post(url, tokens["burst"], {"reports": [{"url": f"http://e.test/{i}"}]}) for i in range(9)]
    assert [a.status_code for a in answers[:8]] == [201] * 8
    assert answers[8].status_code == 429 and int(answers[8].headers["retry-after"]) >= 1
    spec = httpx.get(f"{url}/api/openapi.json", timeout=60).json()
    post = spec["paths"]["/api/reports"]["post"]
    assert {"201", "401", "409", "413", "429"} <= set(post["responses"])
    assert "url" in spec["components"]["schemas"]["ReportIn"]["properties"]


def test_a_batch_links_repeats_in_one_transaction_on_every_catalog(catalog_url: str) -> None:
    from catalog.catalog import Catalog

    catalog = Catalog(catalog_url)
    catalog.migrate()
    try:
        entries = [NewReport(url=u, url_key=k) for u, k in [
            ("http://f.test/1", "http://f.test/1"), ("http://F.test/1#x", "http://f.test/1"),
            ("http://f.test/2", "http://f.test/2"), ("http://f.test/1", "http://f.test/1")]]
        filed = catalog.add_reports(entries, actor="system", link_within=timedelta(days=1))
        assert [(f.url, f.linked_to) for f in filed] == [
            ("http://f.test/1", None), ("http://F.test/1#x", filed[0].id), ("http://f.test/2", None),
            ("http://f.test/1", filed[0].id)]
        assert [catalog.get_report(f.id).status for f in filed] == ["pending", "linked", "pending", "linked"]
        catalog.finish_report(filed[2].id, failed=True, error="unreachable")
        again = catalog.add_reports(entries[2:3], actor="system", link_within=timedelta(days=1))
        assert again[0].linked_to is None  # a failed report is no investigation to share
        assert len(catalog.audit_entries("report.add")) == 5
    finally:
        catalog.dispose()
