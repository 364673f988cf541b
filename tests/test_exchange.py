"""Exchange between two installations on one machine (ours in NL, a partner in AT): routing
to partners, imports with deduplication, every refusal, key rotation with bundles in flight,
hash sets, re-sending on request, and the commands. Destinations are directories here;
tests/test_s3_exchange.py does the same over S3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from exchange_support import confirmed_item, make_installation, register
from typer.testing import CliRunner

from catalog.decisions.records import Verdict
from catalog.errors import NotFound
from catalog.media_items.records import MediaRecord
from catalog.reports.records import CrawlResult
from exports import (
    BundleMalformed,
    BundleNotForUs,
    BundleReplayed,
    BundleTampered,
    BundleTruncated,
    UnknownSender,
    iter_bundle_files,
    write_bundle,
)
from exports.key_files import generate_encryption_key, generate_signing_key
from exports.outbound import MANIFEST_KIND
from hashing import hash_image, import_known_set, match_stored_media
from hotline.cli import app
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation
from hotline.services.partner_exchange import (
    INTERPOL,
    export_route,
    export_to_partner,
    import_bundle_file,
    interpol_route,
    poll_inbound,
)
from spiders.urls import normalise_url


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Installation, Installation]:
    """Ours (NL) and the Austrian partner's, each registered at the other."""
    ours, theirs = make_installation(tmp_path, "nl", "NL"), make_installation(tmp_path, "at", "AT")
    register(ours, theirs, "at-hotline", countries=["AT"])
    register(theirs, ours, "nl-hotline", countries=["NL"])
    yield ours, theirs
    ours.close()
    theirs.close()


def _inbox_files(inst: Installation) -> list[Path]:
    return sorted(inst.settings.inbox_dir.glob("*.hlb"))


def test_partner_round_trip_routes_by_hosting_country_and_deduplicates(pair) -> None:
    ours, theirs = pair
    at_base = confirmed_item(ours, synthetic_image(1), page_url="http://a.example/gallery", country="AT")
    at_nat = confirmed_item(ours, synthetic_image(2), page_url="http://b.example/page", country="AT",
                            verdict=Verdict.NATIONAL)
    us_base = confirmed_item(ours, synthetic_image(3), page_url="http://c.example/", country="US")
    # they already have this URL, spelled otherwise: it is the same URL identity
    theirs.catalog.add_report("HTTP://B.Example:80/page#top", actor="public", url_key=normalise_url("http://b.example/page"))

    sent = export_to_partner(ours, "at-hotline", actor="test")
    assert [d.items for d in sent] == [2] and sent[0].destination == "partner:at-hotline"
    assert export_to_partner(ours, "at-hotline", actor="test") == []  # nothing is sent twice
    assert len(_inbox_files(theirs)) == 1

    polled = poll_inbound(theirs, actor="test")
    assert polled.refused == [] and len(polled.imported) == 1
    result = polled.imported[0]
    assert (result.partner, result.items, result.urls_already_reported) == ("nl-hotline", 2, 1)
    assert result.known_set == "partner-nl-hotline" and result.hashes_added == 1
    assert result.national_not_applied == 1 and result.media_stored == 0
    new = [theirs.catalog.get_report(r) for r in result.reports_added]
    assert [(r.url, r.source, r.status) for r in new] == [("http://a.example/gallery", "nl-hotline", "pending")]
    assert poll_inbound(theirs, actor="test").skipped == 1  # not imported twice

    # When their crawl of the new report finds the item, it matches the partner's set: never queued.
    picture = synthetic_image(1)
    sha = theirs.evidence.put(picture)
    theirs.catalog.record_crawl(new[0].id, CrawlResult(new[0].url, media=(MediaRecord(sha, len(picture)),)))
    theirs.catalog.record_hashes(hash_image(picture).records())
    matches = match_stored_media(theirs.catalog, [sha])
    assert sha == at_base and {(m.set_name, m.verdict) for m in matches} == {("partner-nl-hotline", Verdict.BASELINE)}
    known = pq.read_table(theirs.catalog.get_known_set("partner-nl-hotline").path).column("sha256").to_pylist()
    assert known == [at_base] and us_base not in known and at_nat not in known

    entries = theirs.catalog.inbound()
    assert [(e.status, e.partner) for e in entries] == [("imported", "nl-hotline")]
    assert "bundle.import" in [a.action for a in theirs.catalog.audit_entries()]


