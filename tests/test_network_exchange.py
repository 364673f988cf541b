"""The network view between installations on one machine: new material escalated to
INTERPOL (first, with its evidence, one update when it becomes known), and handled lists
between partners (keyed hashes under a key per partnership) so that a URL is not crawled
twice and an item one hotline decided arrives pre-decided at the other."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_support import confirmed_item, make_installation, register
from people import reviewers
from typer.testing import CliRunner

from catalog.decisions.records import GradingRecord
from catalog.exchange_ledger.records import Partner
from exports import BundleMalformed
from exports.handled_lists import keyed_digest, partnership_key
from hotline.cli import app
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation
from hotline.services.decisions import decide
from hotline.services.network_lists import (
    adopt_partner_decisions_of,
    check_items,
    check_reports,
    handled_list,
    partnership_key_with,
    send_handled_list,
)
from hotline.services.partner_exchange import export_route, interpol_route, open_bundle, poll_inbound

BASELINE_GRADING = GradingRecord("prepubescent", ("female",), "real", True, True, 3)


@pytest.fixture
def trio(tmp_path: Path) -> tuple[Installation, Installation, Installation]:
    """Two partner hotlines (NL, AT), each registered at the other, and a third (DE) that
    knows both but is in no partnership with them for these lists."""
    nl, at, de = (make_installation(tmp_path, n, n.upper()) for n in ("nl", "at", "de"))
    register(nl, at, "at-hotline", countries=["AT"])
    register(at, nl, "nl-hotline", countries=["NL"])
    register(de, nl, "nl-hotline", countries=["NL"])
    yield nl, at, de
    for inst in (nl, at, de):
        inst.close()


def _interpol_manifest(inst: Installation) -> list[dict]:
    sent = export_route(inst, interpol_route(inst), actor="test")
    items: list[dict] = []
    for d in sent:
        items += open_bundle(inst, Path(d.location), actor="test").manifest["items"]
    return items


def test_interpol_gets_new_material_first_with_its_evidence_and_one_update(trio) -> None:
    nl, at, _ = trio
    # decided first, but a partner decided it too: not new material
    known = confirmed_item(nl, synthetic_image(40), page_url="http://k.example/", country="AT")
    nl.catalog.note_partner_decisions([(known, "at-hotline", ("media", "0" * 32, None, None, "baseline",
                                                                nl.catalog.get_report(1).received_at, None))], actor="t")
    fresh = confirmed_item(nl, synthetic_image(41), page_url="http://n.example/gallery", country="AT", verdict=None)
    reviewers(nl.catalog)
    decide(nl, fresh, "ann", graded=BASELINE_GRADING)
    nl.catalog.record_crawl(nl.catalog.add_report("http://m.example/", actor="t"), _sighting(nl, fresh, "US"))

    items = _interpol_manifest(nl)
    assert [i["sha256"] for i in items] == [fresh, known]  # new material first
    first, other = items
    assert first["new_material"] is True and first["escalation"] == "new"
    assert first["hosting_countries"] == ["AT", "US"] and len(first["sightings"]) == 2
    assert first["first_seen"] == min(s["seen_at"] for s in first["sightings"])
    assert first["grading"]["age_group"] == "prepubescent" and first["grading"]["severity"] == 3
    assert other["new_material"] is False and "escalation" not in other
    assert _interpol_manifest(nl) == []  # nothing twice

    # a partner decides the same item later: INTERPOL is told once, as an update
    nl.catalog.note_partner_decisions([(fresh, "at-hotline", ("media", "1" * 32, "7", None, "baseline",
                                                                nl.catalog.get_report(1).received_at, None))], actor="t")
    update = _interpol_manifest(nl)
    assert [(i["sha256"], i["escalation"], i["new_material"]) for i in update] == [(fresh, "update", False)]
    assert update[0]["now_known"][0]["by"] == "partner"
    assert _interpol_manifest(nl) == []


def test_a_bundle_read_a_page_at_a_time_has_what_one_read_has_in_the_same_order(trio, monkeypatch) -> None:
    """The outbox reads a bundle's candidates a page at a time, after the last one read:
    across the pages, new material still comes first, every item once, up to the bundle's size."""
    from exports import outbound

    nl, at, _ = trio
    known = [confirmed_item(nl, synthetic_image(50 + n), page_url=f"http://k{n}.example/", country="AT")
             for n in range(3)]
    nl.catalog.note_partner_decisions([(k, "at-hotline", ("media", "0" * 32, None, None, "baseline",
                                                            nl.catalog.get_report(1).received_at, None))
                                       for k in known],
                                      actor="t")
    reviewers(nl.catalog)
    fresh = []
    for n in range(3):
        fresh.append(confirmed_item(nl, synthetic_image(60 + n), page_url=f"http://n{n}.example/", country="AT",
                                    verdict=None))
        decide(nl, fresh[-1], "ann", graded=BASELINE_GRADING)
    route = interpol_route(nl)
    whole = [i.sha256 for page in outbound._candidate_pages(nl.catalog, route, 100) for i in page]
    assert whole == [*fresh, *known]  # new material first, then by verdict
    monkeypatch.setattr(outbound, "CANDIDATE_PAGE", 2)
    pages = list(outbound._candidate_pages(nl.catalog, route, 100))
    assert [i.sha256 for page in pages for i in page] == whole and [len(p) for p in pages] == [2, 2, 2]
    assert [i.sha256 for page in outbound._candidate_pages(nl.catalog, route, 5) for i in page] == whole[:5]
    assert [i["sha256"] for i in _interpol_manifest(nl)] == whole  # one bundle, in that order


