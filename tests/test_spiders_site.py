"""The spider against a fixture site with every pattern a reported page hides media with,
and every hostile trick a reported page may play; all served on 127.0.0.1 (and 127.0.0.2).

A second local server ("inside") stands for the hotline's own network: pages link, frame,
redirect and refresh to it, and the test fails if it receives a single request.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from catalog.records import CrawlResult
from evidence.store import LocalEvidenceStore, load_data_key, new_data_key, write_data_key
from hotline.site import (
    Reply,
    Route,
    Site,
    SiteRequest,
    Stream,
    gzip_bomb,
    image_bytes,
    serve_site,
    synthetic_image,
)
from spiders import CrawlRequest, crawl

PICS = {n: synthetic_image(n, size=(96, 72)) for n in range(40)}
MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(200)  # a container signature (no real video)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def page(body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


@pytest.fixture
def vault(tmp_path: Path) -> tuple[Path, Path]:
    key_file = tmp_path / "data.key"
    write_data_key(key_file, new_data_key())
    return tmp_path / "evidence", key_file


@pytest.fixture
def inside() -> Iterator[Site]:
    """The server the crawler must never reach; the test fails if it got any request."""
    with serve_site({"/": page("<img src='/secret.png'>"), "/secret.png": (PICS[39], "image/png")}) as site:
        yield site
        assert site.requests == [], f"the crawler reached the inside server: {site.requests}"


def run(url: str, vault: tuple[Path, Path], *allow: str, test_hosts=None, **limits: object) -> CrawlResult:  # type: ignore[no-untyped-def]
    root, key_file = vault
    request = CrawlRequest(url, allow=allow, **limits)  # type: ignore[arg-type]
    return crawl(request, root, key_file, test_hosts=test_hosts)


def sighted(result: CrawlResult) -> dict[str, str]:
    """media URL path -> SHA-256 of what was stored from it."""
    return {s.media_url.split("/", 3)[3]: s.sha256 for s in result.sightings}


def by_url(result: CrawlResult, url: str) -> list[str]:
    return [e.reason for e in result.errors if e.url == url]


# --- find everything --------------------------------------------------------------------


def gallery_routes(inside: Site, host: Site) -> dict[str, Route]:
    """Every way a page shows or links media; ``host`` is an image host on another port."""
    return {
        "/": page(
            head=(
                "<meta property='og:image' content='/og.jpg'>"
                "<link rel='stylesheet' href='/site.css'>"
                f"<link rel='stylesheet' href='{inside.url('/evil.css')}'>"
                "<style>.hero { background-image: url('/style-block.jpg') }</style>"
            ),
            body=(
                "<img src='/plain.jpg'>"
                "<img srcset='/small.jpg 1x, /large.jpg 2x'>"
                "<picture><source srcset='/picture.webp' type='image/webp'><img src='/plain.jpg'></picture>"
                "<img class='lazy' data-src='/lazy-data-src.jpg' src='/spacer.gif'>"
                "<img data-original='/lazy-original.jpg'><img data-lazy-src='/lazy-lazy-src.jpg'>"
                "<img data-srcset='/lazy-srcset.jpg 800w'>"
                "<div data-bg=\"url('/lazy-bg.jpg')\"></div>"
                "<div style='background-image: url(/inline-style.jpg)'>x</div>"
                "<video src='/clip.mp4' poster='/poster.jpg'></video>"
                "<video><source src='/source-clip.mp4' type='video/mp4'></video>"
                "<a href='/full.png'>full size</a>"
                "<img src='/no-extension'>"  # PNG bytes served as text/plain: judged by bytes
                "<img src='/decoy.jpg'>"  # text that calls itself image/jpeg: not media
                "<iframe src='/frame.html'></iframe>"
                f"<iframe src='{inside.url('/')}'></iframe>"
                f"<img src='{inside.url('/secret.png')}'>"
                "<a href='/to-inside'>redirect</a>"
                "<a href='/gallery'>gallery</a>"  # one level down; its pages stay at that level
                "<a href='/about.html'>about</a>"
                f"<a href='{host.url('/view/abc')}'><img src='/thumb-abc.jpg'></a>"
                "<a href='/viewer-disguised.jpg'>a 'jpg' that is an HTML page</a>"
                "<a href='/refresh.html'>refresh</a>"
            ),
        ),
        "/site.css": (
            b"@import url('/more.css'); .a { background: url(\"/css-linked.jpg\") no-repeat }"
            b" @font-face { src: url('/font.woff2') }",
            "text/css",
        ),
        "/more.css": (b".b { background-image: url(/css-imported.jpg) }", "text/css"),
        "/frameset.html": page("<frameset><frame src='/frame2.html'></frameset>"),
        "/frame.html": page("<img src='/in-iframe.jpg'><iframe src='/frameset.html'></iframe>"),
        "/frame2.html": page("<img src='/in-frame.jpg'>"),
        "/to-inside": Reply.redirect(inside.url("/secret.png")),
        "/gallery": page("<img src='/gallery-1.jpg'><a href='/gallery?page=2' rel='next'>older</a>"),
        "/gallery?page=2": page(
            "<img src='/gallery-2.jpg'><div class='pagination'><a href='/gallery?page=3'>3</a></div>"
        ),
        "/gallery?page=3": page("<img src='/gallery-3.jpg'><a href='/deep.html'>deeper</a>"),
        "/about.html": page("<img src='/about.jpg'><a href='/deep.html'>deeper</a>"),
        "/deep.html": page("<img src='/deep.jpg'>"),  # two links away: not fetched at depth 1
        "/viewer-disguised.jpg": page("<img src='/behind-viewer.jpg'>"),
        "/refresh.html": page("<p>moved</p>", head="<meta http-equiv='refresh' content='0; url=/refreshed.html'>"),
        "/refreshed.html": page("<img src='/after-refresh.jpg'>"),
        "/no-extension": (PICS[20], "text/plain"),
        "/decoy.jpg": (b"just some text", "image/jpeg"),
        "/spacer.gif": (image_bytes("GIF", size=(1, 1)), "image/gif"),
        "/clip.mp4": (MP4, "video/mp4"),
        "/source-clip.mp4": (MP4 + b"\x01", "application/octet-stream"),
        **{f"/{name}.jpg": (PICS[n], "image/jpeg") for n, name in enumerate(JPEG_NAMES)},
        "/picture.webp": (image_bytes("WEBP", color=(9, 99, 199)), "image/webp"),
        "/full.png": (image_bytes("PNG", color=(1, 2, 3)), "image/png"),
    }


JPEG_NAMES = (
    "plain", "small", "large", "lazy-data-src", "lazy-original", "lazy-lazy-src", "lazy-srcset",
    "lazy-bg", "inline-style", "poster", "og", "style-block", "css-linked", "css-imported",
    "in-iframe", "in-frame", "gallery-1", "gallery-2", "gallery-3", "about", "deep",
    "thumb-abc", "behind-viewer", "after-refresh",
)  # fmt: skip


def test_fixture_site_every_pattern_is_found(vault: tuple[Path, Path], inside: Site) -> None:
    with serve_site({"/view/abc": page("<h1>abc</h1><img id='full' src='/i/abc-full.jpg'>"),
                     "/i/abc-full.jpg": (PICS[30], "image/jpeg")}) as host:
        with serve_site(gallery_routes(inside, host)) as site:
            result = run(site.url("/"), vault, site.host_port, host.host_port, max_pages=30)

    found = sighted(result)
    expected = {f"{name}.jpg": sha(PICS[n]) for n, name in enumerate(JPEG_NAMES) if name != "deep"}
    assert {k: found.get(k) for k in expected} == expected
    assert "deep.jpg" not in found and "/deep.html" not in site.requests
    assert found["i/abc-full.jpg"] == sha(PICS[30])  # behind the image host's viewer page
    assert found["no-extension"] == sha(PICS[20])
    assert {found["clip.mp4"], found["source-clip.mp4"]} == {sha(MP4), sha(MP4 + b"\x01")}
    assert found["picture.webp"] and found["full.png"] and found["spacer.gif"]
    assert "decoy.jpg" not in found and "font.woff2" not in site.requests
    kinds = {m.sha256: m.kind for m in result.media}
    assert kinds[sha(MP4)] == "video" and kinds[sha(PICS[0])] == "image"

    pages = {p.url.split("/", 3)[3]: p for p in result.pages}
    assert {"", "frame.html", "frameset.html", "frame2.html", "gallery", "gallery?page=2", "gallery?page=3",
            "about.html", "refresh.html", "refreshed.html", "viewer-disguised.jpg"} <= set(pages)
    assert pages["refreshed.html"].redirects == (site.url("/refresh.html"),)
    assert pages[""].headers["Content-Type"].startswith("text/html")
    assert pages[""].ip == "127.0.0.1" and pages[""].country is None
    assert pages[""].view == "direct"
    sighting = next(s for s in result.sightings if s.media_url == site.url("/plain.jpg"))
    assert (sighting.final_url, sighting.http_status, sighting.content_type) == (
        site.url("/plain.jpg"), 200, "image/jpeg")
    assert sighting.headers["Content-Length"] == str(len(PICS[0]))

    refusals = [e for e in result.errors if "loopback" in e.reason]
    assert {e.url for e in refusals} == {
        inside.url("/evil.css"), inside.url("/"), inside.url("/secret.png"), site.url("/to-inside")
    }
    assert all(e.stage == "crawl" for e in result.errors)