def test_interpol_gets_every_confirmed_item_and_media_only_if_configured(tmp_path: Path) -> None:
    ours = make_installation(tmp_path, "nl", "NL", export_media=True)
    items = {confirmed_item(ours, synthetic_image(n), page_url=f"http://{n}.example/", country=c)
             for n, c in ((1, "AT"), (2, "US"), (3, "NL"))}
    route = interpol_route(ours)
    assert route.name == INTERPOL and route.include_media
    (delivery,) = export_route(ours, route, actor="test")
    from exports import read_bundle

    with Path(delivery.location).open("rb") as src:
        opened, members = read_bundle(src, recipient=ours.keys.receiving_keys(),
                                      trusted_senders=ours.keys.signing_publics())
        media = {m.name for m in members if m.kind == "media"}
    assert {i["sha256"] for i in opened.manifest["items"]} == items == media
    assert opened.manifest["kind"] == MANIFEST_KIND


def _bundle_to(theirs: Installation, sender, manifest: dict, recipient=None) -> Path:
    path = theirs.settings.inbox_dir / f"hotline-{len(_inbox_files(theirs))}.hlb"
    with path.open("wb") as out:
        write_bundle(out, manifest, [], sender=sender, recipients=[recipient or theirs.keys.inbox_public()])
    return path


def test_every_refusal_is_recorded_and_changes_nothing(pair, tmp_path: Path) -> None:
    ours, theirs = pair
    confirmed_item(ours, synthetic_image(4), page_url="http://d.example/", country="AT")
    (sent,) = export_to_partner(ours, "at-hotline", actor="test")
    good = Path(sent.location)
    data = good.read_bytes()
    cases: dict[str, tuple[bytes | Path, type]] = {}
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 1
    cases["tampered"] = (bytes(tampered), BundleTampered)
    cases["truncated"] = (data[: len(data) - 100], BundleTruncated)
    stranger = generate_signing_key()
    cases["unknown-sender"] = (_bundle_to(theirs, stranger, {"kind": MANIFEST_KIND, "items": []}), UnknownSender)
    cases["not-for-us"] = (_bundle_to(theirs, ours.keys.signing_private(), {"kind": MANIFEST_KIND, "items": []},
                                      recipient=generate_encryption_key().public_key()), BundleNotForUs)
    bad_item = {"sha256": "zz", "verdict": "baseline", "hashes": {}}
    cases["malformed"] = (_bundle_to(theirs, ours.keys.signing_private(),
                                     {"kind": MANIFEST_KIND, "items": [bad_item]}), BundleMalformed)
    reports_before = len(theirs.catalog.list_reports())
    for name, (content, error) in cases.items():
        path = content if isinstance(content, Path) else tmp_path / f"{name}.hlb"
        if not isinstance(content, Path):
            path.write_bytes(content)
        with pytest.raises(error):
            import_bundle_file(theirs, path, actor="test")

    import_bundle_file(theirs, good, actor="test")
    replay = tmp_path / "replayed.hlb"
    shutil.copyfile(good, replay)
    with pytest.raises(BundleReplayed, match="imported already"):
        import_bundle_file(theirs, replay, actor="test")

    assert len(theirs.catalog.list_reports()) == reports_before + 1  # only the good bundle's URL
    refused = {e.location: e.reason for e in theirs.catalog.inbound(statuses=["refused"])}
    assert len(refused) == len(cases) + 1
    for reason in ("BundleTampered", "BundleTruncated", "UnknownSender", "BundleNotForUs", "BundleMalformed",
                   "BundleReplayed"):
        assert any(r.startswith(reason) for r in refused.values()), reason
    # The poller records, skips what it handled, and goes on.
    polled = poll_inbound(theirs, actor="test")
    assert polled.imported == [] and polled.skipped == len(_inbox_files(theirs))


