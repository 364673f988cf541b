"""The takedown loop: a partner is notified again, in its next bundle, about an item a
re-check after the last notice still found up (once the re-notice interval has passed), with
the notice's number; after the configured count the notice is escalated (flagged in the
bundle, audited, and sent to the escalation destination); a removed item is not notified
again. Two installations on one machine (ours in NL, a partner in AT); benign synthetic
pictures only."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from exchange_support import confirmed_item, make_installation, register
from people import reviewers
from typer.testing import CliRunner

from catalog.db import utcnow
from catalog.decisions.records import Verdict
from catalog.reports.records import RecheckRecord
from classification.review import confirm, set_by_hand
from exports import open_bundle_file
from hotline.cli import app
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation, review_config
from hotline.services.partner_exchange import export_escalations, export_to_partner, poll_inbound

PAGE = "http://a.example/gallery"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Installation, Installation]:
    # a re-notice interval of a few milliseconds: the test waits that long instead of a day
    (tmp_path / "escalation").mkdir()
    ours = make_installation(tmp_path, "nl", "NL", renotice_hours=0.000002, renotice_escalate_after=2,
                             escalation_destination=str(tmp_path / "escalation"))
    theirs = make_installation(tmp_path, "at", "AT")
    register(ours, theirs, "at-hotline", countries=["AT"])
    register(theirs, ours, "nl-hotline", countries=["NL"])
    yield ours, theirs
    ours.close()
    theirs.close()


def _recheck(inst: Installation, sha: str, outcome: str) -> None:
    time.sleep(0.02)  # later than the last notice, and the interval passes
    inst.catalog.record_rechecks([RecheckRecord(1, sha, f"{PAGE}/{sha[:8]}.jpg", utcnow(), outcome, 200)])
    time.sleep(0.02)


def _manifest(inst: Installation, theirs: Installation, bundle_id: str) -> dict:
    path = theirs.settings.inbox_dir / f"hotline-{bundle_id}.hlb"
    return open_bundle_file(path, theirs.keys.receiving_keys(), trusted=inst.keys.signing_publics()).manifest


def test_still_up_items_are_notified_again_then_escalated_until_removed(pair) -> None:
    ours, theirs = pair
    sha = confirmed_item(ours, synthetic_image(1), page_url=PAGE, country="AT")
    (first,) = export_to_partner(ours, "at-hotline", actor="test")  # notice 1
    assert "notices" not in _manifest(ours, theirs, first.bundle_id)
    time.sleep(0.02)
    assert export_to_partner(ours, "at-hotline", actor="test") == []  # no re-check since: nothing proves it is up

    _recheck(ours, sha, "still-up")
    (second,) = export_to_partner(ours, "at-hotline", actor="test")
    manifest = _manifest(ours, theirs, second.bundle_id)
    assert manifest["notices"] == [{"sha256": sha, "notice": 2, "escalated": False}]
    assert [i["sha256"] for i in manifest["items"]] == [sha] and manifest["items"][0]["sightings"]
    assert export_to_partner(ours, "at-hotline", actor="test") == []  # again only after a new re-check
    assert export_escalations(ours, actor="test") == []

    _recheck(ours, sha, "still-up")
    (third,) = export_to_partner(ours, "at-hotline", actor="test")
    assert _manifest(ours, theirs, third.bundle_id)["notices"] == [{"sha256": sha, "notice": 3, "escalated": True}]
    assert [(e.subject, e.detail["notice"]) for e in ours.catalog.audit_entries(action="takedown.escalate")] == [
        (sha, 3)]
    notices = ours.catalog.notices(sha256s=[sha])
    assert [(n.notice, n.escalated, n.bundle_id) for n in notices] == [
        (2, False, second.bundle_id), (3, True, third.bundle_id)]

    # the escalated item goes to the escalation destination once, encrypted to our drop key
    (escalation,) = export_escalations(ours, actor="test")
    assert escalation.destination == "escalation" and export_escalations(ours, actor="test") == []
    bundle = Path(ours.settings.escalation_destination or "") / f"hotline-{escalation.bundle_id}.hlb"
    escalated = open_bundle_file(bundle, ours.keys.drop_private_path).manifest
    assert escalated["notices"] == [{"sha256": sha, "notice": 3, "escalated": True}]

    shown = CliRunner().invoke(app, ["report", "show", "1", "--json"], env={"HOTLINE_DATA_DIR": str(ours.settings.data_dir)})
    assert shown.exit_code == 0, shown.output
    assert [(n["destination"], n["notice"], n["escalated"]) for n in json.loads(shown.stdout)["notices"]] == [
        ("partner:at-hotline", 2, False), ("partner:at-hotline", 3, True)]

    _recheck(ours, sha, "removed")  # taken down: no more notices
    assert export_to_partner(ours, "at-hotline", actor="test") == []
    # the partner imports every notice; the key it does not need is ignored by older readers too
    polled = poll_inbound(theirs, actor="test")
    assert polled.refused == [] and len(polled.imported) == 3


def test_no_renotices_when_switched_off(tmp_path: Path) -> None:
    ours = make_installation(tmp_path, "nl", "NL", renotice_hours=0)
    theirs = make_installation(tmp_path, "at", "AT")
    register(ours, theirs, "at-hotline", countries=["AT"])
    sha = confirmed_item(ours, synthetic_image(1), page_url=PAGE, country="AT")
    assert export_to_partner(ours, "at-hotline", actor="test")
    _recheck(ours, sha, "still-up")
    assert export_to_partner(ours, "at-hotline", actor="test") == [] and ours.catalog.notices() == []
    ours.close()
    theirs.close()


def test_a_retracted_item_is_not_notified_again(pair) -> None:
    ours, _ = pair
    reviewers(ours.catalog)
    sha = confirmed_item(ours, synthetic_image(1), page_url=PAGE, country="AT")
    assert export_to_partner(ours, "at-hotline", actor="test")
    _recheck(ours, sha, "still-up")
    verdict_id = set_by_hand(ours.catalog, review_config(ours.settings), sha, Verdict.NOT_ILLEGAL, "sam", "an adult")
    ours.catalog.record_reveal("sue", sha)
    confirm(ours.catalog, verdict_id, "sue")
    (retraction,) = export_to_partner(ours, "at-hotline", actor="test")
    assert (retraction.items, retraction.corrections) == (0, 1) and ours.catalog.notices() == []
