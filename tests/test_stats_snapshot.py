"""The statistician's snapshot: its layout and manifest, that it holds no media, no evidence
keys and no personal data, that it is consistent while the catalog is written, that readers
keep reading while new snapshots replace it, and the scheduled flow that writes it."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw
from stats_seed import ANALYST, REASON, REFERER, seed

from catalog.catalog import Catalog
from catalog.db import utcnow
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from catalog.schema import crawls, hashes, media, reports, sightings
from hotline.installation import Installation
from stats import (
    NoSnapshot,
    SnapshotOptions,
    compute_figures,
    open_snapshot,
    snapshot_figures,
    write_snapshot,
)
from stats.facts import FACTS
from stats.snapshot_versions import CURRENT, DATABASE
from stats.views import VIEWS

NL = SnapshotOptions(country="NL")


def _picture(seed_value: int) -> bytes:
    """A benign synthetic picture: coloured shapes on a gradient."""
    img = Image.new("RGB", (64, 48), (seed_value * 40 % 256, 90, 160))
    draw = ImageDraw.Draw(img)
    draw.ellipse((8, 8, 40, 40), fill=(250, 220 - seed_value, 30))
    draw.rectangle((30, 20, 60, 44), outline=(20, 20, 20), width=3)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _every_value(folder: Path) -> str:
    """Every value of every table and view of the snapshot, as text: DuckDB file and Parquet."""
    texts: list[str] = []
    con = duckdb.connect(str(folder / DATABASE), read_only=True)
    try:
        names = [n for (n,) in con.sql("SELECT table_name FROM information_schema.tables").fetchall()]
        for name in names:
            rel = con.sql(f"SELECT * FROM {name}")
            texts.append(" ".join(rel.columns))
            texts += [repr(row) for row in rel.fetchall()]
    finally:
        con.close()
    for path in (folder / "parquet").glob("*.parquet"):
        texts += [repr(row) for row in pq.read_table(path).to_pylist()]
    texts.append((folder / "manifest.json").read_text())
    return "\n".join(texts)


def test_snapshot_holds_no_media_no_evidence_keys_and_no_personal_data(
    installation: Installation, tmp_path: Path
) -> None:
    catalog = installation.catalog
    rows = seed(catalog)
    # two real items in the evidence store, found by a crawl recorded the usual way
    pictures = [_picture(k) for k in range(2)]
    stored = [installation.evidence.put(p) for p in pictures]
    report = catalog.add_report("http://gallery.example.test/albums/7", actor="t", referer=REFERER)
    catalog.record_crawl(report, CrawlResult(
        url="http://gallery.example.test/albums/7",
        media=tuple(MediaRecord(h, len(p), "image/png") for h, p in zip(stored, pictures, strict=True)),
        sightings=tuple(SightingRecord(h, f"http://gallery.example.test/i/{k}.png", "http://gallery.example.test/albums/7",
                                       ip="198.51.100.23", country="NL") for k, h in enumerate(stored))))
    with catalog.read() as conn:
        keys = set(conn.scalars(sa.select(media.c.sha256)))
        digests = set(conn.scalars(sa.select(hashes.c.value)))
    assert set(stored) <= keys and len(digests) > 400
    data_key = installation.settings.data_key_file.read_bytes()
    secrets = {
        *keys, *digests, REFERER, ANALYST, REASON, "198.51.100.23", "192.0.2.8",
        data_key.hex(), base64.b64encode(data_key).decode(),
    }

    found = {}
    for policy in ("none", "host", "full"):
        info = write_snapshot(catalog, tmp_path / policy, replace(NL, urls=policy))
        text = _every_value(info.path)
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, (policy, leaked[:3])
        raw = b"".join(p.read_bytes() for p in info.path.rglob("*") if p.is_file())
        assert not any(p in raw for p in pictures) and data_key not in raw
        con = duckdb.connect(str(info.path / DATABASE), read_only=True)
        types = {t for (t,) in con.sql("SELECT DISTINCT data_type FROM information_schema.columns").fetchall()}
        con.close()
        assert "BLOB" not in types  # no column could even hold media bytes
        found[policy] = text
    assert "gallery.example.test" not in found["none"] and "://" not in found["none"]
    assert "gallery.example.test" in found["host"] and "i.imgur.com" in found["host"]
    assert "http://" not in found["host"] and "/albums/7" not in found["host"]
    assert "http://gallery.example.test/albums/7" in found["full"]
    # the site types and countries were worked out before the URLs were dropped
    none, full = snapshot_figures(tmp_path / "none"), snapshot_figures(tmp_path / "full")
    assert {r["site_type"] for r in none.views["site_types"]} >= {"image host", "file host", "forum"}
    assert {r["country"] for r in none.views["hosting_countries"]} >= {"NL", "FR"}
    assert len(rows.rows["reports"]) + 1 == none.reports
    # same figures, except the hosts that only a snapshot with hosts has
    assert {r["host"] for r in none.views["removal_by_host"]} == {"unknown"}
    assert "i.imgur.com" in {r["host"] for r in full.views["removal_by_host"]}

    def hostless(f: Any) -> Any:
        return replace(f, version=None, views={k: v for k, v in f.views.items() if k != "removal_by_host"})

    assert replace(hostless(none), as_of=full.as_of) == hostless(full)


def test_layout_manifest_audit_and_the_same_figures_as_live(installation: Installation, tmp_path: Path) -> None:
    catalog = installation.catalog
    seed(catalog)
    folder = tmp_path / "stats"
    with pytest.raises(NoSnapshot, match="hotline stats snapshot"):
        open_snapshot(folder)
    first = write_snapshot(catalog, folder, NL, keep=2, actor="tester")
    assert (folder / CURRENT).resolve() == first.path and first.path.parent.name == "versions"
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["version"] == first.version and manifest["url_policy"] == "host"
    assert set(manifest["timings"]) == {"extract", "build", "parquet"}
    con = open_snapshot(folder)
    kinds = {name: entry["kind"] for name, entry in manifest["relations"].items()}
    assert {n for n, k in kinds.items() if k == "derived table"} == set(FACTS)
    assert {n for n, k in kinds.items() if k == "view"} == set(VIEWS)
    for name, entry in manifest["relations"].items():
        assert con.sql(f"SELECT count(*) FROM {name}").fetchall() == [(entry["rows"],)]
        assert entry["rows"] == first.rows[name]
        if name in FACTS:  # derived tables are in the database file only
            assert "parquet" not in entry and not (first.path / "parquet" / f"{name}.parquet").exists()
            continue
        assert pq.read_table(first.path / entry["parquet"]).num_rows == entry["rows"]
        assert hashlib.sha256((first.path / entry["parquet"]).read_bytes()).hexdigest() == entry["sha256"]
    assert con.sql("SELECT version, country, url_policy FROM snapshot").fetchall() == [(first.version, "NL", "host")]
    con.close()
    assert {e.subject for e in catalog.audit_entries(action="stats.snapshot")} == {first.version}

    live = compute_figures(catalog, NL)
    stored = snapshot_figures(folder)
    assert replace(stored, version=None, as_of=live.as_of) == replace(live, as_of=live.as_of)
    # newest two are kept; the current one is never pruned
    versions = [write_snapshot(catalog, folder, NL, keep=2).version for _ in range(2)]
    assert sorted(p.name for p in (folder / "versions").iterdir()) == versions
    assert not list(folder.glob(".building-*")) and not list(folder.glob(".current-*"))


def test_a_failed_build_leaves_the_current_snapshot_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stats.snapshot_versions

    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    folder = tmp_path / "stats"
    first = write_snapshot(catalog, folder, NL)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(stats.snapshot_versions, "_write_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_snapshot(catalog, folder, NL)
    catalog.dispose()
    assert (folder / CURRENT).resolve() == first.path
    assert {p.name for p in folder.iterdir()} == {CURRENT, "versions"}
    assert [p.name for p in (folder / "versions").iterdir()] == [first.version]
    assert snapshot_figures(folder).version == first.version


READER = r"""
import json, sys, time
from pathlib import Path
from typing import Any
from stats import open_snapshot
folder, stop = Path(sys.argv[1]), Path(sys.argv[2])
con = open_snapshot(folder)
print(con.sql("SELECT count(*) FROM reports").fetchall()[0][0], flush=True)
counts, errors, reads = set(), [], 0
while not stop.exists():
    try:
        counts.add(con.sql("SELECT reports_received FROM overview").fetchall()[0][0])
        counts.add(con.sql("SELECT count(*) FROM report_facts").fetchall()[0][0])
        reads += 1
    except Exception as exc:
        errors.append(repr(exc))
    time.sleep(0.02)