def test_key_rotation_with_bundles_in_flight(pair) -> None:
    ours, theirs = pair
    confirmed_item(ours, synthetic_image(5), page_url="http://e.example/", country="AT")
    export_to_partner(ours, "at-hotline", actor="test")  # 1: old inbox key, old signing key

    theirs.keys.rotate("inbox")
    old_signing, new_signing = ours.keys.rotate("signing")
    assert old_signing != new_signing and ours.keys.retired()["signing"] == [old_signing]
    confirmed_item(ours, synthetic_image(6), page_url="http://f.example/", country="AT")
    export_to_partner(ours, "at-hotline", actor="test")  # 2: their old inbox key, our new signing key

    register(theirs, ours, "nl-hotline", countries=["NL"])  # they add our new signing key; the old one stays
    register(ours, theirs, "at-hotline", countries=["AT"])  # we learn their new inbox key
    confirmed_item(ours, synthetic_image(7), page_url="http://g.example/", country="AT")
    export_to_partner(ours, "at-hotline", actor="test")  # 3: new keys on both sides

    assert len(theirs.catalog.get_partner("nl-hotline").signing_keys) == 2
    polled = poll_inbound(theirs, actor="test")
    assert polled.refused == [] and len(polled.imported) == 3
    assert sorted(len(r.reports_added) for r in polled.imported) == [1, 1, 1]


def test_hash_sets_for_partners_are_parquet_and_vics(pair, tmp_path: Path) -> None:
    ours, theirs = pair
    mine = confirmed_item(ours, synthetic_image(8), page_url="http://h.example/", country="US")
    national = confirmed_item(ours, synthetic_image(9), page_url="http://i.example/", country="US",
                              verdict=Verdict.NATIONAL)
    (sent,) = export_to_partner(ours, "at-hotline", hash_set=True, actor="test")
    assert sent.destination == "hashset:at-hotline" and sent.items == 2
    assert export_to_partner(ours, "at-hotline", hash_set=True, actor="test") == []

    with Path(sent.location).open("rb") as src:
        files = dict(iter_bundle_files(src, recipient=theirs.keys.receiving_keys(),
                                       trusted_senders=ours.keys.signing_publics()))
    assert set(files) == {"hashes.parquet", "hashes.vics.json"}
    vics = json.loads(files["hashes.vics.json"])
    assert vics["@odata.context"].endswith("DataModels/2.0.xml/Default/$metadata#Media")
    by_md5 = {m["MD5"]: m for m in vics["value"]}
    md5 = ours.catalog.hashes_of([mine])[mine]["md5"].value
    assert by_md5[md5.upper()]["Category"] == 1 and len(by_md5) == 2
    assert {m["Category"] for m in vics["value"]} == {1, 2} and all(m["MediaID"] for m in vics["value"])
    # every hash survives a round trip through VICS, not only MD5 and SHA-1
    vics_file = tmp_path / "partner.vics.json"
    vics_file.write_bytes(files["hashes.vics.json"])
    written = import_known_set(vics_file, tmp_path / "round-trip", "from-nl-vics")
    rows = {r["sha256"]: r for r in pq.read_table(written.path).to_pylist()}
    mine_hashes = ours.catalog.hashes_of([mine])[mine]
    assert rows[mine]["pdq"] == mine_hashes["pdq"].value and rows[mine]["sha1"] == mine_hashes["sha1"].value
    parquet = tmp_path / "partner.parquet"
    parquet.write_bytes(files["hashes.parquet"])
    assert pq.read_table(parquet).column_names == ["md5", "sha1", "sha256", "pdq", "id", "category"]
    assert import_known_set(parquet, tmp_path, "from-nl").rows == 2  # hashing's importer reads it

    result = import_bundle_file(theirs, Path(sent.location), actor="test")
    assert result.kind == "hotline.hashset/1" and result.hashes_added == 1 and result.reports_added == ()
    assert national not in {r.as_py() for r in pq.read_table(theirs.catalog.get_known_set(
        "partner-nl-hotline").path).column("sha256")}