def test_interpol_scope_new_sends_only_new_material(tmp_path: Path) -> None:
    inst = make_installation(tmp_path, "be", "BE", interpol_scope="new")
    old = confirmed_item(inst, synthetic_image(42), page_url="http://o.example/", country="BE")
    new = confirmed_item(inst, synthetic_image(43), page_url="http://p.example/", country="BE")
    inst.catalog.note_partner_decisions([(old, "x", ("media", "2" * 32, None, None, "baseline",
                                                     inst.catalog.get_report(1).received_at, None))], actor="t")
    assert [i["sha256"] for i in _interpol_manifest(inst)] == [new]
    inst.close()


def test_partnership_key_is_the_same_on_both_sides_and_no_one_elses(trio) -> None:
    nl, at, de = trio
    at_at_nl, nl_at_at = nl.catalog.get_partner("at-hotline"), at.catalog.get_partner("nl-hotline")
    key = partnership_key_with(nl, at_at_nl)
    assert key == partnership_key_with(at, nl_at_at) and len(key) == 32
    assert partnership_key_with(de, de.catalog.get_partner("nl-hotline")) != key
    # the lists a third party could compute with what it holds match nothing in ours
    url = "http://shared.example/page"
    assert keyed_digest(key, "url", url) != keyed_digest(partnership_key_with(de, _any(de)), "url", url)
    assert partnership_key(nl.keys.receiving_keys()[0], at.keys.inbox_public()) == key


