"""End to end in a real headless browser (Debian's chromium, driven by Playwright): an
analyst logs in, sees blurred thumbnails, reveals one, splits an item off and classifies a
cluster by keyboard; a senior confirms under the four-eyes rule. Then the catalog is checked
for what was recorded. The browser reaches nothing but the app on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from catalog.decisions.records import Verdict
from hotline.demo.local_site import unused_port
from hotline.installation import Installation
from hotline.passwords import hash_password
from hotline.settings import Settings
from review.app import create_app
from review.sample_queue import seed_queue
from review.server import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[tuple[Installation, str, list[list[str]]]]:
    settings = Settings(data_dir=tmp_path / "data", country="XX", law_profiles=("DE", "GB"),
                        queue_priority=("size", "report_age"))
    inst = Installation.init(settings)
    groups = seed_queue(inst, [3, 2], known=2)
    inst.catalog.add_user("root", "admin", hash_password(PASSWORD), actor="system")
    inst.catalog.add_user("ann", "analyst", hash_password(PASSWORD), actor="root")
    inst.catalog.add_user("sam", "senior", hash_password(PASSWORD), actor="root")
    inst.catalog.set_review_rule("four_eyes", True, actor="root")  # the installation's rule, not a setting
    with running(create_app(inst), unused_port()) as url:
        yield inst, url, groups
    inst.close()


def _login(browser: Browser, url: str, name: str) -> Page:
    page = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900}).new_page()
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return page


def _until(page: Page, script: str, timeout: float = 15.0) -> None:
    """Poll ``script`` in the page until it is true (the app's CSP forbids the string eval
    that ``wait_for_function`` uses, which is as it should be)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {script}")
        time.sleep(0.05)


def _loaded_images(page: Page, selector: str) -> list[str]:
    return page.eval_on_selector_all(
        selector, "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.getAttribute('src'))")


def test_analyst_classifies_a_cluster_by_keyboard_and_a_senior_confirms(browser: Browser, app_url) -> None:  # type: ignore[no-untyped-def]
    inst, url, groups = app_url
    catalog = inst.catalog
    page = _login(browser, url, "ann")
    expect(page).to_have_url(f"{url}/queue")
    expect(page.locator("#spared")).to_contain_text("spared you 2 item(s)")
    _until(page, "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    thumbs = _loaded_images(page, "img.thumb")
    assert len(thumbs) == 5 and all(src.endswith("/thumb") for src in thumbs)  # blurred previews only

    page.keyboard.press("n")  # claim the next cluster
    page.wait_for_url(f"{url}/cluster/*")
    cluster_id = int(page.url.rsplit("/", 1)[1])
    members = [m.sha256 for m in catalog.cluster_members(cluster_id)]
    assert catalog.lease_holder(cluster_id) == "ann" and len(members) == 3
    if os.environ.get("HOTLINE_SCREENSHOT"):
        page.screenshot(path=os.environ["HOTLINE_SCREENSHOT"], full_page=True)

    page.keyboard.press("r")  # reveal the focused (first) item
    expect(page.locator("img.clear")).to_have_count(1)
    _until(page, "document.querySelector('img.clear').naturalWidth > 0")
    expect(page.locator("#reveal-count")).to_contain_text("Revealed today: 1 / 40")

    page.keyboard.press("j")
    page.keyboard.press("j")  # the third item differs: split it off
    odd = page.get_attribute("article.item.focused", "data-sha")
    page.keyboard.press("s")
    expect(page.locator("article.item")).to_have_count(2)
    page.wait_for_load_state("load")
    _until(page, "!!(window.htmx && document.querySelector('#grade')['htmx-internal-data'])")

    page.keyboard.press("1")  # baseline: real child, prepubescent, sexual activity
    expect(page.locator("#derived-verdict")).to_have_text("baseline")
    expect(page.locator("#derived")).to_contain_text("DE")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: u != f"{url}/cluster/{cluster_id}")

    decided = [s for s in members if s != odd]
    outcomes = {o.sha256: o for o in catalog.outcomes([1])}
    assert {outcomes[s].verdict for s in decided} == {Verdict.BASELINE}
    assert {outcomes[s].actor for s in decided} == {"ann"} and outcomes[odd].verdict is None
    grading = catalog.item_decisions(decided[0])["gradings"][0]
    assert (grading["age_group"], grading["depiction"], grading["sexual_activity"]) == ("prepubescent", "real", True)
    audit = [(e.action, e.actor, e.subject) for e in catalog.audit_entries(limit=200)]
    assert ("media.reveal", "ann", members[0]) in audit and ("cluster.split", "ann", odd) in audit
    assert {s for a, who, s in audit if a == "verdict.record" and who == "ann"} == set(decided)
    assert catalog.export_candidates("interpol", sources=["analyst"]) == []  # four-eyes: nothing leaves unconfirmed

    senior = _login(browser, url, "sam")
    senior.goto("/confirmations")
    expect(senior.locator("#pending tr")).to_have_count(3)  # header + the two verdicts
    senior.locator("form button", has_text="Confirm").first.click()
    expect(senior.locator("main")).to_contain_text("reveal the item before confirming")  # not seen: refused
    senior.goto(f"/item/{decided[0]}")
    senior.locator("button.reveal").click()
    expect(senior.locator("img.clear")).to_have_count(1)
    senior.goto("/confirmations")
    senior.locator("form button", has_text="Confirm").first.click()
    senior.wait_for_load_state()
    expect(senior.locator("#pending tr")).to_have_count(2)
    assert [c.sha256 for c in catalog.export_candidates("interpol", sources=["analyst"])] == [decided[0]]
    assert [e.actor for e in catalog.audit_entries(action="verdict.confirm")] == ["sam"]