def test_resend_is_explicit_and_recorded(tmp_path: Path) -> None:
    ours = make_installation(tmp_path, "nl", "NL")
    items = {confirmed_item(ours, synthetic_image(n), page_url=f"http://{n}.example/", country="NL") for n in (10, 11)}
    route = interpol_route(ours)
    (first,) = export_route(ours, route, actor="test")
    assert export_route(ours, route, actor="test") == []
    with pytest.raises(NotFound):
        ours.catalog.request_resend(INTERPOL, actor="ann", bundle_id="0" * 32)
    assert sorted(ours.catalog.request_resend(INTERPOL, actor="ann", bundle_id=first.bundle_id,
                                              reason="drop lost it")) == sorted(items)
    (again,) = export_route(ours, route, actor="test")
    assert again.bundle_id != first.bundle_id and again.items == 2
    assert export_route(ours, route, actor="test") == []
    requests = ours.catalog.resend_requests(INTERPOL)
    assert {(r.bundle_id, r.reason) for r in requests} == {(again.bundle_id, "drop lost it")}
    assert [e.bundle_id for e in ours.catalog.exports()] == [again.bundle_id, first.bundle_id]


def test_commands(pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = pair
    runner = CliRunner()

    def run(inst: Installation, *args: str) -> dict | list:
        monkeypatch.setenv("HOTLINE_DATA_DIR", str(inst.settings.data_dir))
        monkeypatch.setenv("HOTLINE_COUNTRY", inst.settings.country)
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    shown = run(ours, "keys", "show")
    assert shown["fingerprints"] == ours.keys.describe()
    rotated = run(ours, "keys", "rotate", "inbox")
    assert rotated["old"] == shown["fingerprints"]["inbox"] and rotated["new"] == ours.keys.describe()["inbox"]

    public = theirs.keys.public_files()
    added = run(ours, "partner", "add", "de-hotline", "--countries", "DE,LU", "--encryption-key",
                str(public["inbox"]), "--signing-key", str(public["signing"]), "--destination",
                str(tmp_path), "--media")
    assert added["countries"] == ["DE", "LU"] and added["media"] is True
    assert {p["name"] for p in run(ours, "partner", "list")} == {"at-hotline", "de-hotline"}
    run(ours, "partner", "remove", "de-hotline")
    assert [p["name"] for p in run(ours, "partner", "list")] == ["at-hotline"]

    sha = confirmed_item(ours, synthetic_image(12), page_url="http://j.example/", country="AT")
    export_to_partner(ours, "at-hotline", actor="test")
    (bundle,) = _inbox_files(theirs)
    imported = run(theirs, "bundle", "import", str(bundle))
    assert imported["partner"] == "nl-hotline" and len(imported["reports_added"]) == 1
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(theirs.settings.data_dir))
    again = runner.invoke(app, ["bundle", "import", str(bundle)])
    assert again.exit_code == 1 and "imported already" in again.stderr

    assert [e["destination"] for e in run(ours, "export", "status")] == ["partner:at-hotline"]
    resent = run(ours, "export", "resend", "--destination", "partner:at-hotline", "--item", sha[:12])
    assert resent["items"] == [sha]
    assert [(r["sha256"], r["bundle_id"]) for r in run(ours, "export", "resends")] == [(sha, None)]
    assert [e["status"] for e in run(theirs, "bundle", "inbound")] == ["refused", "imported"]
    vics = tmp_path / "confirmed.json"
    assert run(ours, "export", "hashset", "--format", "vics", "--out", str(vics))["items"] == 1
    assert json.loads(vics.read_text())["value"][0]["Category"] == 1