def test_a_url_a_partner_crawled_is_linked_not_crawled_and_a_decided_item_arrives_pre_decided(trio) -> None:
    nl, at, _ = trio
    data = synthetic_image(44)
    decided = confirmed_item(nl, data, page_url="http://shared.example/page", country="NL")
    nl.catalog.finish_report(1)  # NL crawled it
    # AT gets the same URL in another spelling, an unrelated one, and later the same picture
    same = at.catalog.add_report("HTTP://Shared.Example:80/page#top", actor="public")
    other = at.catalog.add_report("http://elsewhere.example/", actor="public")

    delivery = send_handled_list(nl, "at-hotline", actor="test")
    assert delivery.destination == "list:at-hotline" and delivery.items == 2  # one URL, one item
    polled = poll_inbound(at, actor="test")
    assert polled.refused == [] and polled.imported[0].list_entries == 2

    assert at.catalog.get_report(same).status == "linked"  # looked up when the list came in
    assert at.catalog.get_report(other).status == "pending"
    (link,) = at.catalog.partner_handling(report_id=same)
    assert (link.partner, link.case_ref, link.state) == ("nl-hotline", "1", "done")
    assert check_reports(at, [same, other], actor="test") == []  # nothing more to link

    theirs = confirmed_item(at, data, page_url="http://mirror.example/", country="AT", verdict=None)
    assert theirs == decided and check_items(at, [theirs], actor="test") == [theirs]
    (seen,) = at.catalog.partner_handling(sha256=theirs)
    assert (seen.partner, seen.verdict, seen.grading) == ("nl-hotline", "baseline", None)
    # NL's analyst set the verdict by hand (and AT has no law profile of its own here): shown,
    # not decided: our own analysts decide
    assert adopt_partner_decisions_of(at, [theirs], actor="test") == 0
    assert at.catalog.media_in_status([theirs], "queued") == {theirs}
    assert at.catalog.export_candidates(None, sources=None) == []

    runner = CliRunner()
    shown = runner.invoke(app, ["report", "show", str(same)], env={"HOTLINE_DATA_DIR": str(at.settings.data_dir),
                                                                   "HOTLINE_COUNTRY": "AT"})
    assert shown.exit_code == 0 and "already handled by partner nl-hotline since" in shown.output
    added = runner.invoke(app, ["report", "add", "http://shared.example/page"],
                          env={"HOTLINE_DATA_DIR": str(at.settings.data_dir), "HOTLINE_COUNTRY": "AT"})
    assert added.exit_code == 0 and "linked, not crawled" in added.output, added.output
    forced = runner.invoke(app, ["report", "add", "http://shared.example/page", "--crawl-anyway"],
                           env={"HOTLINE_DATA_DIR": str(at.settings.data_dir), "HOTLINE_COUNTRY": "AT"})
    assert forced.exit_code == 0 and "already handled" not in forced.output
    assert [r.status for r in at.catalog.list_reports()][-2:] == ["linked", "pending"]
    # the operator crawls it anyway: pending again, and not linked again
    anyway = runner.invoke(app, ["report", "crawl-anyway", str(same)],
                           env={"HOTLINE_DATA_DIR": str(at.settings.data_dir), "HOTLINE_COUNTRY": "AT"})
    assert anyway.exit_code == 0, anyway.output
    assert at.catalog.get_report(same).status == "pending"
    assert check_reports(at, [same], actor="test") == []


def test_pending_reports_defer_only_to_an_earlier_report_never_both_ways(trio) -> None:
    nl, at, _ = trio
    first = nl.catalog.add_report("http://race.example/", actor="public")
    later = at.catalog.add_report("http://race.example/", actor="public")
    send_handled_list(nl, "at-hotline", actor="test")
    send_handled_list(at, "nl-hotline", actor="test")
    poll_inbound(at, actor="test")
    poll_inbound(nl, actor="test")
    linked_nl = check_reports(nl, [first], actor="test")
    linked_at = at.catalog.get_report(later).status == "linked"
    if nl.catalog.get_report(first).received_at.replace(microsecond=0) < \
            at.catalog.get_report(later).received_at.replace(microsecond=0):
        assert linked_at and linked_nl == []
    else:  # the same second: both crawl, never neither
        assert not linked_at and linked_nl == []


def test_a_list_keyed_for_someone_else_is_refused(trio, tmp_path: Path) -> None:
    nl, at, de = trio
    register(at, de, "de-hotline", countries=["DE"])
    # DE sends AT a list, but AT's registration of DE names NL's receiving key: keys do not agree
    stale = at.catalog.get_partner("de-hotline")
    at.catalog.save_partner(Partner(**{**vars(stale), "encryption_key": at.catalog.get_partner(
        "nl-hotline").encryption_key}), actor="test")
    register(de, at, "at-hotline", countries=["AT"])
    send_handled_list(de, "at-hotline", actor="test")
    polled = poll_inbound(at, actor="test")
    assert polled.imported == [] and "BundleMalformed" in polled.refused[0][1]
    assert "registered receiving key" in polled.refused[0][1]
    assert BundleMalformed.__name__ in at.catalog.inbound()[0].reason


