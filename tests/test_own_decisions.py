"""Never show twice, for our own decisions: a new copy of a picture this hotline decided
(re-encoded, turned, mirrored) takes that decision without an analyst, with the match
recorded; an unrelated or look-alike picture, a copy of a decision still waiting for its
confirmation, or of pictures decided differently, goes to review; a corrected decision sends
the copies that took it back to review; and what they took never goes to INTERPOL.

Over a real installation: the evidence store, the catalog (SQLite and PostgreSQL), hashing
and the same steps the process-report flow takes after hashing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from lookalikes import lookalike_pairs
from PIL import Image
from rehost_edits import edit, originals
from synthetic import encoded

from catalog.decisions.records import OWN_MATCH, GradingRecord, Verdict
from catalog.decisions.verdict_rows import current_verdicts
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification import claim_next, classify, decide_cluster, decide_item, grading, recompute, triage
from flows.process_report import process_report
from hashing import hash_stored_media, match_decided, match_stored_media
from hotline.cli.report_commands import _how
from hotline.demo.local_site import serve_site, unused_port
from hotline.installation import Installation, review_config
from hotline.passwords import hash_password
from hotline.settings import Settings
from review.app import create_app
from review.server import running

BASELINE = grading(age_group="prepubescent", depiction="real", sexual_activity=True)
DRAWN = grading(age_group="adult", depiction="drawn")


@pytest.fixture
def inst(catalog_url: str, tmp_path: Path) -> Iterator[Installation]:
    made = Installation.init(Settings(data_dir=tmp_path / "data", country="XX", catalog_url=catalog_url))
    made.catalog.add_user("admin1", "admin", hash_password("correct horse 1"), actor="system")
    for name, role in (("ann", "analyst"), ("sam", "senior"), ("sue", "senior")):
        made.catalog.add_user(name, role, hash_password("correct horse 1"), actor="admin1")
    yield made
    made.close()


def crawl(inst: Installation, site: str, pictures: list[bytes]) -> list[str]:
    """One report of ``site`` with these pictures, taken as the process-report flow takes
    them: stored, hashed, matched (known sets, then our decisions), triaged. Returns the
    items in the order given."""
    catalog = inst.catalog
    url = f"http://{site}/"
    report = catalog.add_report(url, actor="test", source="test")
    media, seen = [], []
    for n, data in enumerate(pictures):
        sha = inst.evidence.put(data)
        media.append(MediaRecord(sha, len(data), "image/jpeg", "image"))
        seen.append(SightingRecord(sha, f"{url}m/{n}.jpg", url))
    catalog.record_crawl(report, CrawlResult(url=url, media=tuple(media), sightings=tuple(seen)))
    fresh = catalog.media_of_reports([report], status="new")
    batch = hash_stored_media(inst.evidence.get, fresh, inst.media_config())
    catalog.record_hashes(batch.records, batch.frames)
    ready = catalog.media_of_reports([report], status="hashed")
    s = inst.settings
    config = review_config(s, inst.evidence.get)
    found = match_stored_media(catalog, ready, min_quality=s.pdq_min_quality)
    own = match_decided(catalog, ready, threshold=s.pdq_threshold, min_quality=s.pdq_min_quality)
    triage(catalog, ready, found, clustering=config.clustering, own=own, profiles=config.profiles)
    return [m.sha256 for m in media]


def decide_queue(inst: Installation, graded: GradingRecord, analyst: str = "ann") -> None:
    """The analyst decides every cluster in the queue with one grading."""
    config = review_config(inst.settings, inst.evidence.get)
    while (cluster_id := claim_next(inst.catalog, config, analyst)) is not None:
        decide_cluster(inst.catalog, config, cluster_id, analyst, graded)


def current(inst: Installation, sha256: str) -> dict[str, Any] | None:
    """The item's current verdict row, withdrawn verdicts left out (None: it has none)."""
    cv = current_verdicts()
    with inst.catalog.read() as conn:
        row = conn.execute(sa.select(cv).where(cv.c.sha256 == sha256)).first()
    return None if row is None else dict(row._mapping)


