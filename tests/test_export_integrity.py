"""What leaves the hotline: INTERPOL gets only what an analyst of ours decided (and a second
one confirmed, under four-eyes), never a known set's verdict; a partner's PDQ-only match goes
to an analyst with the partner's verdict as a hint; each exported item says how its verdict
was reached. Routing uses the page's hosting country as well as the media's, a location
without a country is listed for the operator, and the ledger is kept per location, so a new
location of an item sent before is notified. All media are synthetic pictures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from exchange_support import make_installation, register
from people import add_people
from PIL import Image
from typer.testing import CliRunner

from catalog.decisions.records import Verdict
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification.queue import triage
from exports import read_bundle
from hashing import hash_image, match_stored_media
from hotline.cli import app
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation
from hotline.services.doctor import doctor
from hotline.services.partner_exchange import add_known_hashes, export_route, export_to_partner, interpol_route


def crawled(inst: Installation, data: bytes, *, page_url: str, country: str | None = None,
            page_country: str | None = None, media_url: str | None = None) -> str:
    """``data`` as a crawl of ``page_url`` would record it, hashed, matched and triaged."""
    sha256 = inst.evidence.put(data)
    report = inst.catalog.add_report(page_url, actor="test")
    inst.catalog.record_crawl(report, CrawlResult(page_url, media=(MediaRecord(sha256, len(data), "image/jpeg"),),
                                                  sightings=(SightingRecord(
                                                      sha256, media_url or page_url + f"/{sha256[:8]}.jpg", page_url,
                                                      ip="192.0.2.7", country=country, page_country=page_country),)))
    inst.catalog.record_hashes(hash_image(data).records())
    triage(inst.catalog, [sha256], match_stored_media(inst.catalog, [sha256]))
    return sha256


def reencoded(data: bytes) -> bytes:
    small = io.BytesIO()
    Image.open(io.BytesIO(data)).resize((480, 360)).save(small, "JPEG", quality=70)
    return small.getvalue()


def opened_manifest(inst: Installation, location: str, sender: Installation | None = None) -> dict:
    """The manifest of the bundle at ``location``, opened by ``inst`` (sent by ``sender``, or itself)."""
    with Path(location).open("rb") as src:
        opened, members = read_bundle(src, recipient=inst.keys.receiving_keys(),
                                      trusted_senders=(sender or inst).keys.signing_publics())
        list(members)
    return opened.manifest


def test_interpol_gets_only_what_our_analysts_decided(tmp_path: Path, capsys) -> None:
    ours = make_installation(tmp_path, "nl", "NL")
    pictures = {n: synthetic_image(n) for n in range(1, 7)}
    interpol_set = tmp_path / "icse.parquet"
    pq.write_table(pa.table({"sha256": [hash_image(pictures[1]).sha256], "id": ["icse-1"]}), interpol_set)
    ours.import_known_set(interpol_set, "icse", Verdict.BASELINE, source="interpol")
    add_known_hashes(ours, "partner-at", "at-hotline", [
        # as a partner's bundle gives them: each row's category is the partner's verdict
        {"pdq": hash_image(pictures[2]).pdq, "id": "at-2", "category": "baseline"},  # matched only by distance
        {"sha256": hash_image(pictures[6]).sha256, "id": "at-6", "category": "baseline"}])

    interpol_only = crawled(ours, pictures[1], page_url="http://1.example", country="NL")
    partner_near = crawled(ours, reencoded(pictures[2]), page_url="http://2.example", country="NL")
    unconfirmed = crawled(ours, pictures[3], page_url="http://3.example", country="NL")
    confirmed = crawled(ours, pictures[4], page_url="http://4.example", country="NL")
    decided = crawled(ours, pictures[5], page_url="http://5.example", country="NL")
    partner_exact = crawled(ours, pictures[6], page_url="http://6.example", country="NL")
    catalog = ours.catalog

    # a partner's verdict on a look-alike is a hint for an analyst, not a verdict
    assert catalog.outcomes([1, 2, 3, 4, 5, 6])[1].verdict is None
    (waiting,) = [q for q in catalog.queue() if q.sha256 == partner_near]
    assert waiting.hints and waiting.hints[0].startswith("partner-at: baseline (pdq distance")
    catalog.override_verdict(unconfirmed, Verdict.BASELINE, actor="ann", reason="seen", confirm_required=True)
    first = catalog.override_verdict(confirmed, Verdict.BASELINE, actor="ann", reason="seen", confirm_required=True)
    add_people(catalog, ann="analyst", sam="senior")
    catalog.record_reveal("sam", confirmed)
    catalog.confirm_verdict(first, "sam")
    catalog.record_verdict(decided, Verdict.NATIONAL, actor="ann")

    (delivery,) = export_route(ours, interpol_route(ours), actor="test")
    manifest = opened_manifest(ours, delivery.location)
    held = {i["sha256"]: (i["verdict"], i["verdict_source"], i["verdict_basis"]) for i in manifest["items"]}
    names = {interpol_only: "INTERPOL set, exact", partner_near: "partner set, PDQ only",
             unconfirmed: "four-eyes, unconfirmed", confirmed: "four-eyes, confirmed",
             decided: "analyst", partner_exact: "partner set, exact"}
    with capsys.disabled():
        print("\nINTERPOL bundle from a mixed catalog holds:")
        for sha, name in names.items():
            print(f"  {name:24} {sha[:12]}  " + (" / ".join(held[sha]) if sha in held else "not sent"))
    assert held == {confirmed: ("baseline", "analyst", "analyst-confirmed"),
                    decided: ("national", "analyst", "analyst")}

    # known-set verdicts still go to partners for notice and takedown, saying how they were reached
    theirs = make_installation(tmp_path, "at", "AT")
    register(ours, theirs, "nl-partner", countries=["NL"])
    (to_partner,) = export_to_partner(ours, "nl-partner", actor="test")
    bases = {i["sha256"]: i["verdict_basis"] for i in opened_manifest(theirs, to_partner.location, ours)["items"]}
    assert bases == {interpol_only: "known-set-exact", partner_exact: "known-set-exact",
                     confirmed: "analyst-confirmed", decided: "analyst"}


def test_routing_uses_the_pages_country_and_every_new_location_is_notified(tmp_path: Path) -> None:
    ours, theirs = make_installation(tmp_path, "nl", "NL"), make_installation(tmp_path, "at", "AT")
    register(ours, theirs, "at-hotline", countries=["AT"])
    # an Austrian page embedding pictures served from the US
    embedded = crawled(ours, synthetic_image(1), page_url="http://page.example/a", country="US", page_country="AT",
                       media_url="http://cdn.example/1.jpg")
    nowhere = crawled(ours, synthetic_image(2), page_url="http://unknown.example/b")
    for sha in (embedded, nowhere):
        ours.catalog.record_verdict(sha, Verdict.BASELINE, actor="ann")

    (sent,) = export_to_partner(ours, "at-hotline", actor="test")
    (item,) = opened_manifest(theirs, sent.location, ours)["items"]
    assert item["sha256"] == embedded
    assert [(s["country"], s["page_host"], s["page_country"]) for s in item["sightings"]] == [
        ("US", "page.example", "AT")]
    assert export_to_partner(ours, "at-hotline", actor="test") == []  # nothing twice

    # the same picture turns up on another Austrian page: that location is news to the partner
    report = ours.catalog.add_report("http://other.example/c", actor="test")
    ours.catalog.record_crawl(report, CrawlResult("http://other.example/c", sightings=(SightingRecord(
        embedded, "http://cdn.example/1.jpg", "http://other.example/c", country="US", page_country="AT"),)))
    (again,) = export_to_partner(ours, "at-hotline", actor="test")
    (item,) = opened_manifest(theirs, again.location, ours)["items"]
    assert [s["page_url"] for s in item["sightings"]] == ["http://other.example/c"]
    assert export_to_partner(ours, "at-hotline", actor="test") == []
    interpol = export_route(ours, interpol_route(ours), actor="test")  # INTERPOL had neither location yet
    assert sum(d.items for d in interpol) == 2

    # a location with no country at all goes to the operator's list, and doctor says so
    (unrouted,) = ours.catalog.unrouted_locations()
    assert (unrouted.sha256, unrouted.page_url) == (nowhere, "http://unknown.example/b")
    listed = CliRunner().invoke(app, ["export", "unrouted", "--json"],
                                env={"HOTLINE_DATA_DIR": str(ours.settings.data_dir)})
    assert listed.exit_code == 0, listed.output
    assert [u["sha256"] for u in json.loads(listed.stdout)] == [nowhere]
    routing = {c.name: c for c in doctor(ours)}["routing"]
    assert "1 location(s) of decided items have no hosting country" in routing.detail


def test_migration_0016_backfills_page_hosts_and_the_ledgers_locations(tmp_path: Path) -> None:
    """Existing sightings get their page's host, IP and country from the crawl's page record;
    existing exports are taken to have carried the locations seen before them."""
    from datetime import datetime

    import sqlalchemy as sa
    from alembic import command

    from catalog.db import _alembic_config, create_catalog_engine
    from catalog.schema import export_locations, sightings

    engine = create_catalog_engine(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = _alembic_config()
    at = datetime(2026, 1, 1)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010")
        for sql in (
            "INSERT INTO reports (id, url, source, status, received_at) VALUES (1, 'http://p.example/a', 'public', "
            "'done', :at)",
            "INSERT INTO crawls (id, report_id, started_at, status) VALUES (1, 1, :at, 'ok')",
            "INSERT INTO pages (crawl_id, report_id, url, final_url, status, ip, country) "
            "VALUES (1, 1, 'http://p.example/a', 'http://p.example/a', 200, '1.0.16.1', 'JP')",
            "INSERT INTO media (sha256, kind, size, status, first_seen_at) VALUES ('ab', 'image', 1, 'classified', :at)",
            "INSERT INTO sightings (sha256, report_id, crawl_id, media_url, page_url, country, seen_at) "
            "VALUES ('ab', 1, 1, 'http://cdn.example/1.jpg', 'http://p.example/a', 'US', :at)",
            "INSERT INTO verdicts (id, sha256, verdict, source, actor, created_at) "
            "VALUES (1, 'ab', 'baseline', 'analyst', 'ann', :at)",
            "INSERT INTO exports (id, bundle_id, destination, location, recipients, items, sha256, size, created_at) "
            "VALUES (1, 'b1', 'interpol', 'drop', '[]', 1, 'cd', 1, :later)",
            "INSERT INTO export_items (export_id, destination, sha256, verdict_id) VALUES (1, 'interpol', 'ab', 1)",
        ):
            conn.execute(sa.text(sql), dict(at=at, later=datetime(2026, 1, 2)))
        conn.commit()
        command.upgrade(cfg, "0016")
        conn.commit()
        inspector = sa.inspect(conn)
        for table in (sightings, export_locations):  # the migration matches schema.py
            assert {c["name"] for c in inspector.get_columns(table.name)} == {c.name for c in table.columns}
        row = conn.execute(sa.text("SELECT page_host, page_ip, page_country FROM sightings")).one()
        assert tuple(row) == ("p.example", "1.0.16.1", "JP")
        located = conn.execute(sa.text("SELECT destination, media_url, page_url FROM export_locations")).all()
        assert [tuple(r) for r in located] == [("interpol", "http://cdn.example/1.jpg", "http://p.example/a")]
        command.downgrade(cfg, "0010")
        conn.commit()
        assert "export_locations" not in sa.inspect(conn).get_table_names()
        assert "page_host" not in {c["name"] for c in sa.inspect(conn).get_columns("sightings")}
    engine.dispose()