def test_outbox_leftovers_are_delivered_once_or_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exports import DeliveryError, LocalDirectoryDrop

    ours = make_installation(tmp_path, "nl", "NL")
    first = confirmed_item(ours, synthetic_image(13), page_url="http://l.example/", country="NL")
    route = interpol_route(ours)
    drop = ours.settings.drop_dir
    box = ours.settings.outbox_dir / "interpol"

    # Delivered, then the run died before the ledger: the next run records it, once.
    real = ours.catalog.record_export
    monkeypatch.setattr(ours.catalog, "record_export", lambda **kw: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        export_route(ours, route, actor="test")
    monkeypatch.setattr(ours.catalog, "record_export", real)
    (delivered,) = export_route(ours, route, actor="test")
    assert [p.name for p in drop.glob("*.hlb")] == [f"hotline-{delivered.bundle_id}.hlb"] and delivered.items == 1

    # The drop was down and then the machine crashed, tearing the outbox file: never
    # delivered, so the bundle is dropped and its items go out in a new one.
    second = confirmed_item(ours, synthetic_image(14), page_url="http://m.example/", country="NL")
    monkeypatch.setattr(LocalDirectoryDrop, "deliver", lambda self, path, name: (_ for _ in ()).throw(
        DeliveryError("drop is down")))
    with pytest.raises(DeliveryError):
        export_route(ours, route, actor="test")
    monkeypatch.undo()
    (torn,) = box.glob("*.hlb")
    torn.write_bytes(torn.read_bytes()[:-200])
    (rebuilt,) = export_route(ours, route, actor="test")
    assert rebuilt.bundle_id != torn.stem and rebuilt.items == 1
    assert sorted(p.name for p in drop.glob("*.hlb")) == sorted(
        f"hotline-{b}.hlb" for b in (delivered.bundle_id, rebuilt.bundle_id))
    assert [f.name for f in box.iterdir()] == [".lock"] and export_route(ours, route, actor="test") == []
    assert ours.catalog.export_candidates(INTERPOL) == [] and first != second


def test_a_manifest_past_its_budget_leaves_the_rest_for_the_next_bundle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers refuse a manifest over 16 MiB, so a bundle stops taking items at its budget;
    every item still goes out, each once, in bundles every reader opens."""
    from exports import outbound, read_bundle

    ours = make_installation(tmp_path, "nl", "NL")
    items = {confirmed_item(ours, synthetic_image(n), page_url=f"http://{n}.example/", country="NL")
             for n in (21, 22, 23)}
    monkeypatch.setattr(outbound, "MANIFEST_BUDGET", 1)  # one entry passes it
    sent = export_route(ours, interpol_route(ours), actor="test")
    assert [d.items for d in sent] == [1, 1, 1]
    seen = []
    for delivery in sent:
        with Path(delivery.location).open("rb") as src:
            opened, _ = read_bundle(src, recipient=ours.keys.receiving_keys(),
                                    trusted_senders=ours.keys.signing_publics())
        seen += [i["sha256"] for i in opened.manifest["items"]]
    assert sorted(seen) == sorted(items) and export_route(ours, interpol_route(ours), actor="test") == []


def test_migration_0006_upgrades_and_downgrades(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic import command

    from catalog.db import _alembic_config, create_catalog_engine
    from catalog.schema import export_resends, inbound_bundles, partners

    engine = create_catalog_engine(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = _alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        conn.commit()
        inspector = sa.inspect(conn)
        for table in (partners, inbound_bundles, export_resends):  # the migration matches schema.py
            assert {c["name"] for c in inspector.get_columns(table.name)} == {c.name for c in table.columns}
        command.downgrade(cfg, "0001")
        conn.commit()
        assert not {"partners", "inbound_bundles", "export_resends"} & set(sa.inspect(conn).get_table_names())
    engine.dispose()