def status(inst: Installation, sha256: str) -> str:
    for name in ("classified", "queued", "known", "hashed", "escalated"):
        if inst.catalog.media_in_status([sha256], name):
            return name
    return "?"


def photo(n: int = 0) -> Image.Image:
    return originals(1 + n)[n][1]


def test_copies_of_a_decided_picture_take_its_decision(inst: Installation) -> None:
    picture, lookalike = photo(), lookalike_pairs(1)[0]
    first = crawl(inst, "first.test", [encoded(picture, "JPEG", quality=92), encoded(lookalike[1], "PNG"),
                                       encoded(photo(3), "JPEG", quality=90)])
    decide_queue(inst, BASELINE)
    original = first[0]
    assert all(status(inst, s) == "classified" for s in first)

    copies = {"exact": encoded(picture, "JPEG", quality=92), "re-encoded": encoded(picture, "PNG"),
              "smaller": edit("resize-50").apply(picture)[0],
              "rot90": edit("rot90").apply(picture)[0], "mirror": edit("mirror").apply(picture)[0]}
    others = {"unrelated": encoded(photo(1), "JPEG", quality=90), "look-alike": encoded(lookalike[2], "PNG")}
    second = dict(zip([*copies, *others], crawl(inst, "second.test", [*copies.values(), *others.values()]),
                      strict=True))
    assert second["exact"] == original  # the same bytes are the same item: decided already, never queued again
    for name in ("re-encoded", "smaller", "rot90", "mirror"):
        sha = second[name]
        verdict = current(inst, sha)
        assert verdict is not None and status(inst, sha) == "classified", name
        assert verdict["source"] == OWN_MATCH and verdict["verdict"] == Verdict.BASELINE.value, name
        p = verdict["provenance"]
        assert p["source_sha256"] == original and p["match"]["type"] == "pdq", name
        assert 0 <= p["match"]["distance"] <= 31 and p["match"]["quality"] >= 50, name
        assert original[:12] in verdict["reason"], name
        history = inst.catalog.item_decisions(sha)
        # the grading is the source's; the law profiles derived each jurisdiction's verdict
        assert {j["jurisdiction"]: j["illegal"] for j in history["jurisdictions"]} == {"INTERPOL": True, "XX": True}
        assert history["gradings"][-1]["age_group"] == "prepubescent" and history["gradings"][-1]["actor"] == "matcher"
    assert current(inst, second["rot90"])["provenance"]["match"]["variant"] != "original"  # type: ignore[index]
    assert current(inst, second["mirror"])["provenance"]["match"]["variant"] != "original"  # type: ignore[index]
    for name in others:
        assert status(inst, second[name]) == "queued" and current(inst, second[name]) is None, name
    audited = {e.subject for e in inst.catalog.audit_entries(action="verdict.auto", limit=1000)}
    assert audited == {second[n] for n in ("re-encoded", "smaller", "rot90", "mirror")}

    # INTERPOL gets what an analyst of ours decided, never a decision a copy took;
    # a partner's notice route (which takes known-set verdicts) gets the copies too
    interpol = {c.sha256 for c in inst.catalog.export_candidates("interpol", sources=("analyst",))}
    assert original in interpol and not interpol & {second[n] for n in ("re-encoded", "rot90")}
    partner = {c.sha256: c for c in inst.catalog.export_candidates("partner:nl")}
    assert partner[second["rot90"]].verdict_basis == "own-decision-near"

    # the statistics count them as analyst views spared, by our own decisions
    from stats import SnapshotOptions, open_snapshot, write_snapshot

    write_snapshot(inst.catalog, inst.settings.data_dir / "stats", SnapshotOptions(country="XX"))
    spared = open_snapshot(inst.settings.data_dir / "stats").execute(
        "SELECT auto_classified_by, count(*), bool_or(analyst_assessed) FROM item_facts "
        "WHERE jurisdiction = 'XX' AND auto_classified GROUP BY ALL").fetchall()
    assert spared == [("own decision", 4, False)]


