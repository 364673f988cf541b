"""Tests of the spiders package.

Pure parts (address policy, magic bytes, links, codec, request validation) are tested as
functions; crawls are real: a worker process crawls test sites on 127.0.0.1 over HTTP.
Test media are small synthetic images made with Pillow (``sites.image_bytes``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler

from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlError, CrawlResult, PageRecord
from evidence.spec import EvidenceSpec
from evidence.store import (
    LocalEvidenceStore,
    load_data_key,
    new_data_key,
    write_data_key,
)
from hotline.demo.local_site import Reply, Route, SiteRequest, image_bytes, serve_site, unused_port
from spiders import CrawlRequest, InvalidCrawlRequest, crawl
from spiders.addresses import AddressPolicy, address_refusal, host_port
from spiders.codec import result_from_json, result_to_json
from spiders.items import Fetch, FetchedMedia, MediaLink
from spiders.links import extract_links
from spiders.magic import sniff
from spiders.middlewares.address_guard import AddressGuardMiddleware
from spiders.refusals import AddressRefused
from spiders.runner import run_worker

# --- fixtures and helpers ---------------------------------------------------------------

RED = image_bytes("PNG", color=(220, 30, 30))
BLUE = image_bytes("PNG", color=(30, 30, 220), shape="rectangle")
GREEN_JPEG = image_bytes("JPEG", color=(30, 200, 60))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def html(body: str) -> bytes:
    return f"<!doctype html><html><body>{body}</body></html>".encode()


@pytest.fixture
def vault(tmp_path: Path) -> tuple[Path, Path]:
    """(evidence_root, data_key_file)."""
    key_file = tmp_path / "data.key"
    write_data_key(key_file, new_data_key())
    return tmp_path / "evidence", key_file


def run(
    url: str, vault: tuple[Path, Path], *allow: str, **limits: object
) -> CrawlResult:
    root, key_file = vault
    return crawl(CrawlRequest(url, allow=allow, **limits), EvidenceSpec(str(root), key_file))  # type: ignore[arg-type]


def reasons(result: CrawlResult) -> list[str]:
    return [e.reason for e in result.errors]


# --- address policy (pure, no network) --------------------------------------------------

REFUSED = [
    "10.0.0.1",
    "192.168.1.1",
    "172.16.0.1",
    "127.0.0.1",
    "169.254.169.254",
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:10.0.0.1",
    "100.64.0.1",
    "224.0.0.1",
    "0.0.0.0",
    "fd00:ec2::254",
    "::",
    "255.255.255.255",
    "240.0.0.1",
    "64:ff9b::a00:1",  # NAT64 form of 10.0.0.1
    "2002:a00:1::1",  # 6to4 form of 10.0.0.1
    "ff02::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("169.254.169.254", "cloud-metadata"),
        ("fd00:ec2::254", "cloud-metadata"),
        ("127.0.0.1", "loopback"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("::ffff:10.0.0.1", "embeds 10.0.0.1; 10.0.0.1 is a private address"),
    ],
)
def test_refusal_reasons_are_readable(address: str, words: str) -> None:
    assert words in (address_refusal(ipaddress.ip_address(address)) or "")


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def test_policy_refuses_a_host_if_any_address_is_not_public() -> None:
    resolve = resolver(
        {"mixed.test": ["8.8.8.8", "10.1.2.3"], "public.test": ["8.8.8.8"]}
    )
    policy = AddressPolicy()
    verdict = policy.check_url("http://mixed.test/a", resolve)
    assert (
        verdict.refused
        == "refused: 'mixed.test' resolves to 10.1.2.3; 10.1.2.3 is a private address"
    )
    assert policy.check_url("https://public.test/a", resolve).refused is None


def test_policy_reports_dns_failure_and_bad_schemes() -> None:
    policy = AddressPolicy()
    unknown = policy.check_url("http://nowhere.test/", resolver({}))
    assert unknown.unresolvable and "DNS lookup failed for 'nowhere.test'" in (
        unknown.refused or ""
    )
    for url in ("ftp://8.8.8.8/x", "file:///etc/passwd", "gopher://8.8.8.8/"):
        assert "is not http or https" in (
            policy.check_url(url, resolver({})).refused or ""
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1%25eth0]/",
        "http://localhost/",
    ],
)
def test_policy_sees_through_disguised_local_hosts(url: str) -> None:
    """Numeric host forms resolve locally (no network) and are refused all the same."""
    refused = AddressPolicy().check_url(url).refused
    assert refused and ("loopback" in refused or "link-local" in refused)


def test_allow_list_is_exact_host_and_port() -> None:
    policy = AddressPolicy.from_allow(
        ["127.0.0.1:8123", "[::1]:8080", "intranet.test:80"]
    )
    no_dns = resolver({"localhost": ["127.0.0.1"], "intranet.test": ["10.0.0.5"]})
    assert policy.check_url("http://127.0.0.1:8123/x", no_dns).refused is None
    assert policy.check_url("http://[::1]:8080/", no_dns).refused is None
    assert (
        policy.check_url("http://intranet.test/", no_dns).refused is None
    )  # default port 80
    assert policy.check_url("http://127.0.0.1:8124/x", no_dns).refused == (
        "refused: 127.0.0.1 is a loopback address"
    )
    assert policy.check_url(
        "https://intranet.test/", no_dns
    ).refused  # port 443 is not 80
    # a name is judged by the addresses it resolves to: an allowed address:port passes,
    # the same address on another port does not
    assert policy.check_url("http://localhost:8123/", no_dns).refused is None
    assert policy.check_url("http://localhost:8124/", no_dns).refused == (
        "refused: 'localhost' resolves to 127.0.0.1; 127.0.0.1 is a loopback address"
    )
    assert host_port("https://Example.TEST/a") == "example.test:443"
    assert host_port("http://[2001:db8::1]:81/") == "[2001:db8::1]:81"


def test_guard_refuses_a_response_from_a_non_public_peer() -> None:
    """DNS rebinding backstop: the address actually connected to is checked again."""
    crawler = get_crawler(settings_dict={"ADDRESSGUARD_ALLOW": ["127.0.0.1:8123"]})
    guard = AddressGuardMiddleware.from_crawler(crawler)
    request = Request("http://rebind.test/")
    rebound = Response(
        request.url, ip_address=ipaddress.ip_address("10.9.8.7"), request=request
    )
    with pytest.raises(AddressRefused, match="connected to 10.9.8.7"):
        guard.process_response(request, rebound)
    public = Response(
        request.url, ip_address=ipaddress.ip_address("8.8.8.8"), request=request
    )
    assert guard.process_response(request, public) is public
    allowed = Request("http://127.0.0.1:8123/")
    local = Response(
        allowed.url, ip_address=ipaddress.ip_address("127.0.0.1"), request=allowed
    )
    assert guard.process_response(allowed, local) is local


# --- CrawlRequest -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "http://",
        "http://exa mple.com/",
        " http://example.com/",
        "http://example.com:99999/",
        "http://[::1/",
        "",
    ],
)
def test_crawl_request_refuses_bad_urls(url: str) -> None:
    with pytest.raises(InvalidCrawlRequest) as info:
        CrawlRequest(url)
    assert isinstance(info.value, ValueError)
    assert repr(url) in str(info.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"allow": ("127.0.0.1",)},
        {"allow": ("127.0.0.1:0",)},
        {"allow": "127.0.0.1:80"},
        {"max_pages": 0},
        {"max_depth": -1},
        {"max_media_bytes": "big"},
        {"request_timeout_s": float("nan")},
        {"user_agent": "x\r\nX-Injected: 1"},
        {"referer": "ftp://example.com/"},
    ],
)
def test_crawl_request_refuses_bad_settings(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidCrawlRequest):
        CrawlRequest("https://example.com/", **changes)  # type: ignore[arg-type]


def test_crawl_request_round_trips_as_json_values() -> None:
    request = CrawlRequest(
        "https://example.com/p?q=1",
        allow=("127.0.0.1:8123",),
        max_depth=0,
        referer="https://r.test/",
    )
    assert CrawlRequest.from_dict(request.to_dict()) == request
    with pytest.raises(InvalidCrawlRequest, match="unknown"):
        CrawlRequest.from_dict({**request.to_dict(), "evil": 1})


# --- magic bytes, links, codec ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_sniff_recognises_images_by_their_bytes(fmt: str, mime: str) -> None:
    media_type = sniff(image_bytes(fmt))
    assert media_type is not None and (media_type.mime, media_type.kind) == (
        mime,
        "image",
    )


@pytest.mark.parametrize(
    ("header", "mime"),
    [  # container signatures only (zero padding, no video content)
        (b"\x00\x00\x00\x18ftypisom" + bytes(16), "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(16), "video/quicktime"),
        (
            b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + bytes(8),
            "video/webm",
        ),
        (b"\x1a\x45\xdf\xa3" + bytes(24), "video/x-matroska"),
        (b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(8), "video/x-msvideo"),
    ],
)
def test_sniff_recognises_video_containers(header: bytes, mime: str) -> None:
    media_type = sniff(header)
    assert media_type is not None and (media_type.mime, media_type.kind) == (
        mime,
        "video",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html>not an image</html>",
        b"BMW 320i for sale, low mileage",
        b"RIFF....WAVEfmt ",
    ],
)
def test_sniff_rejects_non_media(data: bytes) -> None:
    assert sniff(data) is None


def test_extract_links_finds_media_candidates_and_same_site_pages() -> None:
    page = html(
        "<img src='a.png'><img srcset='/s1.webp 1x, /s2.webp 2x'><img src='data:image/png;base64,AAAA'>"
        "<video poster='/poster.jpg'><source src='/clip.mp4'></video>"
        "<a href='/big.JPG?size=2#top'>x</a><a href='/next.html'>next</a><a href='/next.html#again'>n</a>"
        "<a href='https://elsewhere.test/page'>other site</a><a href='mailto:x@y.test'>m</a>"
        "<a href='javascript:void(0)'>j</a><a href='#'>self</a><img src='a.png'>"
    )
    response = HtmlResponse("http://site.test/dir/index.html", body=page)
    links = extract_links(response)
    assert sorted(links.media) == sorted([
        "http://site.test/dir/a.png",
        "http://site.test/s1.webp",
        "http://site.test/s2.webp",
        "http://site.test/poster.jpg",
        "http://site.test/clip.mp4",
        "http://site.test/big.JPG?size=2",
    ])
    assert links.pagination == ("http://site.test/next.html",)  # its text says "next"
    assert links.pages == () and links.viewers == ()


def test_crawl_result_round_trips_through_json() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = CrawlResult(
        url="https://a.test/",
        pages=(
            PageRecord(
                "https://a.test/",
                "https://a.test/x",
                200,
                "8.8.8.8",
                None,
                "text/html",
                10,
                when,
                ("https://a.test/",),
            ),
        ),
        media=(MediaRecord("ab" * 32, 10, "image/png", "image"),),
        sightings=(
            SightingRecord(
                "ab" * 32,
                "https://a.test/i.png",
                "https://a.test/x",
                "8.8.8.8",
                None,
                when,
            ),
        ),
        errors=(CrawlError("https://a.test/y", "HTTP 404"),),
        stats={"pages": 1},
    )
    assert result_from_json(result_to_json(result)) == result
    with pytest.raises(ValueError):
        result_from_json('{"url": "https://a.test/", "pages": [{"nope": 1}]}')


def test_fetched_media_never_shows_its_bytes() -> None:
    fetch = Fetch("http://a.test/i.png", 200, None, None, None, datetime.now(UTC))
    item = FetchedMedia(MediaLink("http://a.test/i.png", "http://a.test/"), fetch, RED)
    assert "body" not in repr(item) and repr(RED)[:20] not in repr(item)


# --- the worker process -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "timeout", "words"),
    [
        ("print('garbage')", 30, "printed no valid result"),
        (
            "import sys; sys.stderr.write('boom in worker'); sys.exit(3)",
            30,
            "exited with status 3",
        ),
        ("import time; time.sleep(30)", 0.5, "timed out after 0.5 s"),
    ],
)
def test_broken_workers_become_crawl_errors(
    code: str, timeout: float, words: str
) -> None:
    result = run_worker([sys.executable, "-c", code], "{}", "https://a.test/", timeout)
    assert result.url == "https://a.test/" and len(result.errors) == 1
    error = result.errors[0]
    assert error.stage == "worker" and words in error.reason
    if "boom" in code:
        assert "boom in worker" in error.reason


def test_crawl_raises_for_a_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        crawl(
            CrawlRequest("https://example.com/"),
            EvidenceSpec(str(tmp_path / "evidence"), tmp_path / "no.key"),
        )


# --- real crawls against local sites ----------------------------------------------------


def test_page_with_images_stores_media_encrypted_with_sightings(
    vault: tuple[Path, Path],
) -> None:
    routes: dict[str, Route] = {
        "/": html(
            "<img src='/red-1.png'><img src='red-2.png'><img src='/photo.jpg'>"
            "<a href='/linked.png'>full size</a>"
        ),
        "/red-1.png": (RED, "image/png"),
        "/red-2.png": (RED, "image/png"),
        "/photo.jpg": (GREEN_JPEG, "image/jpeg"),
        "/linked.png": (BLUE, "image/png"),
    }
    with serve_site(routes) as site:
        result = run(site.url("/"), vault, site.host_port)

    assert result.errors == ()
    assert {(m.sha256, m.size, m.mime, m.kind) for m in result.media} == {
        (sha(RED), len(RED), "image/png", "image"),
        (sha(BLUE), len(BLUE), "image/png", "image"),
        (sha(GREEN_JPEG), len(GREEN_JPEG), "image/jpeg", "image"),
    }
    assert {(s.sha256, s.media_url, s.page_url) for s in result.sightings} == {
        (sha(RED), site.url("/red-1.png"), site.url("/")),
        (sha(RED), site.url("/red-2.png"), site.url("/")),
        (sha(GREEN_JPEG), site.url("/photo.jpg"), site.url("/")),
        (sha(BLUE), site.url("/linked.png"), site.url("/")),
    }
    assert all(
        s.ip == "127.0.0.1" and s.seen_at and s.seen_at.tzinfo for s in result.sightings
    )
    [page] = result.pages
    assert (page.url, page.final_url, page.status, page.ip) == (
        site.url("/"),
        site.url("/"),
        200,
        "127.0.0.1",
    )
    assert page.content_type and page.content_type.startswith("text/html")
    assert page.fetched_at is not None and page.fetched_at.utcoffset() is not None
    assert result.stats["media"] == 3 and result.stats["sightings"] == 4
    assert result.stats["media/stored"] == 4 and result.stats["evidence/new"] == 3

    root, key_file = vault
    store = LocalEvidenceStore(root, load_data_key(key_file))
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) == 3  # one object per distinct media, no temp files
    for data in (RED, BLUE, GREEN_JPEG):
        on_disk = store.path_for(sha(data)).read_bytes()
        assert data not in on_disk and data[:32] not in on_disk
        assert store.get(sha(data)) == data


def test_reported_url_that_is_media_is_recorded_as_media(
    vault: tuple[Path, Path],
) -> None:
    # served as octet-stream under a name without extension: detected by magic bytes
    with serve_site(
        {
            "/share": Reply.redirect("/file?id=7"),
            "/file?id=7": (GREEN_JPEG, "application/octet-stream"),
        }
    ) as site:
        result = run(site.url("/share"), vault, site.host_port)
    assert result.errors == ()
    assert [(m.sha256, m.mime) for m in result.media] == [
        (sha(GREEN_JPEG), "image/jpeg")
    ]
    [sighting] = result.sightings
    assert (sighting.media_url, sighting.page_url) == (
        site.url("/share"),
        site.url("/share"),
    )
    [page] = result.pages
    assert page.final_url == site.url("/file?id=7") and page.redirects == (
        site.url("/share"),
    )


def test_html_with_a_jpg_name_is_not_media(vault: tuple[Path, Path]) -> None:
    with serve_site(
        {"/": html("<a href='/fake.jpg'>photo</a>"), "/fake.jpg": html("not an image")}
    ) as site:
        result = run(site.url("/"), vault, site.host_port)
    assert site.requests == ["/", "/fake.jpg"]
    assert result.media == () and result.sightings == ()
    assert result.stats["media/not_media"] == 1
    assert reasons(result) == ["no media found on the page"]
    assert not vault[0].exists() or not any(vault[0].rglob("*"))


def test_page_without_media_is_reported(vault: tuple[Path, Path]) -> None:
    seen: list[SiteRequest] = []

    def page(request: SiteRequest) -> bytes:
        seen.append(request)
        return html("<p>Nothing to see</p>")

    with serve_site({"/": page}) as site:
        result = run(
            site.url("/"), vault, site.host_port, referer="https://reports.test/42"
        )
    assert [(e.url, e.reason) for e in result.errors] == [
        (site.url("/"), "no media found on the page")
    ]
    # with a referer, the page is seen as the reporter saw it and as a direct visitor
    views = {p.view: p for p in result.pages}
    assert set(views) == {"pathway", "direct"}
    assert views["pathway"].referer == "https://reports.test/42"
    assert views["direct"].referer is None
    assert len(seen) == 2
    assert all(
        r.headers["User-Agent"] == "hotline/0.1 (+https://github.com/hotline)" for r in seen
    )
    assert sorted(r.headers.get("Referer") or "-" for r in seen) == [
        "-", "https://reports.test/42"
    ]


def test_http_404_is_an_error(vault: tuple[Path, Path]) -> None:
    with serve_site({}) as site:
        result = run(site.url("/missing"), vault, site.host_port)
    assert [(e.url, e.reason) for e in result.errors] == [
        (site.url("/missing"), "HTTP 404")
    ]
    assert [p.status for p in result.pages] == [404]


def test_connection_refused_is_an_error(vault: tuple[Path, Path]) -> None:
    port = unused_port()
    result = run(f"http://127.0.0.1:{port}/", vault, f"127.0.0.1:{port}")
    assert reasons(result) == ["connection refused"]
    assert result.pages == () and result.media == ()


def test_slow_site_times_out(vault: tuple[Path, Path]) -> None:
    def slow(_: object) -> bytes:
        time.sleep(2)
        return html("late")

    with serve_site({"/": slow}) as site:
        result = run(site.url("/"), vault, site.host_port, request_timeout_s=0.5)
    [reason] = reasons(result)
    assert reason.startswith("timed out")


def test_media_larger_than_the_limit_is_an_error(vault: tuple[Path, Path]) -> None:
    big = image_bytes("PNG", size=(300, 300))
    assert len(big) > 2000
    with serve_site(
        {
            "/": html("<img src='/big.png'><img src='/small.jpg'>"),
            "/big.png": (big, "image/png"),
            "/small.jpg": (image_bytes("JPEG", size=(8, 8)), "image/jpeg"),
        }
    ) as site:
        result = run(site.url("/"), vault, site.host_port, max_media_bytes=2000)
    assert [(e.url, e.reason) for e in result.errors] == [
        (site.url("/big.png"), "response larger than max_media_bytes (2000 bytes)")
    ]
    assert len(result.media) == 1


def test_pages_one_link_away_on_the_same_site_are_crawled(
    vault: tuple[Path, Path],
) -> None:
    routes: dict[str, Route] = {
        "/": html(
            "<a href='/gallery.html'>gallery</a><a href='/view?id=3'>view</a>"
            "<a href='https://elsewhere.test/'>other site</a>"
        ),
        "/gallery.html": html("<img src='/blue.png'><a href='/deeper.html'>more</a>"),
        "/deeper.html": html("<img src='/red.png'>"),
        "/view?id=3": (GREEN_JPEG, "application/octet-stream"),  # media, no extension
        "/blue.png": (BLUE, "image/png"),
        "/red.png": (RED, "image/png"),
    }
    with serve_site(routes) as site:
        result = run(site.url("/"), vault, site.host_port, max_depth=1)
    assert "/deeper.html" not in site.requests  # two links away
    assert {(s.sha256, s.media_url, s.page_url) for s in result.sightings} == {
        (sha(BLUE), site.url("/blue.png"), site.url("/gallery.html")),
        (sha(GREEN_JPEG), site.url("/view?id=3"), site.url("/")),
    }
    assert {p.url for p in result.pages} == {
        site.url(path) for path in ("/", "/gallery.html", "/view?id=3")
    }
    assert result.errors == ()


def test_max_depth_zero_fetches_the_reported_page_only(
    vault: tuple[Path, Path],
) -> None:
    routes: dict[str, Route] = {
        "/": html("<img src='/red.png'><a href='/gallery.html'>gallery</a>"),
        "/gallery.html": html("<img src='/blue.png'>"),
        "/red.png": (RED, "image/png"),
        "/blue.png": (BLUE, "image/png"),
    }
    with serve_site(routes) as site:
        result = run(site.url("/"), vault, site.host_port, max_depth=0)
    assert sorted(site.requests) == ["/", "/red.png"]
    assert [m.sha256 for m in result.media] == [sha(RED)]


def test_redirect_to_a_non_allowed_local_server_is_refused(
    vault: tuple[Path, Path],
) -> None:
    with serve_site({"/secret": (RED, "image/png")}) as inside:
        target = inside.url("/secret")
        with serve_site({"/": Reply.redirect(target)}) as site:
            result = run(site.url("/"), vault, site.host_port)
        assert inside.requests == []  # not a single request reached the second server
    assert site.requests == ["/"]
    assert [(e.url, e.reason) for e in result.errors] == [
        (
            site.url("/"),
            f"refused: 127.0.0.1 is a loopback address (redirected to {target})",
        )
    ]
    assert result.media == ()


def test_allow_list_does_not_open_other_ports(vault: tuple[Path, Path]) -> None:
    with (
        serve_site({"/": (RED, "image/png")}) as allowed,
        serve_site({"/": (RED, "image/png")}) as other,
    ):
        result = run(other.url("/"), vault, allowed.host_port)
    assert other.requests == [] and allowed.requests == []
    assert reasons(result) == ["refused: 127.0.0.1 is a loopback address"]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.0.0.1/", "refused: 10.0.0.1 is a private address"),
        (
            "http://[fd00:ec2::254]/latest/meta-data/",
            "refused: fd00:ec2::254 is a cloud-metadata address",
        ),
    ],
)
def test_private_and_metadata_addresses_are_refused_before_connecting(
    url: str, words: str, vault: tuple[Path, Path]
) -> None:
    result = run(url, vault)
    assert reasons(result) == [words]
    assert result.stats["guard/refused"] == 1 and "responses" not in result.stats


def test_unresolvable_host_is_an_error(vault: tuple[Path, Path]) -> None:
    result = run("http://no-such-host.invalid/", vault)
    [reason] = reasons(result)
    assert reason.startswith("DNS lookup failed for 'no-such-host.invalid'")


def test_worker_logs_never_contain_media_bytes(vault: tuple[Path, Path]) -> None:
    """Even at DEBUG, where Scrapy logs every item, no media byte reaches the log."""
    routes: dict[str, Route] = {
        "/": html("<img src='/red.png'><a href='/fake.jpg'>x</a>"),
        "/red.png": (RED, "image/png"),
        "/fake.jpg": (b"decoy-text-in-a-fake-jpg", "image/jpeg"),
    }
    root, key_file = vault
    with serve_site(routes) as site:
        payload = {
            "request": CrawlRequest(site.url("/"), allow=(site.host_port,)).to_dict(),
            "evidence": EvidenceSpec(str(root), key_file).to_dict(),
            "log_level": "DEBUG",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "spiders.worker"],
            input=json.dumps(payload).encode(),
            capture_output=True,
            check=True,
            timeout=60,
        )
    assert b"Scraped from" in proc.stderr and b"not media by its magic bytes" in proc.stderr
    assert RED[8:40] not in proc.stderr and b"IHDR" not in proc.stderr
    assert b"decoy-text" not in proc.stderr
    assert [m.sha256 for m in result_from_json(proc.stdout.decode()).media] == [
        sha(RED)
    ]