print(json.dumps({"counts": sorted(counts), "errors": errors, "reads": reads}), flush=True)
"""


def test_a_reader_keeps_reading_while_new_snapshots_replace_its_own(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    for k in range(5):
        catalog.add_report(f"http://r{k}.example.test/", actor="t")
    folder, stop = tmp_path / "stats", tmp_path / "stop"
    write_snapshot(catalog, folder, NL, keep=1)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(folder), str(stop)], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "5"  # the reader is in
        for k in range(2):  # two newer snapshots; with keep=1 the reader's files are deleted
            catalog.add_report(f"http://new{k}.example.test/", actor="t")
            write_snapshot(catalog, folder, NL, keep=1)
            time.sleep(0.2)
        assert len(list((folder / "versions").iterdir())) == 1
        stop.touch()
        out = json.loads(reader.stdout.readline())
    finally:
        stop.touch()
        reader.wait(timeout=60)
    catalog.dispose()
    assert out["errors"] == [] and out["reads"] > 5
    assert out["counts"] == [5]  # it kept reading its own snapshot, whole
    con = open_snapshot(folder)  # a new reader gets the newest
    assert con.sql("SELECT count(*) FROM reports").fetchall() == [(7,)]
    con.close()


def test_a_snapshot_is_consistent_while_writers_commit(tmp_path: Path) -> None:
    """Every writer transaction adds one report, crawl, item and sighting: a snapshot that
    read the tables at different moments would count them differently."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    now = utcnow()

    def rows(k: int) -> dict[str, dict[str, object]]:
        sha = f"{k:064x}"
        return {
            "reports": dict(id=k, url=f"http://c{k}.example.test/", source="public", status="done", received_at=now),
            "crawls": dict(id=k, report_id=k, started_at=now, finished_at=now, status="ok"),
            "media": dict(sha256=sha, kind="image", size=1, status="queued", first_seen_at=now),
            "sightings": dict(sha256=sha, report_id=k, crawl_id=k, media_url=f"http://c{k}.example.test/i.png",
                              page_url=f"http://c{k}.example.test/", seen_at=now),
        }

    tables = {"reports": reports, "crawls": crawls, "media": media, "sightings": sightings}
    with catalog.write() as conn:  # enough rows that reading them takes a while
        batch = [rows(k) for k in range(1, 10_001)]
        for name, table in tables.items():
            conn.execute(table.insert(), [r[name] for r in batch])
    commits: list[datetime] = []
    done = threading.Event()

    def writer() -> None:
        k = 10_001
        while not done.is_set():
            with catalog.write() as conn:
                for name, table in tables.items():
                    conn.execute(table.insert().values(**rows(k)[name]))
            commits.append(utcnow())
            k += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while not commits:  # the writer is under way
            time.sleep(0.01)
        infos = [write_snapshot(catalog, tmp_path / "stats", NL, keep=2) for _ in range(2)]
    finally:
        done.set()
        thread.join()
    overlapped = 0
    for info in infos:
        assert info.rows["reports"] == info.rows["crawls"] == info.rows["items"] == info.rows["sightings"] > 10_000
        ends = info.as_of.timestamp() + info.timings["extract"]
        overlapped += any(info.as_of.timestamp() < t.timestamp() < ends for t in commits)
    assert overlapped  # writers did commit while a snapshot was reading
    catalog.dispose()