def test_a_decision_waiting_for_its_confirmation_is_not_taken(inst: Installation) -> None:
    inst.catalog.set_review_rule("four_eyes", True, actor="admin1")
    picture = photo()
    (original,) = crawl(inst, "first.test", [encoded(picture, "JPEG", quality=92)])
    decide_queue(inst, BASELINE)
    assert current(inst, original)["confirm_required"]  # type: ignore[index]
    (copy,) = crawl(inst, "second.test", [edit("rot90").apply(picture)[0]])
    assert status(inst, copy) == "queued" and current(inst, copy) is None
    cluster = inst.catalog.cluster(inst.catalog.cluster_of(copy))  # type: ignore[arg-type]
    assert not cluster.novel and cluster.similar_to == original  # pre-decided: one key to confirm

    # once confirmed, the next copy takes it
    inst.catalog.record_reveal("sam", original)
    inst.catalog.confirm_verdict(inst.catalog.decision_state(original).verdict_id, "sam")  # type: ignore[arg-type]
    (later,) = crawl(inst, "third.test", [edit("mirror").apply(picture)[0]])
    assert current(inst, later)["source"] == OWN_MATCH  # type: ignore[index]


def test_a_corrected_decision_sends_its_copies_back_to_review(inst: Installation) -> None:
    picture = photo()
    (original,) = crawl(inst, "first.test", [encoded(picture, "JPEG", quality=92)])
    decide_queue(inst, BASELINE)
    copies = crawl(inst, "second.test", [encoded(picture, "PNG"), edit("rot90").apply(picture)[0]])
    assert all(current(inst, c)["source"] == OWN_MATCH for c in copies)  # type: ignore[index]

    config = review_config(inst.settings, inst.evidence.get)
    decide_item(inst.catalog, config, original, "sam", DRAWN, reason="it is a drawing")
    for copy in copies:
        assert status(inst, copy) == "queued" and current(inst, copy) is None
        assert inst.catalog.cluster_of(copy) is not None  # back in the queue, clustered
    withdrawn = [e for e in inst.catalog.audit_entries(action="verdict.withdraw", limit=100)]
    assert {e.subject for e in withdrawn} == set(copies)
    assert all(e.detail["source"] == original for e in withdrawn)  # type: ignore[index]
    # the analyst decides them again; nothing took the corrected decision on its own
    assert current(inst, original)["verdict"] == Verdict.NOT_ILLEGAL.value  # type: ignore[index]
    # a withdrawn verdict is no decision to override: deciding the copy afresh needs no reason
    assert inst.catalog.decision_state(copies[0]).verdict is None
    decide_item(inst.catalog, config, copies[0], "ann", DRAWN)
    assert current(inst, copies[0])["verdict"] == Verdict.NOT_ILLEGAL.value  # type: ignore[index]


def test_a_verdict_set_by_hand_on_the_source_sends_its_copies_back(inst: Installation) -> None:
    picture = photo()
    (original,) = crawl(inst, "first.test", [encoded(picture, "JPEG", quality=92)])
    decide_queue(inst, DRAWN)
    (copy,) = crawl(inst, "second.test", [edit("mirror").apply(picture)[0]])
    assert current(inst, copy)["verdict"] == Verdict.NOT_ILLEGAL.value  # type: ignore[index]
    classify(inst.catalog, original, Verdict.NATIONAL, analyst="sam", reason="the caption says otherwise")
    assert status(inst, copy) == "queued" and current(inst, copy) is None


def test_copies_of_pictures_decided_differently_go_to_review(inst: Installation) -> None:
    picture = photo()
    one, other = crawl(inst, "first.test", [encoded(picture, "JPEG", quality=92), edit("mirror").apply(picture)[0]])
    config = review_config(inst.settings, inst.evidence.get)
    decide_item(inst.catalog, config, one, "ann", BASELINE)
    decide_item(inst.catalog, config, other, "ann", DRAWN)
    (copy,) = crawl(inst, "second.test", [encoded(picture, "PNG")])
    assert status(inst, copy) == "queued" and current(inst, copy) is None
    (why,) = [e for e in inst.catalog.audit_entries(action="verdict.ambiguous") if e.subject == copy]
    assert {m["source_sha256"] for m in why.detail["matches"]} == {one, other}  # type: ignore[index]
    assert {m["source_verdict"] for m in why.detail["matches"]} == {"baseline", "not-illegal"}  # type: ignore[index]


