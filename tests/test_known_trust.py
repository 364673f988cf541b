"""Known sets you can trust: category profiles that fail safe (the README's VICS example on
a file shaped as real VICS 2.0 exports are), provenance on every automatic verdict (report,
review app, INTERPOL manifest), the migration that re-checks verdicts of the earlier rule,
the PDQ quality gate, flood quarantine, and contested matches between two installations.
All pictures are synthetic."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from exchange_support import confirmed_item, make_installation, register
from people import add_people
from PIL import Image, ImageFilter
from synthetic import encoded, synthetic_picture
from typer.testing import CliRunner

from catalog.decisions.records import Verdict
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification import FloodConfig, triage
from classification.known import contest_match, send_rechecks_to_review
from exports.outbound import build_manifest
from hashing import KnownSetError, hash_image, hash_stored_media, match_stored_media
from hashing.knownsets.categories import available_category_profiles, load_category_profile_file
from hotline.cli import app
from hotline.demo.local_site import synthetic_image, unused_port
from hotline.installation import Installation
from hotline.passwords import hash_password
from hotline.services.doctor import doctor
from hotline.services.partner_exchange import export_feedback_file, export_to_partner, import_bundle_file
from review.app import create_app
from review.server import running

PASSWORD = "correct horse battery"


def _crawled(inst: Installation, pictures: list[bytes], page: str = "http://gallery.test/") -> list[str]:
    """Store pictures as one crawl of one report found them, and hash them."""
    sha256s = [inst.evidence.put(p) for p in pictures]
    report = inst.catalog.add_report(page, actor="test")
    inst.catalog.record_crawl(report, CrawlResult(
        url=page, media=tuple(MediaRecord(s, len(p), "image/jpeg") for s, p in zip(sha256s, pictures, strict=True)),
        sightings=tuple(SightingRecord(s, f"{page}{n}.jpg", page, country="NL") for n, s in enumerate(sha256s)),
    ))
    batch = hash_stored_media(inst.evidence.get, sha256s)
    inst.catalog.record_hashes(batch.records, batch.frames)
    return sha256s


def _triage(inst: Installation, sha256s: list[str], flood: FloodConfig | None = None) -> Any:
    return triage(inst.catalog, sha256s, match_stored_media(inst.catalog, sha256s), flood=flood or FloodConfig())


def _vics(path: Path, records: list[tuple[bytes, int]]) -> Path:
    """A VICS 2.0 document shaped as real exports are: @odata.context, integer MediaID and
    Category, upper-case MD5 and SHA1, MediaSize, DateUpdated, IsPrecategorized."""
    value = []
    for n, (data, category) in enumerate(records):
        h = hash_image(data)
        value.append({"MediaID": 1000 + n, "Category": category, "MD5": h.md5.upper(), "SHA1": h.sha1.upper(),
                      "MediaSize": len(data), "DateUpdated": "2026-11-30T12:00:00Z", "IsPrecategorized": True})
    path.write_text(json.dumps({
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media",
        "value": value,
    }))
    return path


@pytest.fixture
def pictures() -> list[bytes]:
    return [encoded(synthetic_picture(70 + n), "JPEG", quality=90) for n in range(4)]


def _cli(*args: str) -> Any:
    done = CliRunner().invoke(app, [*args, "--json"])
    return done.exit_code, (json.loads(done.stdout) if done.exit_code == 0 else done.output)


def test_readme_vics_example_fails_safe(installation: Installation, pictures: list[bytes], tmp_path: Path) -> None:
    vics = _vics(tmp_path / "vics.json", [(pictures[n], n) for n in range(4)])  # categories 0, 1, 2, 3
    # the README's old example: the set-wide verdict no longer reaches rows that carry a category
    status, message = _cli("known", "import", str(vics), "--set", "projectvic", "--verdict", "national",
                           "--category", "1=baseline")
    assert status == 1 and "--verdict applies only to sets whose rows carry no category" in message
    status, message = _cli("known", "import", str(vics), "--set", "projectvic", "--category", "1=baseline")
    assert status == 1 and "no --category-profile names categories '0' (1 row), '2' (1 row), '3' (1 row)" in message
    assert installation.catalog.known_sets() == []  # nothing was registered

    status, imported = _cli("known", "import", str(vics), "--set", "projectvic", "--category-profile", "vics-us",
                            "--category", "1=baseline")
    assert status == 0 and imported["category_profile"] == "vics-us" and imported["verdict"] is None
    assert [(c["category"], c["verdict"], c["by"], c["rows"]) for c in imported["categories"]] == [
        ("0", "review", "profile vics-us", 1), ("1", "baseline", "--category", 1),
        ("2", "review", "profile vics-us", 1), ("3", "not-illegal", "profile vics-us", 1)]

    items = _crawled(installation, pictures)
    result = _triage(installation, items)
    assert (result.auto_classified, result.queued) == (2, 2)
    outcomes = {o.sha256: o for o in installation.catalog.outcomes([1])}
    assert [(outcomes[s].status, outcomes[s].verdict) for s in items] == [
        ("queued", None), ("known", Verdict.BASELINE), ("queued", None), ("known", Verdict.NOT_ILLEGAL)]
    hint = installation.catalog.matches_of(items[0])  # the uncategorised match is shown as a hint
    assert {(m.set_name, m.category, m.verdict) for m in hint} == {("projectvic", "0", None)}


def test_unknown_categories_are_refused_unless_told(installation: Installation, pictures: list[bytes],
                                                   tmp_path: Path) -> None:
    vics = _vics(tmp_path / "vics.json", [(pictures[0], 1), (pictures[1], 7)])
    with pytest.raises(KnownSetError, match=r"'vics-us' does not know category '7' \(1 row\)"):
        installation.import_known_set(vics, "vic", None, category_profile="vics-us")
    imported, _ = installation.import_known_set(vics, "vic", None, category_profile="vics-us",
                                                unknown_category=None)
    assert imported.categories is not None
    assert imported.categories.mapping() == {"1": Verdict.NATIONAL, "7": None}
    # an ICSE export follows its own profile without being told: non-baseline goes to review
    icse = tmp_path / "icse.csv"
    icse.write_text("MD5;SHA1;PhotoDNA;Baseline\n" + "".join(
        f"{hash_image(p).md5};{hash_image(p).sha1};;{flag}\n" for p, flag in ((pictures[2], 1), (pictures[3], 0))))
    icsed, _ = installation.import_known_set(icse, "icse", None)
    assert icsed.categories is not None and icsed.categories.profile == "icse"
    assert icsed.categories.mapping() == {"baseline": Verdict.BASELINE, "non-baseline": None}


def test_category_profiles_are_data(installation: Installation, tmp_path: Path, pictures: list[bytes]) -> None:
    shipped = available_category_profiles()
    assert {"vics-us", "caid-uk", "icse", "hotline"} <= set(shipped)
    assert all(p.sources and p.meanings for p in shipped.values())
    assert shipped["vics-us"].outcomes == {"0": None, "1": Verdict.NATIONAL, "2": None, "3": Verdict.NOT_ILLEGAL}
    folder = installation.settings.data_dir / "category_profiles"
    folder.mkdir()
    (folder / "xx.toml").write_text(
        'name = "xx-programme"\ntitle = "Example"\nsources = ["a public page"]\n'
        '[categories]\n"1" = { meaning = "abuse material", verdict = "national" }\n'
        '"9" = { meaning = "not pertinent", verdict = "not-illegal" }\n')
    vics = _vics(tmp_path / "vics.json", [(pictures[0], 1), (pictures[1], 9)])
    imported, _ = installation.import_known_set(vics, "xx", None, category_profile="xx-programme")
    assert imported.categories is not None
    assert imported.categories.mapping() == {"1": Verdict.NATIONAL, "9": Verdict.NOT_ILLEGAL}
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nsources = ["x"]\n[categories]\n"1" = { meaning = "m", verdict = "illegal" }\n')
    with pytest.raises(KnownSetError, match="unknown category outcome 'illegal'"):
        load_category_profile_file(bad)


def test_provenance_on_every_automatic_verdict(installation: Installation, pictures: list[bytes],
                                               tmp_path: Path) -> None:
    vics = _vics(tmp_path / "vics.json", [(pictures[0], 1)])
    imported, _ = installation.import_known_set(vics, "projectvic", None, category_profile="vics-us",
                                                category_verdicts={"1": Verdict.BASELINE})
    rotated = encoded(Image.open(__import__("io").BytesIO(pictures[1])).transpose(Image.Transpose.ROTATE_90), "JPEG")
    pdq_set = tmp_path / "pdq.csv"
    pdq_set.write_text(f"pdq,id\n{hash_image(pictures[1]).pdq},frame-7\n")
    pdq_known, _ = installation.import_known_set(pdq_set, "pdq-list", Verdict.NATIONAL)
    items = _crawled(installation, [pictures[0], rotated])
    assert _triage(installation, items).auto_classified == 2
    outcomes = {o.sha256: o for o in installation.catalog.outcomes([1])}
    assert outcomes[items[0]].provenance == {
        "set": "projectvic", "set_version": imported.content_sha256, "known_id": "1000",
        "known_hash": hash_image(pictures[0]).md5, "category": "1", "category_profile": "vics-us",
        "match": {"type": "md5", "distance": 0, "quality": None, "variant": None}}
    near = outcomes[items[1]].provenance
    assert near is not None and near["set_version"] == pdq_known.content_sha256 and near["known_id"] == "frame-7"
    assert near["match"]["type"] == "pdq" and near["match"]["quality"] >= 50  # type: ignore[index]
    assert near["match"]["variant"] in ("rotate90", "rotate270")  # type: ignore[index]  # the copy was turned
    status, shown = _cli("report", "show", "1")
    shown_items = {i["sha256"]: i for i in shown["items"]}
    assert status == 0 and shown_items[items[0]]["provenance"]["set_version"] == imported.content_sha256

    candidates = installation.catalog.export_candidates("interpol")
    manifest = build_manifest("interpol", candidates, sender_country="NL", media_included=False)
    assert {i["sha256"]: i["provenance"]["set"] for i in manifest["items"]} == {
        items[0]: "projectvic", items[1]: "pdq-list"}
    partner = build_manifest("partner:at", candidates, sender_country="NL", media_included=False)
    assert all("provenance" not in i for i in partner["items"])  # licensed sets' details stay home

    add_people(installation.catalog)  # the admin who adds users
    installation.catalog.add_user("sam", "senior", hash_password(PASSWORD), actor="root")
    with running(create_app(installation), unused_port()) as url:
        client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"name": "sam", "password": PASSWORD, "csrf": token})
        page = client.get(f"/item/{items[0]}").text
        assert "known set <b>projectvic</b> version <code>" + imported.content_sha256[:16] in page
        assert "category 1 (profile vics-us)" in page and "md5 match, distance 0" in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        done = client.post(f"/item/{items[0]}/contest", data={
            "csrf": csrf, "set": "projectvic", "match_type": "md5", "reason": "a holiday photo"})
        assert done.status_code == 200 and ">contested<" in done.text
    assert {o.sha256: o.status for o in installation.catalog.outcomes([1])}[items[0]] == "queued"


def test_migration_lists_verdicts_of_the_earlier_rule(tmp_path: Path) -> None:
    from alembic import command

    from catalog.catalog import Catalog
    from catalog.db import _alembic_config

    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog(url)
    config = _alembic_config()
    with catalog.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0010")
        conn.commit()
    items = {c: f"{n:064x}" for n, c in enumerate(("0", "1", "3", None), start=1)}
    with catalog.engine.begin() as conn:  # the README's example, imported and matched under the earlier rule
        conn.execute(sa.text(
            "INSERT INTO known_sets (name, verdict, path, rows, content_sha256, pdq_threshold, enabled, imported_at,"
            " category_verdicts, benign) VALUES ('projectvic', 'national', 'p', 4, :d, 31, 1, '2026-01-01', "
            "'{\"1\": \"baseline\"}', 0)"), {"d": "0" * 64})
        for category, sha in items.items():
            verdict = "baseline" if category == "1" else "national"
            conn.execute(sa.text("INSERT INTO media (sha256, kind, size, status, first_seen_at) "
                                 "VALUES (:s, 'image', 1, 'known', '2026-01-01')"), {"s": sha})
            conn.execute(sa.text(
                "INSERT INTO matches (sha256, set_name, match_type, distance, verdict, category, matched_at) "
                "VALUES (:s, 'projectvic', 'md5', 0, :v, :c, '2026-01-01')"), {"s": sha, "v": verdict, "c": category})
            conn.execute(sa.text(
                "INSERT INTO verdicts (sha256, verdict, source, actor, set_name, reason, created_at) "
                "VALUES (:s, :v, 'known-set', 'matcher', 'projectvic', 'md5 match, distance 0', '2026-01-01')"),
                {"s": sha, "v": verdict})
    catalog.migrate()
    found = catalog.known_rechecks()
    assert {(r.sha256, r.category, r.verdict) for r in found} == {
        (items["0"], "0", "national"), (items["3"], "3", "national"), (items[None], None, "national")}
    assert len(catalog.export_candidates("interpol")) == 4
    inst = Installation.init(__import__("hotline.settings", fromlist=["Settings"]).Settings(
        data_dir=tmp_path / "data", catalog_url=url))
    check = next(c for c in doctor(inst) if c.name == "known sets")
    assert not check.ok and "3 automatic verdict(s) of the earlier category rule" in check.detail
    sent = send_rechecks_to_review(inst.catalog, actor="operator")
    assert sorted(sent) == sorted([items["0"], items["3"], items[None]])
    assert [c.sha256 for c in inst.catalog.export_candidates("interpol")] == [items["1"]]
    assert {m.sha256 for m in inst.catalog.queue()} == set(sent)
    assert next(c for c in doctor(inst) if c.name == "known sets").ok
    assert [e.action for e in inst.catalog.audit_entries("verdict.withdraw")] == ["verdict.withdraw"] * 3
    inst.close()
    catalog.dispose()


def test_flat_hashes_carry_no_match(installation: Installation, tmp_path: Path) -> None:
    flat = [encoded(Image.new("RGB", (200, 200), (40 + n, 40, 40)), "PNG") for n in range(3)]
    hashes = [hash_image(f) for f in flat]
    assert all(h.pdq_quality < 50 for h in hashes)
    known = tmp_path / "flat.csv"
    known.write_text("pdq,quality\n" + f"{hashes[0].pdq},{hashes[0].pdq_quality}\n")
    with pytest.raises(KnownSetError, match="only hash is a PDQ of quality below 50: nothing matchable"):
        installation.import_known_set(known, "flat", Verdict.BASELINE)
    known.write_text(f"pdq,md5,quality\n{hashes[0].pdq},,{hashes[0].pdq_quality}\n"
                     f"{hashes[1].pdq},{hashes[1].md5},{hashes[1].pdq_quality}\n")
    imported, _ = installation.import_known_set(known, "flat", Verdict.BASELINE)
    assert (imported.rows, imported.flat_pdq) == (1, 2)
    items = _crawled(installation, flat)
    assert {(m.sha256, m.match_type) for m in match_stored_media(installation.catalog, items)} == {
        (items[1], "md5")}
    figures = installation.catalog.known_set_statistics(min_quality=50)
    assert figures["low_quality"] == {"min_quality": 50, "images": 3, "frames": 0}


def test_a_flooding_row_is_quarantined_and_released(installation: Installation, tmp_path: Path) -> None:
    logo = synthetic_picture(90)
    variants = [encoded(logo.filter(ImageFilter.GaussianBlur(n / 10)), "JPEG", quality=60 + n) for n in range(8)]
    known = tmp_path / "logo.csv"
    known.write_text(f"pdq,id\n{hash_image(variants[0]).pdq},logo\n")
    installation.import_known_set(known, "list", Verdict.NATIONAL)
    first = _crawled(installation, variants[:2], "http://a.test/")
    assert _triage(installation, first, FloodConfig(threshold=5)).auto_classified == 2
    rest = _crawled(installation, variants[2:], "http://b.test/")
    result = _triage(installation, rest, FloodConfig(threshold=5, window=timedelta(hours=1)))
    assert (result.quarantined, result.auto_classified) == (1, 0)
    (hold,) = installation.catalog.known_holds()
    assert hold.kind == "quarantine" and hold.row_key == f"pdq:{hash_image(variants[0]).pdq}"
    # every item the row decided in the window went back to review, none is exported
    assert installation.catalog.export_candidates("interpol") == []
    assert len(installation.catalog.queue()) == 8
    assert match_stored_media(installation.catalog, first) == []  # held rows match nothing
    check = next(c for c in doctor(installation) if c.name == "known sets")
    assert not check.ok and "quarantined for flooding" in check.detail
    installation.catalog.release_known_hold(hold.id, actor="operator")
    assert len(match_stored_media(installation.catalog, first)) == 2
    actions = [e.action for e in installation.catalog.audit_entries(limit=100)]
    assert "known_row.quarantine" in actions and "known_row.release" in actions


def test_a_contested_match_goes_back_to_the_sets_source(tmp_path: Path) -> None:
    ours, theirs = make_installation(tmp_path, "nl", "NL"), make_installation(tmp_path, "at", "AT")
    register(ours, theirs, "at-hotline", countries=["AT"])
    register(theirs, ours, "nl-hotline", countries=["NL"])
    picture = synthetic_image(21)
    confirmed_item(ours, picture, page_url="http://h.example/", country="US")
    (hashset,) = export_to_partner(ours, "at-hotline", hash_set=True, actor="nl-analyst")
    assert import_bundle_file(theirs, Path(hashset.location), actor="at-analyst").hashes_added == 1
    partner_set = theirs.catalog.get_known_set("partner-nl-hotline")
    assert (partner_set.category_profile, partner_set.source) == ("hotline", "partner:nl-hotline")

    (seen,) = _crawled(theirs, [picture], "http://x.example/")
    assert _triage(theirs, [seen]).auto_classified == 1
    add_people(theirs.catalog)  # the admin who adds users
    theirs.catalog.add_user("senior1", "senior", hash_password(PASSWORD), actor="root")
    theirs.catalog.add_user("analyst1", "analyst", hash_password(PASSWORD), actor="root")
    with pytest.raises(Exception, match="only a senior analyst"):
        contest_match(theirs.catalog, seen, "partner-nl-hotline", actor="analyst1", reason="not abuse")
    done = contest_match(theirs.catalog, seen[:12], "partner-nl-hotline", actor="senior1", reason="an adult")
    assert done.sent_to_review and done.row_key == f"id:nl-hotline:{seen[:16]}"  # the row, all its hashes
    assert [q.sha256 for q in theirs.catalog.queue()] == [seen]
    assert match_stored_media(theirs.catalog, [seen]) == []  # the row no longer matches here
    stats = {f["set"]: f for f in theirs.catalog.known_set_statistics(min_quality=50)["sets"]}
    assert (stats["partner-nl-hotline"]["matched_items"], stats["partner-nl-hotline"]["auto_classified"],
            stats["partner-nl-hotline"]["contested"]) == (1, 0, 1)

    # the next bundle to the partner carries the feedback, even with no item due
    (sent,) = export_to_partner(theirs, "nl-hotline", actor="at-analyst")
    assert sent.feedback and sent.items == 0
    assert theirs.catalog.known_holds()[0].feedback_sent == f"bundle {sent.bundle_id}"
    assert export_to_partner(theirs, "nl-hotline", actor="at-analyst") == []  # told once
    received = import_bundle_file(ours, Path(sent.location), actor="nl-analyst")
    assert received.feedback == 1
    (entry,) = ours.catalog.audit_entries("known_row.feedback_received")
    assert entry.subject == f"id:nl-hotline:{seen[:16]}" and entry.detail["reason"] == "an adult"  # type: ignore[index]
    assert entry.detail["partner"] == "at-hotline"  # type: ignore[index]

    # an external set's contested matches go into a file the operator hands over
    external = tmp_path / "external.csv"
    other = synthetic_image(22)
    external.write_text(f"md5\n{hash_image(other).md5}\n")
    theirs.import_known_set(external, "vendor-list", Verdict.NATIONAL, source="vendor")
    (item,) = _crawled(theirs, [other], "http://y.example/")
    _triage(theirs, [item])
    contest_match(theirs.catalog, item, "vendor-list", actor="senior1", reason="a product photo")
    out = tmp_path / "feedback.json"
    assert export_feedback_file(theirs, out, actor="at-analyst") == 1
    document = json.loads(out.read_text())
    assert [(c["set"], c["row_key"], c["known_hash"], c["reason"]) for c in document["contested"]] == [
        ("vendor-list", f"md5:{hash_image(other).md5}", hash_image(other).md5, "a product photo")]
    ours.close()
    theirs.close()


def test_parquet_known_sets_take_a_quality_column(installation: Installation, tmp_path: Path) -> None:
    picture = encoded(synthetic_picture(95), "JPEG", quality=90)
    h = hash_image(picture)
    source = tmp_path / "q.parquet"
    pq.write_table(pa.table({"pdq": [h.pdq], "quality": pa.array([h.pdq_quality], pa.int32())}), source)
    imported, _ = installation.import_known_set(source, "with-quality", Verdict.NATIONAL)
    assert (imported.rows, imported.flat_pdq) == (1, 0)


def test_known_commands(installation: Installation, pictures: list[bytes], tmp_path: Path) -> None:
    known = tmp_path / "list.csv"
    known.write_text(f"md5\n{hash_image(pictures[0]).md5}\n")
    installation.import_known_set(known, "list", Verdict.NATIONAL)
    row = f"md5:{hash_image(pictures[0]).md5}"
    status, held = _cli("known", "quarantine", "list", row.upper().replace("MD5", "md5"), "--reason", "a test")
    assert status == 0
    status, holds = _cli("known", "holds")
    assert status == 0 and [(h["id"], h["row_key"], h["kind"]) for h in holds] == [(held["hold"], row, "quarantine")]
    items = _crawled(installation, pictures[:1])
    assert match_stored_media(installation.catalog, items) == []
    status, released = _cli("known", "release", str(held["hold"]))
    assert status == 0 and released["released_by"] == "system"  # no login: the operator account
    assert _triage(installation, items).auto_classified == 1
    status, stats = _cli("known", "stats")
    assert status == 0 and stats["sets"][0]["auto_classified"] == 1 and stats["low_quality"]["images"] == 0
    status, listed = _cli("known", "recheck", "--to-review")
    assert status == 0 and listed == {"rechecks": [], "sent_to_review": []}
    status, message = _cli("known", "quarantine", "list", "blob:00", "--reason", "x")
    assert status == 1 and "a row is md5:HEX" in message
