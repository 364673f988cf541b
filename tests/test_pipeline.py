"""The walking skeleton end to end, through Prefect's engine and real crawls over HTTP on
127.0.0.1: known items auto-classified, unknown ones queued, a verdict recorded, a bundle
exported, opened and verified, a tampered bundle refused, bad input recorded."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cluster_support import Profile
from people import add_people
from PIL import Image

from catalog.decisions.records import Verdict
from classification import classify
from exports import BundleNotForUs, BundleTampered, open_bundle_file
from flows.export_bundles import export_bundles
from flows.process_report import process_report
from hashing import hash_image
from hotline.demo.local_site import Reply, serve_site, synthetic_image, unused_port
from hotline.installation import Installation
from stats import compute_figures

pytestmark = pytest.mark.usefixtures("prefect_server")


def _reencoded(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).resize((512, 384)).save(out, "JPEG", quality=70)
    return out.getvalue()


def _known_set(tmp_path: Path, exact: bytes, near: bytes) -> Path:
    a, b = hash_image(exact), hash_image(near)
    path = tmp_path / "known.parquet"
    pq.write_table(pa.table({"sha256": [a.sha256, None], "pdq": [None, b.pdq], "id": ["k1", "k2"]}), path)
    return path


@pytest.mark.parametrize("profile", ["single", "cluster"], indirect=True)
def test_report_to_verified_bundle(profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same run on both profiles (tests/cluster_support.py): in one process on SQLite and
    a directory, and as deployments on a Prefect server + process worker + Dask cluster with
    the catalog on PostgreSQL and evidence and known sets on S3."""
    installation = profile.installation
    pics = [synthetic_image(seed) for seed in range(100, 105)]
    page = "".join(f"<img src='/i/{n}.jpg'>" for n in range(4)) + "<a href='/i/4.png'>big</a><img src='/i/bad.jpg'>"
    routes = {
        "/": page.encode(),
        **{f"/i/{n}.jpg": (pics[n], "image/jpeg") for n in (0, 2, 3)},
        "/i/1.jpg": (_reencoded(pics[1]), "image/jpeg"),  # a re-encoded copy of a known picture
        "/i/4.png": (pics[4], "image/png"),
        "/i/bad.jpg": (pics[0][:300], "image/jpeg"),  # truncated
    }
    installation.import_known_set(_known_set(tmp_path, pics[0], pics[1]), "known-a", Verdict.BASELINE)
    profile.as_another_machine()

    with serve_site(routes) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        report_id = installation.catalog.add_report(site.url("/"), actor="test")
        summary = profile.run(process_report, report_ids=[report_id])
    profile.check_distributed()

    catalog = installation.catalog
    assert summary["reports"] == [report_id] and summary["media"] == 6
    assert summary["auto_classified"] == 2 and summary["queued"] == 3
    outcomes = {o.urls[0].rsplit("/", 1)[1]: o for o in catalog.outcomes([report_id])}
    assert outcomes["0.jpg"].verdict is Verdict.BASELINE and outcomes["0.jpg"].reason.startswith("sha256")
    assert outcomes["1.jpg"].verdict is Verdict.BASELINE and outcomes["1.jpg"].reason.startswith("pdq")
    assert {outcomes[n].status for n in ("2.jpg", "3.jpg", "4.png")} == {"queued"}
    assert outcomes["bad.jpg"].status == "error" and "truncated" in outcomes["bad.jpg"].error
    assert catalog.get_report(report_id).status == "done"
    assert any(e.stage == "hash" and "truncated" in e.reason for e in catalog.report_errors(report_id))
    queued = {q.sha256 for q in catalog.queue()}
    assert queued == {outcomes[n].sha256 for n in ("2.jpg", "3.jpg", "4.png")}

    # Evidence is encrypted at rest: no stored file holds the plaintext.
    stored = profile.stored_objects()
    assert len(stored) == 6 and not any(pics[2][:64] in blob or pics[4][:64] in blob for blob in stored)

    national = outcomes["2.jpg"].sha256
    add_people(catalog, ann="analyst")
    classify(catalog, national[:12], Verdict.NATIONAL, analyst="ann", reason="test")
    classify(catalog, outcomes["3.jpg"].sha256, Verdict.NOT_ILLEGAL, analyst="ann")
    assert {q.sha256 for q in catalog.queue()} == {outcomes["4.png"].sha256}

    result = profile.run(export_bundles)
    assert result["items"] == 1  # INTERPOL gets what our analysts decided, not the known set's matches
    bundle = Path(result["location"])
    keys = installation.keys
    opened = open_bundle_file(bundle, keys.drop_private_path, trusted=[keys.signing_public()])
    items = {i["sha256"]: i for i in opened.manifest["items"]}
    assert set(items) == {national}
    assert items[national]["verdict"] == "national" and items[national]["hashes"]["md5"]
    assert items[national]["verdict_basis"] == "analyst"
    assert items[national]["sightings"][0]["media_url"].endswith("/i/2.jpg")
    assert catalog.exports()[0].items == 1
    assert profile.run(export_bundles)["items"] == 0  # nothing is sent twice

    tampered = tmp_path / "tampered.hlb"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    with pytest.raises(BundleTampered):
        open_bundle_file(tampered, keys.drop_private_path, trusted=[keys.signing_public()])

    figures = compute_figures(catalog)
    assert (figures.reports, figures.items, figures.known_items, figures.new_items) == (1, 6, 2, 4)
    assert figures.verdicts == {"baseline": 2, "national": 1, "not-illegal": 1}
    actions = [e.action for e in catalog.audit_entries(limit=500)]
    assert actions.count("verdict.record") == 2 and actions.count("verdict.auto") == 2
    assert "export.deliver" in actions


