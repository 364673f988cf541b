"""Each URL's re-check history where people look: `hotline report show` (text and JSON) and
the review app's item page. The re-checks themselves are recorded as the recheck flow does
(tests/test_spiders_recheck.py crawls for real); benign synthetic pictures only."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from people import add_people
from test_spiders_recheck import PICS, confirmed_sightings, sha
from typer.testing import CliRunner

from catalog.decisions.records import Verdict
from catalog.reports.records import RecheckRecord
from hotline.cli import app, output
from hotline.demo.local_site import unused_port
from hotline.installation import Installation
from hotline.passwords import hash_password
from review.app import create_app
from review.server import running

PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _history(inst: Installation) -> int:
    """A report with two URLs: one still up at three checks, one missing twice (removed)."""
    up, gone = "http://host.test/up.jpg", "http://host.test/gone.jpg"
    report_id = confirmed_sightings(inst.catalog, {up: (PICS[0], Verdict.BASELINE), gone: (PICS[1], Verdict.NATIONAL)})
    for n in range(3):
        at = T0 + timedelta(hours=6 * n)
        inst.catalog.record_rechecks([RecheckRecord(report_id, sha(PICS[0]), up, at, "still-up", 200)], removed_after=2)
        if n < 2:
            inst.catalog.record_rechecks([RecheckRecord(report_id, sha(PICS[1]), gone, at, "missing", 404)],
                                         removed_after=2)
    return report_id


def test_report_show_lists_each_urls_rechecks(installation: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    report_id = _history(installation)
    shown = CliRunner().invoke(app, ["report", "show", str(report_id), "--json"])
    assert shown.exit_code == 0, shown.output
    urls = {t["url"]: t for t in json.loads(shown.stdout)["takedowns"]}
    up, gone = urls["http://host.test/up.jpg"], urls["http://host.test/gone.jpg"]
    assert [c["outcome"] for c in up["checks"]] == ["still-up"] * 3 and up["removed_at"] is None
    assert [c["outcome"] for c in gone["checks"]] == ["missing", "removed"]
    assert (gone["outcome"], gone["removed_at"]) == ("removed", "2026-12-01T16:00:00Z")
    monkeypatch.setattr(output.console, "width", 300)  # one table row a line
    text = CliRunner().invoke(app, ["report", "show", str(report_id)]).stdout
    assert "missing 12-01 10:00, removed 12-01 16:00" in text
    assert "still-up 12-01 10:00, still-up 12-01 16:00, still-up 12-01 22:00" in text


def test_item_page_shows_the_takedown_history(installation: Installation) -> None:
    _history(installation)
    add_people(installation.catalog)
    installation.catalog.add_user("sam", "senior", hash_password(PASSWORD), actor="root")
    with running(create_app(installation), unused_port()) as url:
        client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"name": "sam", "password": PASSWORD, "csrf": token})
        page = client.get(f"/item/{sha(PICS[1])}").text
    assert "<h2>Takedown" in page and "http://host.test/gone.jpg" in page
    assert "missing 2026-12-01 10:00 · removed 2026-12-01 16:00" in page
    assert "http://host.test/up.jpg" not in page  # another item's URL