def test_our_list_leaves_out_what_the_partner_told_us(trio) -> None:
    nl, at, _ = trio
    nl.catalog.add_report("http://told.example/", actor="import", source="at-hotline")
    nl.catalog.add_report("http://ours.example/", actor="public")
    entries = handled_list(nl, nl.catalog.get_partner("at-hotline"))
    assert [e.case for e in entries] == ["2"]


def _any(inst: Installation) -> Partner:
    return inst.catalog.partners()[0]


def _sighting(inst: Installation, sha256: str, country: str):
    from catalog.media_items.records import MediaRecord, SightingRecord
    from catalog.reports.records import CrawlResult

    size = len(inst.evidence.get(sha256))
    return CrawlResult("http://m.example/", media=(MediaRecord(sha256, size, "image/jpeg"),),
                       sightings=(SightingRecord(sha256, "http://m.example/x.jpg", "http://m.example/",
                                                 ip="192.0.2.8", country=country),))


def test_a_report_the_partner_sent_us_or_one_crawled_already_is_not_linked(trio) -> None:
    nl, at, _ = trio
    for url in ("http://takedown.example/", "http://begun.example/"):
        nl.catalog.add_report(url, actor="public")
        nl.catalog.finish_report(nl.catalog.list_reports()[-1].id)
    sent_for_takedown = at.catalog.add_report("http://takedown.example/", actor="import", source="nl-hotline")
    begun = at.catalog.add_report("http://begun.example/", actor="public")
    from catalog.reports.records import CrawlResult

    at.catalog.record_crawl(begun, CrawlResult("http://begun.example/"))
    at.catalog.defer_report(begun, "items wait to be stored")  # pending again, crawled in part
    send_handled_list(nl, "at-hotline", actor="test")
    poll_inbound(at, actor="test")
    assert {at.catalog.get_report(r).status for r in (sent_for_takedown, begun)} == {"pending"}


def test_the_review_app_shows_a_partners_verdict_on_the_item_and_in_its_cluster(trio) -> None:
    import re

    import httpx

    from hotline.demo.local_site import unused_port
    from hotline.passwords import hash_password
    from review.app import create_app
    from review.server import running

    nl, at, _ = trio
    data = synthetic_image(45)
    confirmed_item(at, data, page_url="http://shown.example/", country="AT")
    send_handled_list(at, "nl-hotline", actor="test")
    poll_inbound(nl, actor="test")
    item = confirmed_item(nl, data, page_url="http://mirror.example/", country="NL", verdict=None)
    check_items(nl, [item], actor="test")
    nl.catalog.add_user("admin1", "admin", hash_password("pw-for-tests-only"), actor="system")
    nl.catalog.add_user("ann", "analyst", hash_password("pw-for-tests-only"), actor="admin1")
    with running(create_app(nl), unused_port()) as url, httpx.Client(base_url=url, follow_redirects=True,
                                                                      timeout=30) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"name": "ann", "password": "pw-for-tests-only", "csrf": token})
        cluster = nl.catalog.cluster_of(item)
        for page in (f"/item/{item}", f"/cluster/{cluster}"):
            text = client.get(page).text
            assert "Already handled by partner at-hotline since" in text and "baseline" in text, page


