"""One URL identity throughout a crawl: every spelling of a media URL a page may use is
requested, deduplicated and recorded in one form, so stored media always have a sighting;
and every response the crawl receives ends as an item or a recorded reason."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scrapy import Request
from synthetic import truncated_video
from w3lib.url import safe_url_string

from catalog.decisions.records import Verdict
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from evidence.spec import EvidenceSpec
from evidence.store import new_data_key, write_data_key
from flows.process_report import process_report
from hashing import hash_image
from hotline.demo.local_site import Reply, serve_site, synthetic_image
from hotline.installation import Installation
from hotline.services.doctor import doctor
from spiders import CrawlRequest, crawl
from spiders.items import Fetch, MediaLink, StoredMedia
from spiders.media_spider import MAX_URL_LENGTH
from spiders.results import ResultBuilder
from spiders.urls import normalise_url, refused_scheme

BASE = "http://site.test/gallery/index.html"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("space in name.jpg", "http://site.test/gallery/space%20in%20name.jpg"),
        ("café.jpg", "http://site.test/gallery/caf%C3%A9.jpg"),
        ("写真.jpg", "http://site.test/gallery/%E5%86%99%E7%9C%9F.jpg"),
        ("pipe|x.jpg", "http://site.test/gallery/pipe%7Cx.jpg"),
        ("a<b>.jpg", "http://site.test/gallery/a%3Cb%3E.jpg"),
        ('quote"d.jpg', "http://site.test/gallery/quote%22d.jpg"),
        ("it's.jpg", "http://site.test/gallery/it's.jpg"),
        ("pre%20encoded.jpg", "http://site.test/gallery/pre%20encoded.jpg"),
        ("mixed%c3%a9%C3%A9.jpg", "http://site.test/gallery/mixed%C3%A9%C3%A9.jpg"),
        ("mixedéé.jpg", "http://site.test/gallery/mixed%C3%A9%C3%A9.jpg"),  # the same resource
        ("100%.jpg", "http://site.test/gallery/100%.jpg"),  # not an escape: left alone
        ("%7e%2F.jpg", "http://site.test/gallery/%7E%2F.jpg"),  # case only; %2F is not "/"
        ("frag.jpg#view", "http://site.test/gallery/frag.jpg"),
        ("sub/../dots.jpg", "http://site.test/gallery/dots.jpg"),
        ("./sub/./../../up.jpg", "http://site.test/up.jpg"),
        ("http://site.test/a/b/../../../c.jpg", "http://site.test/c.jpg"),  # absolute too
        ("/q.jpg?name=café y&b=1", "http://site.test/q.jpg?name=caf%C3%A9%20y&b=1"),
        ("//cdn.test/x.jpg", "http://cdn.test/x.jpg"),
        ("HTTP://CDN.Test:80/X.jpg", "http://cdn.test/X.jpg"),  # the path keeps its case
        ("https://cdn.test:443/x.jpg", "https://cdn.test/x.jpg"),
        ("http://cdn.test:8080", "http://cdn.test:8080/"),
        ("http://bücher.test/ß.jpg", "http://xn--bcher-kva.test/%C3%9F.jpg"),  # IDN host: punycode
        ("http://BÜCHER.test/x.jpg", "http://xn--bcher-kva.test/x.jpg"),
        ("http://xn--bcher-kva.test/x.jpg", "http://xn--bcher-kva.test/x.jpg"),
        ("http://[::1]:8080/x.jpg", "http://[::1]:8080/x.jpg"),
        ("  padded.jpg \n", "http://site.test/gallery/padded.jpg"),
        ("", None),
        ("#top", "http://site.test/gallery/index.html"),
        ("javascript:void(0)", None),
        ("data:image/png;base64,AAAA", None),
        ("file:///etc/passwd", None),
        ("gopher://site.test/1", None),
        ("http://[::1/x.jpg", None),  # not a URL
        ("http://site.test:port/x.jpg", None),
    ],
)
def test_every_spelling_has_one_form(raw: str, expected: str | None) -> None:
    url = normalise_url(raw, BASE)
    assert url == expected
    if url is not None:
        # a fixed point: of itself, of w3lib's escaping, and of what Scrapy requests
        assert normalise_url(url) == url and safe_url_string(url) == url and Request(url).url == url


def test_a_very_long_url_keeps_its_form() -> None:
    raw = "/" + "é" * 3000 + ".jpg?" + "&".join(f"k{n}=v {n}" for n in range(300))
    url = normalise_url(raw, BASE)
    assert url is not None and len(url) > 20_000 and " " not in url
    assert normalise_url(url) == url and Request(url).url == url


@pytest.mark.parametrize(
    ("raw", "scheme"),
    [("file:///etc/passwd", "file"), ("  GOPHER://x.test/", "gopher"), ("ftp://x.test/a.jpg", "ftp"),
     ("https://x.test/", None), ("javascript:alert(1)", None), ("mailto:a@x.test", None),
     ("data:image/png;base64,AA", None), ("/relative:colon.jpg", None), ("c:/x.jpg", None)],
)
def test_refused_schemes(raw: str, scheme: str | None) -> None:
    assert refused_scheme(raw) == scheme


def test_stored_media_bring_their_sighting() -> None:
    """An item is sighted even when no page's link item reaches the result, and two bodies
    fetched from one URL (a page and a media request, a changing image) are both kept."""
    builder = ResultBuilder(CrawlRequest("http://site.test/"))
    fetch = Fetch("http://site.test/a%20b.jpg", 200, "8.8.8.8", None, "image/jpeg", datetime.now(UTC))
    link = MediaLink("http://site.test/a%20b.jpg", "http://site.test/")
    builder.add(StoredMedia(MediaRecord("a" * 64, 1), link, fetch))
    builder.add(StoredMedia(MediaRecord("b" * 64, 1), link, fetch))
    builder.add(MediaLink("http://site.test/a%20b.jpg", "http://site.test/other"))
    result = builder.build({})
    assert {m.sha256 for m in result.media} == {"a" * 64, "b" * 64}
    assert sorted((s.sha256[0], s.page_url) for s in result.sightings) == [
        ("a", "http://site.test/"), ("a", "http://site.test/other"),
        ("b", "http://site.test/"), ("b", "http://site.test/other")]


# --- crawls -----------------------------------------------------------------------------

# File name on the server -> how the page writes it (inside a double-quoted attribute).
AWKWARD = {
    "space in name.jpg": "space in name.jpg",
    "café.jpg": "café.jpg",
    "写真.jpg": "写真.jpg",
    "pipe|x.jpg": "pipe|x.jpg",
    "a<b>.jpg": "a&lt;b&gt;.jpg",
    'quote"d.jpg': "quote&quot;d.jpg",
    "it's.jpg": "it's.jpg",
    "pre encoded.jpg": "pre%20encoded.jpg",
    "mixedéé.jpg": "mixed%c3%a9%C3%A9.jpg",
    "100%.jpg": "100%.jpg",
    "plus+sign [1].jpg": "plus+sign [1].jpg",
    "frag.jpg": "frag.jpg#view",
    "dots.jpg": "sub/../dots.jpg",
    "up.jpg": "./a/./../../up.jpg",
    "long-" + "x" * 3000 + ".jpg": "long-" + "x" * 3000 + ".jpg",
    "big picture.png": "big picture.png",  # linked, not shown
    "css bg é.jpg": "css bg é.jpg",  # a CSS background
}


def awkward_site() -> tuple[dict[str, object], dict[str, bytes]]:
    """Routes of a gallery (at /g/) whose every picture has an awkward name, some written in
    several spellings, and the bytes of each picture by file name."""
    pictures = {name: synthetic_image(200 + n, size=(64, 48), fmt="PNG" if name.endswith(".png") else "JPEG")
                for n, name in enumerate(AWKWARD)}
    tags = []
    for name, written in AWKWARD.items():
        if name == "big picture.png":
            tags.append(f'<a href="{written}">full size</a>')
        elif name.startswith("css "):
            tags.append(f"<div style=\"background: url('{written}')\">x</div>")
        else:
            tags.append(f'<img src="{written}">')
    # the same pictures again, spelled otherwise: one fetch, no second item
    tags += ['<img src="space%20in%20name.jpg">', '<img src="mixedéé.jpg">', '<img src="frag.jpg">',
             '<img src="/g/caf%C3%A9.jpg#x">']
    page = f"<!doctype html><html><body>{''.join(tags)}</body></html>".encode()
    routes: dict[str, object] = {"/g/": page}
    for name, data in pictures.items():
        path = "/up.jpg" if name == "up.jpg" else f"/g/{name}"
        routes[path] = (data, "image/png" if name.endswith(".png") else "image/jpeg")
    return routes, pictures


@pytest.fixture
def vault(tmp_path: Path) -> tuple[Path, Path]:
    key_file = tmp_path / "data.key"
    write_data_key(key_file, new_data_key())
    return tmp_path / "evidence", key_file


def run(url: str, vault: tuple[Path, Path], *allow: str, **limits: object) -> CrawlResult:
    root, key_file = vault
    request = CrawlRequest(url, allow=allow, **limits)  # type: ignore[arg-type]
    return crawl(request, EvidenceSpec(str(root), key_file))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_awkward_names_are_all_stored_and_sighted(vault: tuple[Path, Path]) -> None:
    routes, pictures = awkward_site()
    with serve_site(routes) as site:  # type: ignore[arg-type]
        result = run(site.url("/g/"), vault, site.host_port)
    stored = {m.sha256 for m in result.media}
    sighted = {s.sha256 for s in result.sightings}
    assert stored == {sha(p) for p in pictures.values()}
    assert sighted == stored  # no stored item without a sighting
    # each picture fetched once, however many spellings the page used
    fetched = Counter(unquote(urlsplit(r).path) for r in site.requests)
    assert all(fetched[path] == 1 for path in routes if path != "/g/")
    assert all(s.page_url == site.url("/g/") for s in result.sightings)
    assert all(normalise_url(s.media_url) == s.media_url for s in result.sightings)
    spellings = {s.media_url for s in result.sightings}
    assert site.url("/g/space%20in%20name.jpg") in spellings and site.url("/up.jpg") in spellings
    assert len(spellings) == len(pictures)
    # the only failures: names the sweep of the page's text guessed ("s.jpg" from "it's.jpg")
    assert all(e.reason == "HTTP 404" and e.url not in spellings for e in result.errors)


def test_every_response_ends_as_an_item_or_a_reason(vault: tuple[Path, Path]) -> None:
    pic = synthetic_image(300, size=(64, 48))
    too_long = "/" + "y" * MAX_URL_LENGTH + ".jpg"
    body = (
        "<img src='/ok.jpg'><img src='/empty.jpg'><img src='/text.jpg'><img src='/gone.jpg'>"
        "<img src='/broken.jpg'><a href='/empty-page'>next</a><a href='/data.bin'>x</a>"
        "<a href='file:///etc/passwd'>f</a><img src='gopher://site.test/1.jpg'>"
        "<a href='javascript:void(0)'>j</a><a href='mailto:x@site.test'>m</a>"
        f"<img src='{too_long}'>"
    )
    routes = {
        "/": f"<!doctype html><html><body>{body}</body></html>".encode(),
        "/ok.jpg": (pic, "image/jpeg"),
        "/empty.jpg": (b"", "image/jpeg"),
        "/text.jpg": (b"plain words", "text/plain"),
        "/gone.jpg": Reply(b"gone", status=410, content_type="text/plain"),
        "/broken.jpg": Reply(b"missing", status=404, content_type="text/plain"),
        "/empty-page": (b"", "text/html"),
        "/data.bin": (b"\x00\x01\x02 binary", "application/octet-stream"),
    }
    with serve_site(routes) as site:  # type: ignore[arg-type]
        result = run(site.url("/"), vault, site.host_port)
    reasons = {e.url: (e.stage, e.reason) for e in result.errors}
    assert reasons[site.url("/empty.jpg")] == ("content", "empty response (0 bytes, HTTP 200, Content-Type 'image/jpeg')")
    assert reasons[site.url("/text.jpg")] == (
        "content", "not media by its magic bytes (11 bytes, HTTP 200, Content-Type 'text/plain')")
    assert reasons[site.url("/empty-page")] == (
        "content", "empty response (0 bytes, HTTP 200, Content-Type 'text/html')")
    assert reasons[site.url("/data.bin")][0] == "content"
    assert "neither a page nor media (10 bytes" in reasons[site.url("/data.bin")][1]
    assert reasons[site.url("/gone.jpg")][0] == "crawl" and "410" in reasons[site.url("/gone.jpg")][1]
    assert reasons[site.url("/broken.jpg")][0] == "crawl" and "404" in reasons[site.url("/broken.jpg")][1]
    assert reasons["file:///etc/passwd"][0] == "refused" and "not file:" in reasons["file:///etc/passwd"][1]
    assert reasons["gopher://site.test/1.jpg"][0] == "refused"
    assert (site.url("/"), ("limit", f"1 URL(s) longer than {MAX_URL_LENGTH} characters not fetched")) in [
        (e.url, (e.stage, e.reason)) for e in result.errors]
    assert not any("javascript" in u or "mailto" in u for u in reasons)
    assert [s.media_url for s in result.sightings] == [site.url("/ok.jpg")]
    # 8 responses: 3 pages (/, /empty-page, /data.bin; the last two also a reason), 1 item
    # stored, and a reason for each of the other 4 (empty, text, 410, 404); none retried, and
    # the over-long URL never sent
    assert result.stats["responses"] == len(site.requests) == 8
    assert len(result.pages) == 3 and len(result.media) == 1
    assert len([e for e in result.errors if e.stage in ("content", "crawl")]) == 6


# --- through the whole pipeline ---------------------------------------------------------


def _known_set(tmp_path: Path, picture: bytes) -> Path:
    path = tmp_path / "known.parquet"
    pq.write_table(pa.table({"sha256": [hash_image(picture).sha256], "id": ["k1"]}), path)
    return path


@pytest.mark.usefixtures("prefect_server")
def test_awkward_names_reach_a_verdict_or_the_queue(
    installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The awkward gallery through process-report: every picture matched or queued, the
    partly decoded video hashed with a reason on the report, ``hotline doctor`` clean."""
    routes, pictures = awkward_site()
    routes["/g/"] = bytes(routes["/g/"]).replace(b"</body>", b"<video src='clip \xc3\xa9.mp4'></video></body>")  # type: ignore[arg-type]
    video = truncated_video(tmp_path)  # 2 of its 4 sampled frames decode
    routes["/g/clip é.mp4"] = (video, "video/mp4")
    installation.import_known_set(_known_set(tmp_path, pictures["café.jpg"]), "known-a", Verdict.BASELINE)
    with serve_site(routes) as site:  # type: ignore[arg-type]
        monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", site.host_port)
        report_id = installation.catalog.add_report(site.url("/g/"), actor="t")
        summary = process_report(report_ids=[report_id])
    catalog = installation.catalog
    status = {o.sha256: o.status for o in catalog.outcomes([report_id])}
    wanted = {sha(p) for p in pictures.values()} | {sha(video)}
    assert set(status) == wanted  # nothing lost
    assert status.pop(sha(pictures["café.jpg"])) == "known"
    assert set(status.values()) == {"queued"}
    assert summary["queued"] == len(pictures) and summary["auto_classified"] == 1
    assert catalog.get_report(report_id).status == "done"
    [partial] = [e for e in catalog.report_errors(report_id) if e.sha256 == sha(video)]
    assert partial.stage == "hash" and partial.reason.startswith("only 2 of 4 sampled frames decoded")
    checks = {c.name: c for c in doctor(installation)}
    assert checks["media sightings"].ok and checks["done reports"].ok


