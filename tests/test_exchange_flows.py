"""The exchange flows through Prefect's engine: export-partners (notice-and-takedown items,
then hash sets) from our installation, import-bundles on the partner's."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_support import confirmed_item, make_installation, register

from catalog.decisions.records import Verdict
from flows.export_partners import export_partners
from flows.import_bundles import import_bundles
from hotline.demo.local_site import synthetic_image

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_export_partners_then_import_bundles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = make_installation(tmp_path, "nl", "NL"), make_installation(tmp_path, "at", "AT")
    register(ours, theirs, "at-hotline", countries=["AT"])
    register(ours, theirs, "de-hotline", countries=["DE"])  # nothing hosted there: nothing sent
    register(theirs, ours, "nl-hotline", countries=["NL"])
    confirmed_item(ours, synthetic_image(30), page_url="http://n.example/", country="AT")
    confirmed_item(ours, synthetic_image(31), page_url="http://o.example/", country="US", verdict=Verdict.NATIONAL)

    monkeypatch.setenv("HOTLINE_DATA_DIR", str(ours.settings.data_dir))
    monkeypatch.setenv("HOTLINE_COUNTRY", "NL")
    sent = export_partners()
    assert sent["partners"] == ["at-hotline", "de-hotline"] and sent["items"] == 1
    assert sent["deliveries"]["de-hotline"] == []
    hash_sets = export_partners(partners=["at-hotline"], hash_sets=True)
    assert hash_sets["items"] == 2 and hash_sets["deliveries"]["at-hotline"][0]["destination"] == "hashset:at-hotline"

    monkeypatch.setenv("HOTLINE_DATA_DIR", str(theirs.settings.data_dir))
    monkeypatch.setenv("HOTLINE_COUNTRY", "AT")
    polled = import_bundles()
    assert polled["refused"] == [] and len(polled["imported"]) == 2
    kinds = sorted(r["kind"] for r in polled["imported"])
    assert kinds == ["hotline.hashset/1", "hotline.items/1"]
    assert [r.url for r in theirs.catalog.list_reports()] == ["http://n.example/"]
    assert import_bundles()["skipped"] == 2
    ours.close()
    theirs.close()
