"""The network view through Prefect's engine, two hotlines on one machine: a URL reported to
both is crawled once in the network, an item one decided arrives decided at the other (its
law profile derives its own verdict from the partner's grading: not queued, not sent to
INTERPOL as its own) and goes back to review when the partner corrects it, and the lists
travel by the scheduled flows (export-partners with ``lists``, import-bundles)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_support import make_installation, register
from people import reviewers
from typer.testing import CliRunner

from catalog.decisions.records import PARTNER_DECISION, GradingRecord, Verdict
from flows.export_bundles import export_bundles
from flows.export_partners import export_partners
from flows.import_bundles import import_bundles
from flows.process_report import process_report
from hotline.cli import app
from hotline.demo.local_site import serve_site, synthetic_image
from hotline.installation import Installation
from hotline.services.decisions import decide
from hotline.services.partner_exchange import open_bundle

pytestmark = pytest.mark.usefixtures("prefect_server")


def _as(monkeypatch: pytest.MonkeyPatch, inst: Installation) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(inst.settings.data_dir))
    monkeypatch.setenv("HOTLINE_COUNTRY", inst.settings.country)


def test_a_url_reported_to_two_hotlines_is_crawled_once_and_a_decided_item_is_not_queued_at_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nl, de = make_installation(tmp_path, "nl", "NL"), make_installation(tmp_path, "de", "DE")
    register(nl, de, "de-hotline", countries=["DE"])
    register(de, nl, "nl-hotline", countries=["NL"])
    reviewers(nl.catalog)
    picture = synthetic_image(50)
    routes = {"/page": b"<img src='/p.jpg'>", "/mirror": b"<img src='/m.jpg'>",
              "/p.jpg": (picture, "image/jpeg"), "/m.jpg": (picture, "image/jpeg")}
    with serve_site(routes) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        nl.catalog.add_report(site.url("/page"), actor="public")
        _as(monkeypatch, nl)
        assert process_report()["media"] == 1
        (item,) = nl.catalog.media_of_reports([1])
        decide(nl, item, "ann", graded=GradingRecord("prepubescent", ("female",), "real", True, True, 3))
        sent = export_partners(lists=True)
        assert sent["deliveries"]["de-hotline"][0]["destination"] == "list:de-hotline"

        # the same URL reaches DE later, and a mirror of the same picture
        same = de.catalog.add_report(site.url("/page"), actor="public")
        mirror = de.catalog.add_report(site.url("/mirror"), actor="public")
        _as(monkeypatch, de)
        polled = import_bundles()
        assert polled["refused"] == [] and polled["imported"][0]["list_entries"] == 2
        summary = process_report()
        requests = site.requests

    assert requests.count("/page") == 1 and requests.count("/mirror") == 1  # crawled once in the network
    assert de.catalog.get_report(same).status == "linked" and summary["reports"] == [mirror]
    # decided by NL's analyst: DE's own law profile derived DE's verdict from NL's grading
    assert summary["partner_decided"] == 1 and summary["partner_auto_classified"] == 1 and summary["queued"] == 0
    (seen,) = de.catalog.partner_handling(sha256=item)
    assert (seen.partner, seen.verdict, seen.grading["age_group"]) == ("nl-hotline", "baseline", "prepubescent")
    (outcome,) = de.catalog.outcomes([mirror])
    assert (outcome.status, outcome.verdict, outcome.verdict_source, outcome.set_name) == (
        "classified", Verdict.BASELINE, PARTNER_DECISION, "nl-hotline")
    assert {j["jurisdiction"] for j in de.catalog.item_decisions(item)["jurisdictions"]} >= {"INTERPOL", "DE"}
    assert de.catalog.cluster_of(item) is None  # never queued
    (auto,) = de.catalog.audit_entries("verdict.auto", 10, subject=item)
    assert auto.detail["partner"] == "nl-hotline" and auto.detail["partner_verdict"] == "baseline"
    shown = CliRunner().invoke(app, ["report", "show", str(mirror)], env={
        "HOTLINE_DATA_DIR": str(de.settings.data_dir), "HOTLINE_COUNTRY": "DE"}, terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert f"item {item[:12]} already decided by partner nl-hotline" in shown.output
    assert "its grading applied: our law profiles derived our verdict" in shown.output

    # DE's INTERPOL export: nobody at DE decided it, so it is not sent as DE's
    assert export_bundles()["deliveries"] == []

    # NL's senior grades it again (a correction): DE's copy goes back to review, not re-derived
    _as(monkeypatch, nl)
    decide(nl, item, "sam", graded=GradingRecord("pubescent", ("female",), "real", True, False, 2),
           reason="a second look: a teenager")
    export_partners(lists=True)
    _as(monkeypatch, de)
    assert import_bundles()["refused"] == []
    (outcome,) = de.catalog.outcomes([mirror])
    assert (outcome.status, outcome.verdict) == ("queued", None)
    assert de.catalog.cluster_of(item) is not None
    (withdrawn,) = de.catalog.audit_entries("verdict.withdraw", 10, subject=item)
    assert "nl-hotline" in withdrawn.detail["reason"]
    (seen,) = de.catalog.partner_handling(sha256=item)
    assert (seen.verdict, seen.grading["age_group"]) == ("national", "pubescent")  # shown as it is now

    # NL's INTERPOL bundle: the item is new material (no set nor partner had it at NL)
    _as(monkeypatch, nl)
    exported = export_bundles()
    manifest = open_bundle(nl, Path(exported["location"]), actor="test").manifest
    assert [(i["sha256"], i["new_material"]) for i in manifest["items"]] == [(item, True)]
    nl.close()
    de.close()
