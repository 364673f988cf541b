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

import av
import numpy as np
import pytest
from PIL import Image

from catalog.reports.records import CrawlResult
from evidence.spec import EvidenceSpec
from evidence.store import LocalEvidenceStore, load_data_key, new_data_key, write_data_key
from hotline.demo.local_site import (
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
    return crawl(request, EvidenceSpec(str(root), key_file), test_hosts=test_hosts)


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
    # the page's host beside the media's: every sighting says where its page came from
    assert (sighting.page_host, sighting.page_ip, sighting.page_country) == ("127.0.0.1", "127.0.0.1", None)
    assert all(s.page_ip == "127.0.0.1" and s.page_host for s in result.sightings)

    refusals = [e for e in result.errors if "loopback" in e.reason]
    assert {e.url for e in refusals} == {
        inside.url("/evil.css"), inside.url("/"), inside.url("/secret.png"), site.url("/to-inside")
    }
    assert {e.stage for e in result.errors} == {"crawl", "content"}
    assert {e.url: e.reason for e in result.errors if e.stage == "content"} == {
        site.url("/decoy.jpg"): "not media by its magic bytes (14 bytes, HTTP 200, Content-Type 'image/jpeg')"
    }


# --- hostile content --------------------------------------------------------------------


def pixel_bomb(side: int) -> bytes:
    """A small PNG file that declares ``side`` x ``side`` pixels (a decompression bomb)."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG", optimize=True)
    return out.getvalue()


def blank_video(side: int) -> bytes:
    """A one-frame black H.264 clip of ``side`` x ``side`` pixels: a few KB of bytes whose
    frames would take ``side**2 * 3`` bytes each to decode."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = side, side, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(np.zeros((side, side, 3), dtype=np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return out.getvalue()


def test_hostile_site_records_each_limit_and_keeps_what_it_collected(
    vault: tuple[Path, Path], inside: Site
) -> None:
    broken = (
        b"<html><body><img src='/ok-1.jpg'><div <<<< <img src='/ok-2.jpg'<p></b></i>"
        b"<img src=\"/ok-3.jpg\" <!-- <script> \x00\xff\xfe <iframe src='/drip.html"
    )
    bomb_png = pixel_bomb(3000)
    small_video = blank_video(64)
    routes: dict[str, Route] = {
        "/": page(
            "<img src='/ok-0.jpg'><img src='/drip.jpg'><img src='/bomb.jpg'><img src='/huge.png'>"
            "<img src='/pixels.png'><img src='/truncated.jpg'><a href='/loop-a'>loop</a>"
            "<video src='/pixels.mp4'></video><video src='/small.mp4'></video>"
            "<iframe src='/broken.html'></iframe><iframe src='/endless.html'></iframe>"
            "<a href='/to-inside'>x</a><a href='/bigpage.html'>big</a>"
            "<a href='/refresh-a.html'>r</a>"
        ),
        "/broken.html": broken,
        "/endless.html": Reply(page("<p>framed</p>"), headers=(("Refresh", "0; url=/endless.html?again"),)),
        "/endless.html?again": page("<iframe src='/endless.html?again2'></iframe>"),
        **{f"/ok-{n}.jpg": (PICS[n], "image/jpeg") for n in range(4)},
        "/drip.jpg": Stream.drip(seconds=8, chunk=b"\xff"),
        "/bomb.jpg": gzip_bomb(64 * 1024 * 1024, content_type="image/jpeg"),
        "/huge.png": (bytes(300_000), "image/png"),
        "/pixels.png": (bomb_png, "image/png"),
        "/pixels.mp4": (blank_video(2100), "video/mp4"),
        "/small.mp4": (small_video, "video/mp4"),
        "/truncated.jpg": (PICS[5][:400], "image/jpeg"),
        "/loop-a": Reply.redirect("/loop-b"),
        "/loop-b": Reply.redirect("/loop-a"),
        "/to-inside": Reply.redirect(inside.url("/")),
        "/bigpage.html": page("<img src='/never.jpg'>" + "<p>filler</p>" * 12_000),
        "/refresh-a.html": page("", head="<meta http-equiv='refresh' content='0;url=/refresh-b.html'>"),
        "/refresh-b.html": page("", head="<meta http-equiv='refresh' content='0;url=/refresh-c.html'>"),
        "/refresh-c.html": page("", head="<meta http-equiv='refresh' content='0;url=/refresh-d.html'>"),
        "/refresh-d.html": page("<img src='/never-2.jpg'>"),
    }
    started = time.monotonic()
    with serve_site(routes) as site:
        result = run(
            site.url("/"), vault, site.host_port, request_timeout_s=1.5, max_media_bytes=200_000,
            max_page_bytes=100_000, max_pixels=4_000_000, max_redirects=2,
        )
    assert time.monotonic() - started < 30

    found = sighted(result)
    assert {found.get(f"ok-{n}.jpg") for n in range(4)} == {sha(PICS[n]) for n in range(4)}
    assert found["truncated.jpg"] == sha(PICS[5][:400])  # stored; hashing reports it
    assert found["small.mp4"] == sha(small_video)  # a video within the limit is stored
    assert "never.jpg" not in site.requests and "/never-2.jpg" not in site.requests
    limits = {e.url.split("/", 3)[3]: e.reason for e in result.errors if e.stage == "limit"}
    assert limits == {
        "drip.jpg": "timed out after 1.5 s (request_timeout_s)",
        "bomb.jpg": "response larger than max_media_bytes (200000 bytes) once decompressed "
                    "(a compression bomb?)",
        "huge.png": "response larger than max_media_bytes (200000 bytes)",
        "pixels.png": "image is 3000x3000 (9000000 pixels), more than max_pixels (4000000)",
        "pixels.mp4": "video frames are 2100x2100 (4410000 pixels), more than max_pixels (4000000)",
        "loop-a": "more than 2 redirects (max_redirects)",
        "bigpage.html": "page larger than max_page_bytes (100000 bytes)",
        "refresh-c.html": "more than 2 redirects (max_redirects), counting refreshes",
    }
    assert by_url(result, site.url("/to-inside")) == [
        f"refused: 127.0.0.1 is a loopback address (redirected to {inside.url('/')})"
    ]
    assert result.stats["limit/fired"] >= 4
    # what was collected is in the store, sealed
    store = LocalEvidenceStore(vault[0], load_data_key(vault[1]))
    assert store.get(sha(PICS[0])) == PICS[0]


def test_page_and_media_budgets_and_crawl_time_are_reasons_on_the_report(
    vault: tuple[Path, Path],
) -> None:
    routes: dict[str, Route] = {
        "/": page("".join(f"<a href='/p{n}.html'>p</a>" for n in range(10))
                  + "".join(f"<img src='/m{n}.jpg'>" for n in range(6))),
        **{f"/p{n}.html": page("<p>a page</p>") for n in range(10)},
        **{f"/m{n}.jpg": (PICS[n], "image/jpeg") for n in range(6)},
    }
    with serve_site(routes) as site:
        result = run(site.url("/"), vault, site.host_port, max_pages=4, max_media=3)
    assert len(result.pages) == 4 and len(result.media) == 3
    assert [(e.url, e.reason, e.stage) for e in result.errors] == [
        (site.url("/"), "page budget spent: max_pages (4); 7 more page link(s) not followed", "limit"),
        (site.url("/"), "media budget spent: max_media (3); 3 more media URL(s) not fetched", "limit"),
    ]

    slow = {"/": page("<img src='/ok.jpg'><iframe src='/drip.html'></iframe>"),
            "/ok.jpg": (PICS[7], "image/jpeg"), "/drip.html": Stream.drip(seconds=20)}
    started = time.monotonic()
    with serve_site(slow) as site:
        result = run(site.url("/"), vault, site.host_port, crawl_timeout_s=2.0)
    assert time.monotonic() - started < 12  # not the drip's 20 s, nor the request's 20 s
    assert [m.sha256 for m in result.media] == [sha(PICS[7])]  # collected before the stop
    assert (site.url("/"), "crawl stopped after crawl_timeout_s (2 s); results are partial",
            "limit") in [(e.url, e.reason, e.stage) for e in result.errors]
    assert (site.url("/drip.html"), "stopped by the crawl's time limit, crawl_timeout_s (2 s)",
            "limit") in [(e.url, e.reason, e.stage) for e in result.errors]


# --- DNS rebinding ----------------------------------------------------------------------


def test_connections_go_to_the_address_that_was_checked(vault: tuple[Path, Path]) -> None:
    """rebind.test answers 127.0.0.1 (allowed) to the first question and 127.0.0.2 (not
    allowed) to every later one. Pinned, the crawl asks once and never reaches .2."""
    seen: list[SiteRequest] = []

    def front(request: SiteRequest) -> bytes:
        seen.append(request)
        return page("<img src='/a.jpg'><a href='/next.html'>next</a>")

    with serve_site({"/": front, "/a.jpg": (PICS[1], "image/jpeg"),
                     "/next.html": page("<img src='/b.jpg'>"), "/b.jpg": (PICS[2], "image/jpeg")}) as site:
        with serve_site({"/": page("<img src='/a.jpg'>"), "/a.jpg": (PICS[39], "image/jpeg")},
                        host="127.0.0.2", port=site.port) as rebound:
            hosts = {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]}
            result = run(f"http://rebind.test:{site.port}/", vault, site.host_port, test_hosts=hosts)
            first_refused = run(f"http://rebind.test:{site.port}/", vault, site.host_port,
                                test_hosts={"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
        assert rebound.requests == []
    assert result.errors == ()
    assert {s.sha256 for s in result.sightings} == {sha(PICS[1]), sha(PICS[2])}
    assert result.stats["guard/dns_lookups"] == 1 and result.stats["guard/passed"] == 4
    assert seen[0].headers["Host"] == f"rebind.test:{site.port}"
    assert [e.reason for e in first_refused.errors] == [
        "refused: 'rebind.test' resolves to 127.0.0.2; 127.0.0.2 is a loopback address"
    ]
    assert sorted(site.requests) == ["/", "/a.jpg", "/b.jpg", "/next.html"]


# --- disguised websites: the referrer pathway -------------------------------------------


def test_pathway_is_replayed_and_both_views_are_recorded(vault: tuple[Path, Path]) -> None:
    """The target shows its gallery only to visitors coming from the forum post (Referer),
    who passed the forum's front page (cookie), with a browser's user agent."""
    browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    site_url: list[str] = []

    def forum(_: SiteRequest) -> Reply:
        return Reply(page("<a href='/post/7'>post</a>"), headers=(("Set-Cookie", "visited=1; Path=/"),))

    def hidden(request: SiteRequest) -> bytes:
        disguised = (
            request.headers.get("Referer") == site_url[0] + "/post/7"
            and "visited=1" in request.headers.get("Cookie", "")
            and request.headers.get("User-Agent") == browser
        )
        return page("<img src='/hidden.jpg'>" if disguised else "<p>Cooking recipes</p><img src='/cake.jpg'>")

    routes: dict[str, Route] = {
        "/forum": forum, "/post/7": page("<a href='/target'>pics</a>"), "/target": hidden,
        "/hidden.jpg": (PICS[11], "image/jpeg"), "/cake.jpg": (PICS[12], "image/jpeg"),
    }
    with serve_site(routes) as site:
        site_url.append(site.base_url)
        result = run(site.url("/target"), vault, site.host_port, user_agent=browser,
                     pathway=(site.url("/forum"), site.url("/post/7")))
    views = sorted((p.view, p.url.split("/", 3)[3], p.referer) for p in result.pages)
    assert views == [
        ("direct", "target", None),
        ("pathway", "target", site.url("/post/7")),
        ("step", "forum", None),
        ("step", "post/7", site.url("/forum")),
    ]
    assert sighted(result) == {"hidden.jpg": sha(PICS[11]), "cake.jpg": sha(PICS[12])}
    sizes = {p.view: p.size for p in result.pages if p.url.endswith("/target")}
    assert sizes["direct"] != sizes["pathway"]  # the disguise shows in the two views
    assert result.stats["pathway/steps"] == 2


def test_a_dns_server_that_does_not_answer_times_out(vault: tuple[Path, Path]) -> None:
    started = time.monotonic()
    result = run("http://slow-dns.test/", vault, test_hosts={"slow-dns.test": [3]}, request_timeout_s=1)
    assert [e.reason for e in result.errors] == ["DNS lookup failed for 'slow-dns.test' (no answer within 1 s)"]
    assert time.monotonic() - started < 15


def test_pinned_https_keeps_the_host_name_for_sni_and_host(vault: tuple[Path, Path]) -> None:
    """Over TLS the connection goes to the pinned address, yet the server sees the host
    name both in the TLS handshake (SNI) and in the Host header."""
    seen: list[SiteRequest] = []

    def front(request: SiteRequest) -> bytes:
        seen.append(request)
        return page("<img src='/a.jpg'>")

    with serve_site({"/": front, "/a.jpg": (PICS[3], "image/jpeg")}, tls=True) as site:
        result = run(f"https://pinned.test:{site.port}/", vault, site.host_port,
                     test_hosts={"pinned.test": [["127.0.0.1"], ["127.0.0.2"]]})
    assert result.errors == () and [s.sha256 for s in result.sightings] == [sha(PICS[3])]
    assert set(site.server_names) == {"pinned.test"}
    assert seen[0].headers["Host"] == f"pinned.test:{site.port}"
    assert result.pages[0].final_url == f"https://pinned.test:{site.port}/"