def test_the_flow_writes_the_current_snapshot(installation: Installation, prefect_server: None) -> None:
    from flows.snapshot import stats_snapshot

    seed(installation.catalog)
    summary = stats_snapshot()
    folder = installation.settings.snapshot_dir
    assert (folder / CURRENT).resolve().name == summary["version"]
    assert summary["rows"]["reports"] == 302 and summary["url_policy"] == "host"
    assert [e.actor for e in installation.catalog.audit_entries(action="stats.snapshot")] == ["stats-snapshot"]
    assert snapshot_figures(folder).reports == 302


def test_postgresql_catalog_gives_the_same_figures(tmp_path: Path) -> None:
    from cluster_support import postgres_database

    now = utcnow()
    lite = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    lite.migrate()
    seed(lite, now=now)
    with postgres_database() as url:
        pg = Catalog(url)
        pg.migrate()
        seed(pg, now=now)
        from_pg = compute_figures(pg, NL)
        pg.dispose()
    from_lite = compute_figures(lite, NL)
    lite.dispose()
    assert replace(from_pg, as_of=from_lite.as_of) == from_lite


def _doc_examples() -> tuple[list[str], list[str]]:
    """The shell and Python examples of docs/statistics.md's snapshot section, as written."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "statistics.md").read_text()
    blocks = re.findall(r"```(sh|python)\n(.*?)```", text, flags=re.S)
    return ([b for kind, b in blocks if kind == "sh" and b.startswith("duckdb ")],
            [b for kind, b in blocks if kind == "python" and "duckdb.connect" in b])


def test_the_docs_duckdb_examples_run_as_written(installation: Installation, tmp_path: Path) -> None:
    seed(installation.catalog)
    folder = tmp_path / "stats"
    write_snapshot(installation.catalog, folder, NL)
    shell, python = _doc_examples()
    assert shell and python
    duckdb_command = Path(sys.executable).with_name("duckdb")  # installed by the duckdb-cli package
    for example in shell:
        argv = shlex.split(example.replace("<stats dir>", str(folder)))
        done = subprocess.run([str(duckdb_command), *argv[1:]], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert "reports" in done.stdout  # the overview's columns, printed as a table
    for example in python:
        shown = subprocess.run([sys.executable, "-c", example.replace("<stats dir>", str(folder))],
                               capture_output=True, text=True, timeout=600)
        assert shown.returncode == 0, shown.stderr
    con = open_snapshot(folder)
    stages = con.sql("SELECT stage FROM time_to WHERE jurisdiction = 'INTERPOL'").fetchall()
    con.close()
    assert sorted(s for (s,) in stages) == ["crawl", "export", "removal", "verdict"]  # one row a stage


def _relations(folder: Path) -> dict[str, Any]:
    """Every relation of a snapshot (DuckDB file and Parquet): its kind, columns and types,
    and its rows as a sorted list, URL numbers replaced by the URLs (numbers are valid within
    one snapshot only; built with every URL kept, they say which URL they stand for)."""
    con = duckdb.connect(str(folder / DATABASE), read_only=True)
    try:
        urls = dict(con.sql("SELECT url_id, url FROM urls").fetchall())
        assert len(urls) == len(set(urls.values())) and None not in urls.values()
        out: dict[str, Any] = {}
        kinds = con.sql("SELECT table_name, table_type FROM information_schema.tables "
                        "WHERE table_schema = 'main'").fetchall()
        for name, kind in kinds:
            rel = con.sql(f"SELECT * FROM {name}")
            numbered = [i for i, c in enumerate(rel.columns) if c == "url_id" or c.endswith("_url_id")]

            def canonical(row: tuple[Any, ...], numbered: list[int] = numbered) -> str:
                return repr(tuple(urls[v] if i in numbered and v is not None else v for i, v in enumerate(row)))

            out[name] = (kind, list(zip(rel.columns, map(str, rel.types), strict=True)),
                         sorted(map(canonical, rel.fetchall())))
            parquet = folder / "parquet" / f"{name}.parquet"
            if name in FACTS:
                assert not parquet.exists()
            else:
                table = pq.read_table(parquet)
                assert table.column_names == rel.columns
                assert sorted(canonical(tuple(r.values())) for r in table.to_pylist()) == out[name][2]
        return out
    finally:
        con.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_snapshot_read_in_small_batches_equals_one_read_in_one_batch(dialect: str, tmp_path: Path) -> None:
    """The catalog is read and staged a bounded batch at a time, so memory does not grow with
    it: however small the batches, the snapshot holds the same tables, views and values."""
    from cluster_support import postgres_database

    from stats.extract import reading
    from stats.snapshot_versions import _build_files

    def both(catalog: Catalog) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        seed(catalog)
        full = SnapshotOptions(country="NL", urls="full")
        built = {}
        with reading(catalog) as source:  # one read, staged twice: the same as_of, the same rows
            for batch_rows in (7, 1_000_000):
                folder = tmp_path / f"{dialect}-{batch_rows}"
                folder.mkdir()
                timings = {"extract": time.perf_counter()}
                _build_files(folder, source, lambda: None, full, "v", timings, lambda _step: None, batch_rows)
                assert sorted(p.name for p in folder.iterdir()) == [DATABASE, "manifest.json", "parquet"]
                built[batch_rows] = folder
        catalog.dispose()
        small, one = (json.loads((built[b] / "manifest.json").read_text()) for b in (7, 1_000_000))
        return _relations(built[7]), _relations(built[1_000_000]), {"small": small, "one": one}

    if dialect == "sqlite":
        catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
        catalog.migrate()
        small, one, manifests = both(catalog)
    else:
        with postgres_database() as url:
            catalog = Catalog(url)
            catalog.migrate()
            small, one, manifests = both(catalog)
    assert manifests["small"]["relations"].keys() == manifests["one"]["relations"].keys()
    assert all(manifests["small"]["relations"][n]["rows"] == manifests["one"]["relations"][n]["rows"]
               for n in manifests["one"]["relations"])
    assert small.keys() == one.keys() and set(VIEWS) < small.keys()
    assert small["sightings"][2] and small["items"][2]  # the seeded rows are there
    for name in one:
        assert small[name] == one[name], name
