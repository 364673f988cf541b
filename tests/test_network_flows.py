"""The network view through Prefect's engine, two hotlines on one machine: a URL reported to
both is crawled once in the network, an item one decided arrives pre-decided at the other,
and the lists travel by the scheduled flows (export-partners with ``lists``, import-bundles)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_support import make_installation, register
from people import reviewers

from catalog.decisions.records import GradingRecord
from flows.export_bundles import export_bundles
from flows.export_partners import export_partners
from flows.import_bundles import import_bundles
from flows.process_report import process_report
from hotline.demo.local_site import serve_site, synthetic_image
from hotline.installation import Installation
from hotline.services.decisions import decide
from hotline.services.partner_exchange import open_bundle

pytestmark = pytest.mark.usefixtures("prefect_server")


def _as(monkeypatch: pytest.MonkeyPatch, inst: Installation) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(inst.settings.data_dir))
    monkeypatch.setenv("HOTLINE_COUNTRY", inst.settings.country)


def test_a_url_reported_to_two_hotlines_is_crawled_once_and_a_decided_item_arrives_pre_decided(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nl, at = make_installation(tmp_path, "nl", "NL"), make_installation(tmp_path, "at", "AT")
    register(nl, at, "at-hotline", countries=["AT"])
    register(at, nl, "nl-hotline", countries=["NL"])
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
        assert sent["deliveries"]["at-hotline"][0]["destination"] == "list:at-hotline"

        # the same URL reaches AT later, and a mirror of the same picture
        same = at.catalog.add_report(site.url("/page"), actor="public")
        mirror = at.catalog.add_report(site.url("/mirror"), actor="public")
        _as(monkeypatch, at)
        polled = import_bundles()
        assert polled["refused"] == [] and polled["imported"][0]["list_entries"] == 2
        summary = process_report()
        requests = site.requests

    assert requests.count("/page") == 1 and requests.count("/mirror") == 1  # crawled once in the network
    assert at.catalog.get_report(same).status == "linked" and summary["reports"] == [mirror]
    assert summary["partner_decided"] == 1 and summary["queued"] == 1
    (seen,) = at.catalog.partner_handling(sha256=item)
    assert (seen.partner, seen.verdict) == ("nl-hotline", "baseline")
    assert at.catalog.media_in_status([item], "queued") == {item}  # pre-decided, not decided

    # NL's INTERPOL bundle: the item is new material (no set nor partner had it at NL)
    _as(monkeypatch, nl)
    exported = export_bundles()
    manifest = open_bundle(nl, Path(exported["location"]), actor="test").manifest
    assert [(i["sha256"], i["new_material"]) for i in manifest["items"]] == [(item, True)]
    nl.close()
    at.close()