def test_a_recomputation_never_turns_a_taken_decision_into_an_analysts(inst: Installation) -> None:
    picture = photo()
    (original,) = crawl(inst, "first.test", [encoded(picture, "JPEG", quality=92)])
    decide_queue(inst, BASELINE)
    (copy,) = crawl(inst, "second.test", [encoded(picture, "PNG")])
    assert current(inst, copy)["source"] == OWN_MATCH  # type: ignore[index]
    summary = recompute(inst.catalog, review_config(inst.settings, inst.evidence.get))
    assert summary.verdict_changes == 0 and current(inst, copy)["source"] == OWN_MATCH  # type: ignore[index]


def test_the_item_page_and_the_report_show_where_a_decision_came_from(inst: Installation) -> None:
    picture = photo()
    one, other = crawl(inst, "first.test", [encoded(picture, "JPEG", quality=92), edit("mirror").apply(picture)[0]])
    config = review_config(inst.settings, inst.evidence.get)
    decide_item(inst.catalog, config, one, "ann", BASELINE)
    (taken,) = crawl(inst, "second.test", [edit("rot90").apply(picture)[0]])
    decide_item(inst.catalog, config, other, "ann", DRAWN)
    (unsure,) = crawl(inst, "third.test", [encoded(picture, "PNG")])
    with running(create_app(inst), unused_port()) as url:
        client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"name": "sam", "password": "correct horse 1", "csrf": token})
        page, doubt = client.get(f"/item/{taken}").text, client.get(f"/item/{unsure}").text
    why = re.search(r'class="provenance own-match">(.*?)</p>', page, re.S)
    assert why is not None and one[:12] in why.group(1) and "pdq distance" in why.group(1)
    assert "variant" in why.group(1) and "quality" in why.group(1)
    shown = re.search(r'id="not-taken">(.*?)</div>', doubt, re.S)
    assert shown is not None and one[:12] in shown.group(1) and other[:12] in shown.group(1)
    assert "graded differently" in shown.group(1)
    (report,) = [r for r in inst.catalog.list_reports() if r.url == "http://second.test/"]
    (outcome,) = inst.catalog.outcomes([report.id])
    assert one[:12] in _how(outcome) and "pdq distance" in _how(outcome)


@pytest.mark.usefixtures("prefect_server")
def test_the_process_report_flow_gives_a_second_sites_copy_the_decision(
        installation: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through Prefect's engine and real crawls over HTTP: the second site's turned copy is
    decided without an analyst, its unrelated picture is queued."""
    catalog = installation.catalog
    catalog.add_user("admin1", "admin", hash_password("correct horse 1"), actor="system")
    catalog.add_user("ann", "analyst", hash_password("correct horse 1"), actor="admin1")
    picture = photo()
    routes: dict[str, Any] = {"/first": b"<img src='/a.jpg'>", "/a.jpg": (encoded(picture, "JPEG", quality=92), "image/jpeg"),
              "/second": b"<img src='/b.jpg'><img src='/c.jpg'>",
              "/b.jpg": (edit("rot90").apply(picture)[0], "image/jpeg"),
              "/c.jpg": (encoded(photo(1), "JPEG", quality=90), "image/jpeg")}
    with serve_site(routes) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        first = catalog.add_report(site.url("/first"), actor="test")
        assert process_report(report_ids=[first])["queued"] == 1
        decide_queue(installation, BASELINE)
        second = catalog.add_report(site.url("/second"), actor="test")
        summary = process_report(report_ids=[second])
    assert summary["own_decided"] == 1 and summary["queued"] == 1 and summary["auto_classified"] == 0
    outcomes = {o.urls[0].rsplit("/", 1)[1]: o for o in catalog.outcomes([second])}
    assert outcomes["b.jpg"].verdict is Verdict.BASELINE and outcomes["b.jpg"].verdict_source == OWN_MATCH
    assert outcomes["c.jpg"].status == "queued"