def test_bad_input_is_recorded_and_the_run_goes_on(installation: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = unused_port()
    routes = {
        "/empty": b"<html><body><p>nothing here</p></body></html>",
        "/gone": Reply(b"gone", status=404),
        "/ok": b"<img src='/ok.jpg'>",
        "/ok.jpg": (synthetic_image(7), "image/jpeg"),
        "/broken": b"<img src='/bad.jpg'>",
        "/bad.jpg": (synthetic_image(8)[:300], "image/jpeg"),  # truncated: stored, cannot be hashed
    }
    with serve_site(routes) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", f"{site.host_port},127.0.0.1:{closed}")
        add = installation.catalog.add_report
        ids = {
            "unreachable": add(f"http://127.0.0.1:{closed}/", actor="t"),
            "empty": add(site.url("/empty"), actor="t"),
            "gone": add(site.url("/gone"), actor="t"),
            "ok": add(site.url("/ok"), actor="t"),
            "broken": add(site.url("/broken"), actor="t"),
        }
        summary = process_report()
    assert sorted(summary["reports"]) == sorted(ids.values())
    catalog = installation.catalog
    reasons = {name: " ".join(e.reason for e in catalog.report_errors(rid)).lower() for name, rid in ids.items()}
    assert "refused" in reasons["unreachable"]
    assert "no media" in reasons["empty"]
    assert "404" in reasons["gone"]
    assert "truncated" in reasons["broken"] or "hash" in reasons["broken"], reasons["broken"]
    assert reasons["ok"] == ""  # the broken item's error is on the report that saw it only
    status = {name: catalog.get_report(rid).status for name, rid in ids.items()}
    assert status == {"unreachable": "failed", "empty": "failed", "gone": "failed", "ok": "done", "broken": "done"}
    assert [q.urls for q in catalog.queue()] == [(site.url("/ok.jpg"),)]


def test_the_crawler_refuses_local_addresses_that_are_not_allow_listed(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_site({"/": b"<img src='/a.jpg'>", "/a.jpg": (synthetic_image(1), "image/jpeg")}) as site:
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", "")
        report_id = installation.catalog.add_report(site.url("/"), actor="t")
        process_report(report_ids=[report_id])
        assert site.requests == []
    assert installation.catalog.get_report(report_id).status == "failed"
    assert "loopback" in installation.catalog.report_errors(report_id)[0].reason


def test_a_bundle_for_another_recipient_is_refused(installation: Installation, tmp_path: Path) -> None:
    from exports.key_files import generate_encryption_key, save_private_key

    other = tmp_path / "other.key"
    save_private_key(other, generate_encryption_key())
    bundle = _one_item_bundle(installation)
    with pytest.raises(BundleNotForUs, match="not to our key"):
        open_bundle_file(bundle, other)


def _one_item_bundle(installation: Installation) -> Path:
    from catalog.media_items.records import MediaRecord, SightingRecord
    from catalog.reports.records import CrawlResult

    data = synthetic_image(3)
    sha256 = installation.evidence.put(data)
    catalog = installation.catalog
    report = catalog.add_report("http://example.test/", actor="t")
    catalog.record_crawl(report, CrawlResult("http://example.test/", media=(MediaRecord(sha256, len(data), "image/jpeg"),),
                                             sightings=(SightingRecord(sha256, "http://example.test/a.jpg", "http://example.test/"),)))
    catalog.record_hashes(hash_image(data).records())
    catalog.queue_unmatched([sha256])
    add_people(catalog, ann="analyst")
    classify(catalog, sha256, Verdict.BASELINE, analyst="ann")
    return Path(export_bundles()["location"])