@pytest.mark.usefixtures("prefect_server")
def test_repair_reattaches_what_an_older_crawl_lost(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog written by the older crawler: an item stored but never sighted, and a
    report closed with an item never hashed. ``hotline doctor`` names both, ``hotline
    repair`` re-attaches them from the crawl records, and the next run processes them
    without fetching the site again."""
    catalog = installation.catalog
    lost, unhashed = synthetic_image(401, (96, 72)), synthetic_image(402, (96, 72))
    first = catalog.add_report("http://site.test/a", actor="t")
    second = catalog.add_report("http://site.test/b", actor="t")
    for data in (lost, unhashed):
        installation.evidence.put(data)
    catalog.record_crawl(first, CrawlResult("http://site.test/a", media=(MediaRecord(sha(lost), len(lost)),)))
    catalog.record_crawl(second, CrawlResult(
        "http://site.test/b", media=(MediaRecord(sha(unhashed), len(unhashed)),),
        sightings=(SightingRecord(sha(unhashed), "http://site.test/b.jpg", "http://site.test/b"),)))
    for report_id in (first, second):
        catalog.claim_reports("test-run", ids=[report_id])
        catalog.finish_report(report_id)

    checks = {c.name: c for c in doctor(installation)}
    assert not checks["media sightings"].ok and sha(lost)[:12] in checks["media sightings"].detail
    assert not checks["done reports"].ok and f"{second}" in checks["done reports"].detail
    done = subprocess.run([sys.executable, "-m", "hotline.cli", "repair", "--json"],
                          capture_output=True, text=True, check=True, timeout=300)
    repaired = json.loads(done.stdout)
    assert repaired == {"reattached": [sha(lost)], "unattached": [], "reports": [first, second]}
    assert [r.status for r in map(catalog.get_report, (first, second))] == ["pending", "pending"]
    [note] = [e for e in catalog.report_errors(first) if e.stage == "repair"]
    assert note.sha256 == sha(lost) and "re-attached" in note.reason

    summary = process_report()  # no site serves site.test: a second crawl would fail
    assert sorted(summary["reports"]) == [first, second] and summary["queued"] == 2
    assert {q.sha256 for q in catalog.queue()} == {sha(lost), sha(unhashed)}
    assert [r.status for r in map(catalog.get_report, (first, second))] == ["done", "done"]
    assert all(c.ok for c in doctor(installation) if c.name in ("media sightings", "done reports"))
    again = catalog.reattach_media(actor="t")
    assert (again.reattached, again.reports) == ((), ())
    assert [e.action for e in catalog.audit_entries(action="media.reattach")] == ["media.reattach"] * 2