def test_new_material_a_known_set_has_later_is_updated_once(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from catalog.decisions.records import Verdict
    from hotline.services.partner_exchange import recheck_new_material

    inst = make_installation(tmp_path, "be", "BE")
    item = confirmed_item(inst, synthetic_image(46), page_url="http://q.example/", country="BE")
    assert [i["escalation"] for i in _interpol_manifest(inst)] == ["new"]
    route = interpol_route(inst)
    assert recheck_new_material(inst, route, actor="test") == 0  # no set has it
    known = tmp_path / "set.parquet"
    pq.write_table(pa.table({"sha256": [item], "id": ["row-1"]}), known)
    inst.import_known_set(known, "vendor-set", Verdict.BASELINE)
    assert recheck_new_material(inst, route, actor="test") == 1
    (update,) = _interpol_manifest(inst)
    assert (update["escalation"], update["now_known"][0]["by"]) == ("update", "known-set")
    (outcome,) = inst.catalog.outcomes([1])
    assert (outcome.verdict, outcome.verdict_source) == (Verdict.BASELINE, "analyst")  # a later match decides nothing
    assert recheck_new_material(inst, route, actor="test") == 0 and _interpol_manifest(inst) == []
    inst.close()


def _record(partner: str, verdict: str, grading: dict | None):
    from datetime import datetime

    from catalog.exchange_ledger.records import PartnerHandled

    return PartnerHandled(partner=partner, report_id=None, sha256="a" * 64, case_ref="9", state=None, verdict=verdict,
                          since=datetime(2026, 12, 1), found_at=datetime(2026, 12, 2), grading=grading)


def test_a_partners_decision_decides_only_when_nothing_is_in_doubt() -> None:
    from catalog.decisions.records import Decision, Verdict
    from classification.partner import judge
    from classification.profiles import load_profile_set

    profiles = load_profile_set("NL")
    graded = {"age_group": "prepubescent", "depiction": "real", "genders": ["female"], "sexual_activity": True,
              "genital_focus": True, "severity": 3, "self_generated": None, "tags": []}
    agreed = judge("a" * 64, [_record("at-hotline", "baseline", graded), _record("be-hotline", "baseline", graded)],
                   profiles)
    assert isinstance(agreed, Decision) and agreed.verdict is Verdict.BASELINE
    # our own law profile derives our verdict: a partner's national verdict becomes ours only if our law says so
    teen = {**graded, "age_group": "pubescent"}
    ours = judge("a" * 64, [_record("at-hotline", "national", teen)], profiles)
    assert isinstance(ours, Decision) and ours.verdict is Verdict.NATIONAL
    reasons = {
        "no grading": [_record("at-hotline", "baseline", None)],
        "disagree": [_record("at-hotline", "baseline", graded), _record("be-hotline", "national", teen)],
        "unknown value": [_record("at-hotline", "baseline", {**graded, "depiction": "hologram"})],
        "contradiction": [_record("at-hotline", "baseline", {**graded, "sexual_activity": False,
                                                             "genital_focus": False})],
        "baseline not given": [_record("at-hotline", "baseline", teen)],
        "baseline not said": [_record("at-hotline", "national", graded)],
        "undetermined": [_record("at-hotline", "not-illegal", {**graded, "age_group": "unclear"})],
    }
    found = {k: judge("a" * 64, rows, profiles) for k, rows in reasons.items()}
    assert all(isinstance(v, str) for v in found.values()), found
    assert "carries no grading" in found["no grading"]
    assert "graded it differently" in found["disagree"]
    assert "unknown to our profiles" in found["unknown value"] and "unknown to our profiles" in found["contradiction"]
    assert "INTERPOL's baseline profile" in found["baseline not given"] and "says 'national'" in found["baseline not said"]
    assert "undetermined" in found["undetermined"]


def test_a_list_carries_the_grading_only_of_verdicts_derived_from_one(trio) -> None:
    nl, at, _ = trio
    reviewers(nl.catalog)
    graded = confirmed_item(nl, synthetic_image(47), page_url="http://g.example/", country="NL", verdict=None)
    decide(nl, graded, "ann", graded=BASELINE_GRADING)
    by_hand = confirmed_item(nl, synthetic_image(48), page_url="http://h.example/", country="NL")
    key = partnership_key_with(nl, nl.catalog.get_partner("at-hotline"))
    entries = {e.digest: e for e in handled_list(nl, nl.catalog.get_partner("at-hotline")) if e.kind == "media"}
    assert entries[keyed_digest(key, "media", graded)].grading == {
        "age_group": "prepubescent", "genders": ["female"], "depiction": "real", "sexual_activity": True,
        "genital_focus": True, "severity": 3, "self_generated": None, "tags": []}
    assert entries[keyed_digest(key, "media", by_hand)].grading is None
    # through the bundle: the recipient keeps the grading with the partner's record
    send_handled_list(nl, "at-hotline", actor="test")
    assert poll_inbound(at, actor="test").refused == []
    theirs = confirmed_item(at, synthetic_image(47), page_url="http://m.example/", country="AT", verdict=None)
    assert check_items(at, [theirs], actor="test") == [theirs]
    (seen,) = at.catalog.partner_handling(sha256=theirs)
    assert seen.grading == entries[keyed_digest(key, "media", graded)].grading


def test_a_partners_correction_bundle_sends_an_item_it_decided_back_to_review(tmp_path: Path) -> None:
    from catalog.decisions.records import PARTNER_DECISION, Verdict
    from classification.review import confirm, set_by_hand
    from hotline.installation import review_config
    from hotline.services.partner_exchange import export_to_partner

    nl, de = make_installation(tmp_path, "nl", "NL"), make_installation(tmp_path, "de", "DE")
    register(nl, de, "de-hotline", countries=["DE"])
    register(de, nl, "nl-hotline", countries=["NL"])
    reviewers(nl.catalog)
    picture = synthetic_image(49)
    # hosted in Germany: NL tells DE for notice and takedown, and its list names it as decided
    item = confirmed_item(nl, picture, page_url="http://hosted.example/", country="DE", verdict=None)
    decide(nl, item, "ann", graded=BASELINE_GRADING)
    assert export_to_partner(nl, "de-hotline", actor="test") and send_handled_list(nl, "de-hotline", actor="test")
    # DE takes the list (the item bundle's baseline row also goes into its partner set)
    assert poll_inbound(de, actor="test").refused == []
    theirs = confirmed_item(de, picture, page_url="http://hosted.example/", country="DE", verdict=None)
    assert check_items(de, [theirs], actor="test") == [theirs]
    assert adopt_partner_decisions_of(de, [theirs], actor="test") == 1
    assert de.catalog.decision_state(theirs).source == PARTNER_DECISION
    assert export_route(de, interpol_route(de), actor="test") == []  # not DE's own to send

    # NL's seniors change the verdict: the correction bundle to DE sends DE's copy back to review
    config = review_config(nl.settings)
    changed = set_by_hand(nl.catalog, config, item, Verdict.NOT_ILLEGAL, "sam", "an adult: ID documents seen")
    nl.catalog.record_reveal("sue", item)
    confirm(nl.catalog, changed, "sue")
    (delivery,) = export_to_partner(nl, "de-hotline", actor="test")
    assert delivery.corrections == 1
    polled = poll_inbound(de, actor="test")
    assert polled.refused == [] and polled.imported[0].sent_to_review == (theirs,)
    assert de.catalog.media_in_status([theirs], "queued") == {theirs}
    (withdrawn,) = de.catalog.audit_entries("verdict.withdraw", 10, subject=theirs)
    assert withdrawn.detail["set"] == "nl-hotline" and "corrected, retracted or withdrew" in withdrawn.detail["reason"]
    nl.close()
    de.close()


def test_a_decision_two_partners_agree_on_goes_back_when_either_corrects_it(trio) -> None:
    from datetime import datetime

    from classification.partner import adopt_partner_decisions
    from classification.profiles import load_profile_set

    nl, _, _ = trio
    item = confirmed_item(nl, synthetic_image(52), page_url="http://two.example/", country="NL", verdict=None)
    graded = {"age_group": "prepubescent", "depiction": "real", "genders": ["female"], "sexual_activity": True,
              "genital_focus": True, "severity": 3, "self_generated": None, "tags": []}
    at = datetime(2026, 12, 1)
    nl.catalog.note_partner_decisions([(item, "at-hotline", ("media", "3" * 32, "4", None, "baseline", at, graded)),
                                       (item, "be-hotline", ("media", "4" * 32, "5", None, "baseline", at, graded))],
                                      actor="t")
    assert adopt_partner_decisions(nl.catalog, [item], load_profile_set("NL")).decided == 1
    assert nl.catalog.partner_decided_items("be-hotline") == {item: ("baseline", graded)}
    page = _item_page(nl, item)
    assert "derived by our law profiles from the grading of partner <b>at-hotline</b>" in page
    assert "be-hotline (baseline) graded it alike" in page and "Already handled by partner be-hotline" in page
    # the second partner retracts: the decision both took part in goes back to review
    assert nl.catalog.withdraw_partner_verdicts("be-hotline", [item], actor="t", reason="retracted") == [item]
    assert nl.catalog.media_in_status([item], "queued") == {item}
    # and is not derived again from what the partners say now: an analyst decides
    assert adopt_partner_decisions(nl.catalog, [item], load_profile_set("NL")).decided == 0
    # one partner's record without a grading: to review, the reason on the item page
    other = confirmed_item(nl, synthetic_image(53), page_url="http://three.example/", country="NL", verdict=None)
    nl.catalog.note_partner_decisions([(other, "at-hotline", ("media", "5" * 32, "6", None, "baseline", at, None))],
                                      actor="t")
    assert adopt_partner_decisions(nl.catalog, [other], load_profile_set("NL")).to_review == 1
    assert "our verdict was not derived from it (partner at-hotline&#39;s record carries no grading" in \
        _item_page(nl, other)


def _item_page(inst: Installation, sha256: str) -> str:
    """The review app's item page, as an analyst sees it."""
    import re

    import httpx

    from hotline.demo.local_site import unused_port
    from hotline.passwords import hash_password
    from review.app import create_app
    from review.server import running

    if "ann" not in {u.name for u in inst.catalog.users()}:
        inst.catalog.add_user("admin1", "admin", hash_password("pw-for-tests-only"), actor="system")
        inst.catalog.add_user("ann", "analyst", hash_password("pw-for-tests-only"), actor="admin1")
    with running(create_app(inst), unused_port()) as url, httpx.Client(base_url=url, follow_redirects=True,
                                                                        timeout=30) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"name": "ann", "password": "pw-for-tests-only", "csrf": token})
        return client.get(f"/item/{sha256}").text


