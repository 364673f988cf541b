"""Hashing and matching inside an installation: known sets imported in every format,
enabled, disabled and deleted; images and videos hashed from the evidence store and
matched; a known-benign set keeping items out of review."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from synthetic import encoded, synthetic_picture, synthetic_video

from catalog.decisions.records import Verdict
from classification import triage
from hashing import hash_image, hash_stored_media, hash_video, match_stored_media
from hotline.installation import Installation


def _store(inst: Installation, *items: tuple[bytes, str]) -> list[str]:
    """Put media into the evidence store and the catalog as a crawl would."""
    from catalog.media_items.records import MediaRecord, SightingRecord
    from catalog.reports.records import CrawlResult

    sha256s = [inst.evidence.put(data) for data, _ in items]
    report = inst.catalog.add_report("http://gallery.test/", actor="test")
    inst.catalog.record_crawl(report, CrawlResult(
        url="http://gallery.test/",
        media=tuple(MediaRecord(s, len(d), kind=k) for s, (d, k) in zip(sha256s, items, strict=True)),
        sightings=tuple(SightingRecord(s, f"http://gallery.test/{n}", "http://gallery.test/")
                        for n, s in enumerate(sha256s)),
    ))  # fmt: skip
    return sha256s


def test_import_formats_reimport_disable_enable_delete(installation: Installation, tmp_path: Path) -> None:
    picture = hash_image(encoded(synthetic_picture(60)))
    csv = tmp_path / "list.csv"
    csv.write_text(f"md5,pdq,category\n{picture.md5},,A\n,{picture.pdq},B\n")
    mapping = {"A": Verdict.BASELINE, "B": None}
    first, changed = installation.import_known_set(csv, "partner", None, category_verdicts=mapping, pdq_threshold=20)
    assert changed and first.source_format == "csv"
    entry = installation.catalog.get_known_set("partner")
    assert (entry.format, entry.pdq_threshold, entry.category_verdicts) == ("csv", 20, mapping)
    assert (entry.verdict, entry.categorized) == (None, True)
    assert installation.import_known_set(
        csv, "partner", None, category_verdicts=mapping, pdq_threshold=20
    )[1] is False
    index = installation.settings.known_dir / "index" / "partner"
    assert (index / "manifest.json").exists()

    csv.write_text(f"md5,pdq\n{picture.md5},\n")  # a new version of the list, without categories
    second, changed = installation.import_known_set(csv, "partner", Verdict.NATIONAL)
    assert changed and second.path != first.path
    assert not first.path.exists() and second.path.exists()
    assert json.loads((index / "manifest.json").read_text())["content_sha256"] == second.content_sha256

    catalog = installation.catalog
    assert catalog.set_known_set_enabled("partner", False, actor="ann")
    assert not catalog.set_known_set_enabled("partner", False, actor="ann")
    assert catalog.known_sets(enabled_only=True) == []
    assert catalog.set_known_set_enabled("partner", True, actor="ann")
    installation.delete_known_set("partner")
    assert catalog.known_sets() == [] and not second.path.exists() and not index.exists()
    actions = [e.action for e in catalog.audit_entries(limit=20)]
    for action in ("known_set.import", "known_set.disable", "known_set.enable", "known_set.delete"):
        assert action in actions


def test_images_and_videos_from_the_evidence_store(installation: Installation, tmp_path: Path) -> None:
    image = encoded(synthetic_picture(61), "JPEG", quality=90)
    video = synthetic_video(4.0, seed=6)
    html = b"<!doctype html><p>not media</p>"
    sha_image, sha_video, sha_html = _store(installation, (image, "image"), (video, "video"), (html, "image"))
    batch = hash_stored_media(installation.evidence.get, [sha_image, sha_video, sha_html], installation.media_config())
    assert batch.hashed == [sha_image, sha_video]
    assert "HTML document" in batch.failed[sha_html]
    assert {r.sha256 for r in batch.frames} == {sha_video}
    installation.catalog.record_hashes(batch.records, batch.frames)
    stored = installation.catalog.frame_hashes_of([sha_video])[sha_video]
    assert [(f.index, f.t) for f in stored] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)]
    assert [f.pdq for f in stored] == [f.pdq for f in hash_video(video).frames]

    frames = hash_video(video).frames
    known = tmp_path / "videos.parquet"
    pq.write_table(pa.table({"pdq": [f.pdq for f in frames], "id": ["clip"] * len(frames)}), known)
    installation.import_known_set(known, "videos", Verdict.BASELINE)
    found = match_stored_media(installation.catalog, [sha_image, sha_video])
    assert [(m.sha256, m.match_type, m.distance, m.known_id) for m in found] == [(sha_video, "vpdq", 0, "clip")]


def test_a_known_benign_match_keeps_an_item_out_of_review(installation: Installation, tmp_path: Path) -> None:
    logo, other, both = (encoded(synthetic_picture(seed)) for seed in (62, 63, 64))
    shas = _store(installation, (logo, "image"), (other, "image"), (both, "image"))
    batch = hash_stored_media(installation.evidence.get, shas)
    installation.catalog.record_hashes(batch.records, batch.frames)
    furniture = tmp_path / "furniture.csv"
    furniture.write_text("md5\n" + "\n".join(hash_image(d).md5 for d in (logo, both)) + "\n")
    installation.import_known_set(furniture, "site-furniture", Verdict.BASELINE, benign=True)
    assert installation.catalog.get_known_set("site-furniture").verdict == Verdict.NOT_ILLEGAL
    illegal = tmp_path / "illegal.csv"
    illegal.write_text(f"md5\n{hash_image(both).md5}\n")
    installation.import_known_set(illegal, "baseline-list", Verdict.BASELINE)

    result = triage(installation.catalog, shas, match_stored_media(installation.catalog, shas))
    assert (result.auto_classified, result.queued) == (2, 1)
    outcomes = {o.sha256: o for o in installation.catalog.outcomes([1])}
    assert (outcomes[shas[0]].verdict, outcomes[shas[0]].verdict_source) == (Verdict.NOT_ILLEGAL, "known-set")
    assert outcomes[shas[0]].set_name == "site-furniture"
    assert (outcomes[shas[2]].verdict, outcomes[shas[2]].set_name) == (Verdict.BASELINE, "baseline-list")
    assert outcomes[shas[1]].status == "queued"


def test_migration_0003_goes_down_and_up_alone(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic import command

    from catalog.db import Database, _alembic_config

    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    config = _alembic_config()
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0010")
        conn.commit()
    assert db.schema_revision() == "0010"  # the merge point of the feature branches
    with db.engine.begin() as conn:  # a set registered before the columns existed
        conn.execute(sa.text(
            "INSERT INTO known_sets (name, verdict, path, rows, content_sha256, pdq_threshold, enabled, "
            "imported_at) VALUES ('old', 'baseline', 'p', 1, :digest, 31, 1, '2026-01-01 00:00:00')"
        ), {"digest": "0" * 64})  # fmt: skip
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003@0001")  # only this branch
        conn.commit()
    tables = sa.inspect(db.engine).get_table_names()
    assert "frame_hashes" not in tables and "rechecks" in tables
    assert "0003" not in (db.schema_revision() or "").split(",")
    db.migrate()
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("known_sets")}
    assert {"category_verdicts", "benign", "format"} <= columns
    from catalog.catalog import Catalog

    entry = Catalog(db.url).get_known_set("old")
    assert (entry.benign, entry.category_verdicts, entry.format) == (False, {}, None)
    assert (entry.verdict, entry.category_profile, entry.categorized) == (Verdict.BASELINE, None, None)
    db.dispose()
