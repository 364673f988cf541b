"""Corrections reach every recipient: changing the verdict of an exported item needs a
senior, a reason and a second senior's confirmation, and the next export run tells each
destination that had the item (and no other) in a signed correction bundle; a partner that
imports a retraction drops the row from its known set and sends the items it classified
back to review. Two installations on one machine (ours in NL, a partner in AT), benign
synthetic pictures only."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from exchange_support import confirmed_item, make_installation, register
from people import reviewers
from PIL import Image

from catalog.decisions.records import OWN_MATCH, Verdict
from catalog.errors import NotFound
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification.attributes import grading
from classification.errors import NotAllowed
from classification.own import adopt_decisions
from classification.review import confirm, decide_item, set_by_hand
from exports import BundleReplayed, iter_bundle_files, open_bundle_file
from exports.outbound import CORRECTION_KIND
from hashing import hash_image, match_decided, match_stored_media
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation, review_config
from hotline.services.partner_exchange import (
    export_route,
    export_to_partner,
    import_bundle_file,
    interpol_route,
    poll_inbound,
)


@pytest.fixture
def trio(tmp_path: Path) -> tuple[Installation, Installation, Installation]:
    """Ours (NL) with two partners: Austria's (AT) and Germany's (DE)."""
    ours, at, de = (make_installation(tmp_path, n, n.upper()) for n in ("nl", "at", "de"))
    register(ours, at, "at-hotline", countries=["AT"])
    register(ours, de, "de-hotline", countries=["DE"])
    register(at, ours, "nl-hotline", countries=["NL"])
    reviewers(ours.catalog)
    yield ours, at, de
    for inst in (ours, at, de):
        inst.close()


def _exported_item(ours: Installation, n: int = 1) -> str:
    """An item hosted in Austria, decided baseline by an analyst, sent to INTERPOL and the
    Austrian partner (and hash set), but never to the German partner (not hosted there)."""
    sha = confirmed_item(ours, synthetic_image(n), page_url=f"http://a{n}.example/gallery", country="AT")
    assert export_route(ours, interpol_route(ours), actor="test")
    assert export_to_partner(ours, "at-hotline", actor="test")
    assert export_to_partner(ours, "de-hotline", actor="test") == []
    return sha


def _exports(ours: Installation) -> dict[str, list]:
    return {
        "interpol": export_route(ours, interpol_route(ours), actor="test"),
        "partner:at-hotline": export_to_partner(ours, "at-hotline", actor="test"),
        "hashset:at-hotline": export_to_partner(ours, "at-hotline", hash_set=True, actor="test"),
        "partner:de-hotline": export_to_partner(ours, "de-hotline", actor="test"),
    }


def test_exported_verdict_changes_only_with_a_reason_and_a_second_senior(trio) -> None:
    ours, _, _ = trio
    sha = _exported_item(ours)
    config = review_config(ours.settings)
    adult = grading(age_group="adult", depiction="real", sexual_activity=True)

    with pytest.raises(NotAllowed, match="needs a reason"):  # re-graded without a reason
        decide_item(ours.catalog, config, sha, "sam", adult)
    with pytest.raises(NotAllowed, match="only a senior"):  # an analyst may not change it at all
        decide_item(ours.catalog, config, sha, "ann", adult, reason="adult after all")
    with pytest.raises(NotAllowed, match="needs a reason"):
        set_by_hand(ours.catalog, config, sha, Verdict.NOT_ILLEGAL, "sam", "  ")

    # a senior with a reason: recorded and audited as an override, but it waits for a second
    # senior even though the four-eyes rule is off
    assert not ours.catalog.review_rules().four_eyes
    verdict_id = decide_item(ours.catalog, config, sha, "sam", adult, reason="an adult: ID documents seen")
    state = ours.catalog.decision_state(sha)
    assert state.verdict is Verdict.NOT_ILLEGAL and state.confirm_required and not state.confirmed
    assert [e.subject for e in ours.catalog.audit_entries(action="verdict.override")] == [sha]
    assert all(d == [] for d in _exports(ours).values())  # nothing goes out before the confirmation

    ours.catalog.record_reveal("sam", sha)
    ours.catalog.record_reveal("ann", sha)
    with pytest.raises(NotAllowed):  # the senior who changed it cannot confirm it
        confirm(ours.catalog, verdict_id, "sam")
    with pytest.raises(NotAllowed):  # nor an analyst
        confirm(ours.catalog, verdict_id, "ann")
    assert all(d == [] for d in _exports(ours).values())


def test_confirmed_change_is_delivered_to_each_destination_that_had_the_item(trio) -> None:
    ours, at, de = trio
    sha = _exported_item(ours)
    kept = _exported_item(ours, 2)  # another item sent alike, whose verdict stays
    assert export_to_partner(ours, "at-hotline", hash_set=True, actor="test")
    config = review_config(ours.settings)
    verdict_id = set_by_hand(ours.catalog, config, sha, Verdict.NOT_ILLEGAL, "sam", "an adult: ID documents seen")
    ours.catalog.record_reveal("sue", sha)
    confirm(ours.catalog, verdict_id, "sue")
    at_inbox_before = set(at.settings.inbox_dir.glob("*.hlb"))

    sent = _exports(ours)
    assert {k: [(d.items, d.corrections) for d in v] for k, v in sent.items()} == {
        "interpol": [(0, 1)], "partner:at-hotline": [(0, 1)], "hashset:at-hotline": [(0, 1)],
        "partner:de-hotline": []}
    assert all(d == [] for d in _exports(ours).values())  # told once
    assert [(c["destination"], c["action"], c["previous"], c["verdict"]) for c in ours.catalog.corrections_of(sha)] \
        == [("interpol", "retraction", "baseline", "not-illegal"),
            ("partner:at-hotline", "retraction", "baseline", "not-illegal"),
            ("hashset:at-hotline", "retraction", "baseline", "not-illegal")]
    assert ours.catalog.corrections_of(kept) == []
    assert list(de.settings.inbox_dir.glob("*.hlb")) == []

    # the bundle: signed by us, encrypted to the partner, a correction record with the item's hashes
    new = sorted(set(at.settings.inbox_dir.glob("*.hlb")) - at_inbox_before)
    assert len(new) == 2
    opened = open_bundle_file(new[0], at.keys.receiving_keys(), trusted=ours.keys.signing_publics())
    assert opened.manifest["kind"] == CORRECTION_KIND and opened.manifest["items"] == []
    (record,) = opened.manifest["corrections"]
    assert (record["sha256"], record["action"], record["previous"], record["verdict"]) == (
        sha, "retraction", "baseline", "not-illegal")
    assert record["hashes"]["sha256"] == sha and "reason" not in record
    with new[0].open("rb") as src:
        assert list(iter_bundle_files(src, recipient=at.keys.receiving_keys(),
                                      trusted_senders=ours.keys.signing_publics())) == []

    # changed again (not-illegal -> national): a correction, to the same three destinations
    again = set_by_hand(ours.catalog, config, sha, Verdict.NATIONAL, "sue", "the caption names a child")
    ours.catalog.record_reveal("sam", sha)
    with pytest.raises(NotAllowed):  # sam decided the item before: a third senior confirms
        confirm(ours.catalog, again, "sam")
    ours.catalog.add_user("sid", "senior", "!no-login", actor="root")
    ours.catalog.record_reveal("sid", sha)
    confirm(ours.catalog, again, "sid")
    assert {k: [d.corrections for d in v] for k, v in _exports(ours).items()} == {
        "interpol": [1], "partner:at-hotline": [1], "hashset:at-hotline": [1], "partner:de-hotline": []}
    assert [c["action"] for c in ours.catalog.corrections_of(sha)][-3:] == ["correction"] * 3


def test_partner_import_of_a_retraction_removes_the_row_and_requeues_the_items(trio) -> None:
    ours, at, _ = trio
    sha = _exported_item(ours)
    other = _exported_item(ours, 2)
    assert len(poll_inbound(at, actor="test").imported) == 2  # one bundle per item
    # the partner's crawl finds both items: they match its copy of our rows, never queued
    for n, item in ((1, sha), (2, other)):
        picture = synthetic_image(n)
        report = at.catalog.add_report(f"http://mirror{n}.example/", actor="test")
        at.catalog.record_crawl(report, CrawlResult(
            f"http://mirror{n}.example/", media=(MediaRecord(item, len(picture)),),
            sightings=(SightingRecord(item, f"http://mirror{n}.example/{n}.jpg", f"http://mirror{n}.example/"),)))
        at.evidence.put(picture)
        at.catalog.record_hashes(hash_image(picture).records())
        at.catalog.record_matches(match_stored_media(at.catalog, [item]))
        assert at.catalog.decision_state(item).source == "known-set"

    config = review_config(ours.settings)
    verdict_id = set_by_hand(ours.catalog, config, sha, Verdict.NOT_ILLEGAL, "sam", "an adult: ID documents seen")
    ours.catalog.record_reveal("sue", sha)
    confirm(ours.catalog, verdict_id, "sue")
    (delivery,) = export_to_partner(ours, "at-hotline", actor="test")
    bundle = at.settings.inbox_dir / f"hotline-{delivery.bundle_id}.hlb"

    polled = poll_inbound(at, actor="test")
    assert polled.refused == [] and len(polled.imported) == 1
    result = polled.imported[0]
    assert (result.corrections, result.hashes_removed, result.sent_to_review) == (1, 1, (sha,))
    rows = pq.read_table(at.catalog.get_known_set("partner-nl-hotline").path).column("sha256").to_pylist()
    assert rows == [other]  # the retracted row is gone, the other stays
    outcomes = {o.sha256: o for o in at.catalog.outcomes([r.id for r in at.catalog.list_reports()])}
    assert (outcomes[sha].status, outcomes[sha].verdict) == ("queued", None)  # back in review
    assert at.catalog.cluster_of(sha) is not None  # in a cluster of the queue
    assert (outcomes[other].status, outcomes[other].verdict_source) == ("known", "known-set")  # untouched
    assert [e.subject for e in at.catalog.audit_entries(action="verdict.withdraw")] == [sha]
    assert [e.subject for e in at.catalog.audit_entries(action="known_row.retraction_received")] == [sha]
    with pytest.raises(BundleReplayed):  # the same replay protection as every bundle
        import_bundle_file(at, bundle, location="again", actor="test")


def test_a_withdrawn_automatic_verdict_reaches_the_partner_and_its_new_decision_follows(trio) -> None:
    """A copy that took our decision on its original went to the partner with that verdict.
    When the original is corrected, the copy goes back to our review, and the partner is
    told at once that the copy's verdict no longer stands (a withdrawal): it stops
    classifying with it. Our analysts' new decision on the copy then reaches it as a
    correction."""
    ours, at, _ = trio
    config = review_config(ours.settings)
    original = confirmed_item(ours, synthetic_image(5), page_url="http://a5.example/gallery", country="AT",
                              verdict=None)
    decide_item(ours.catalog, config, original, "ann", grading(age_group="prepubescent", depiction="real",
                                                              sexual_activity=True))
    copy_bytes = io.BytesIO()
    Image.open(io.BytesIO(synthetic_image(5))).save(copy_bytes, "PNG")  # the same picture, other bytes
    copy = confirmed_item(ours, copy_bytes.getvalue(), page_url="http://b5.example/", country="AT", verdict=None)
    adopt_decisions(ours.catalog, match_decided(ours.catalog, [copy]), config.profiles)
    assert ours.catalog.decision_state(copy).source == OWN_MATCH
    export_to_partner(ours, "at-hotline", actor="test")
    assert len(poll_inbound(at, actor="test").imported) >= 1

    def partner_rows() -> set[str]:
        try:
            return set(pq.read_table(at.catalog.get_known_set("partner-nl-hotline").path).column("sha256").to_pylist())
        except NotFound:  # its last row went
            return set()

    assert {original, copy} <= partner_rows()

    verdict_id = set_by_hand(ours.catalog, config, original, Verdict.NOT_ILLEGAL, "sam", "a drawing after all")
    ours.catalog.record_reveal("sue", original)
    confirm(ours.catalog, verdict_id, "sue")
    assert ours.catalog.decision_state(copy).verdict is None  # back in our review
    (delivery,) = export_to_partner(ours, "at-hotline", actor="test")
    opened = open_bundle_file(at.settings.inbox_dir / f"hotline-{delivery.bundle_id}.hlb", at.keys.receiving_keys(),
                              trusted=ours.keys.signing_publics())
    told = {c["sha256"]: (c["action"], c["previous"], c["verdict"]) for c in opened.manifest["corrections"]}
    assert told == {original: ("retraction", "baseline", "not-illegal"), copy: ("withdrawal", "baseline", "withdrawn")}
    polled = poll_inbound(at, actor="test")
    assert polled.refused == [] and polled.imported[0].corrections == 2
    assert not {original, copy} & partner_rows()
    assert [e.subject for e in at.catalog.audit_entries(action="known_row.withdrawal_received")] == [copy]
    assert export_to_partner(ours, "at-hotline", actor="test") == []  # told once

    # a senior decides the copy afresh (it had been exported): the partner gets the outcome
    decide_item(ours.catalog, config, copy, "sam", grading(age_group="prepubescent", depiction="real",
                                                          sexual_activity=True), reason="a real photograph")
    (delivery,) = export_to_partner(ours, "at-hotline", actor="test")
    opened = open_bundle_file(at.settings.inbox_dir / f"hotline-{delivery.bundle_id}.hlb", at.keys.receiving_keys(),
                              trusted=ours.keys.signing_publics())
    assert [(c["sha256"], c["action"], c["previous"], c["verdict"]) for c in opened.manifest["corrections"]] == [
        (copy, "correction", "withdrawn", "baseline")]
    assert poll_inbound(at, actor="test").refused == []
    assert copy in partner_rows()