def test_a_law_change_sends_a_verdict_derived_from_a_partners_grading_back_to_review(trio) -> None:
    from datetime import datetime

    from classification.partner import adopt_partner_decisions
    from classification.review import recompute
    from hotline.installation import review_config

    nl, _, _ = trio
    item = confirmed_item(nl, synthetic_image(54), page_url="http://law.example/", country="NL", verdict=None)
    teen = {"age_group": "pubescent", "depiction": "real", "genders": ["male"], "sexual_activity": True,
            "genital_focus": False, "severity": 2, "self_generated": None, "tags": []}
    nl.catalog.note_partner_decisions(
        [(item, "at-hotline", ("media", "6" * 32, "7", None, "national", datetime(2026, 12, 1), teen))], actor="t")
    assert adopt_partner_decisions(nl.catalog, [item], review_config(nl.settings).profiles).decided == 1
    assert nl.catalog.decision_state(item).verdict.value == "national"
    # the Dutch profile is replaced by one under which nothing is illegal
    nl.settings.law_profiles_dir.mkdir(parents=True, exist_ok=True)
    (nl.settings.law_profiles_dir / "nl.toml").write_text(
        'jurisdiction = "NL"\nname = "nothing is illegal (a test)"\ndefault = "not-illegal"\n')
    summary = recompute(nl.catalog, review_config(nl.settings))
    assert summary.partner_to_review == 1 and summary.verdict_changes == 0
    assert nl.catalog.media_in_status([item], "queued") == {item}
