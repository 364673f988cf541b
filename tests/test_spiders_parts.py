"""Pure parts of the spider: link extraction patterns, CSS, refresh,
hosting country, recorded headers, DNS pinning, failure reasons. No network, no crawl."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse, Request, Response
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.python.failure import Failure

from spiders.failures import describe_failure
from spiders.hosting import country_of, recorded_headers
from spiders.links import css_urls, extract_links, refresh_target, swept_media_urls
from spiders.media_spider import _as_html
from spiders.pinning import PinnedResolver, PinTable, scripted_resolver

BASE = "http://site.test/dir/index.html"


def links_of(body: str, head: str = "", url: str = BASE):  # type: ignore[no-untyped-def]
    html = f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
    return extract_links(HtmlResponse(url, body=html.encode()))


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<img src='a.jpg'>", "http://site.test/dir/a.jpg"),
        ("<img srcset='/s.jpg 1x, /l.jpg 2x'>", "http://site.test/l.jpg"),
        ("<picture><source srcset='/p.avif' type='image/avif'></picture>", "http://site.test/p.avif"),
        ("<img data-src='/lazy.jpg'>", "http://site.test/lazy.jpg"),
        ("<img data-original='/orig'>", "http://site.test/orig"),
        ("<img data-lazy-src='/ls'>", "http://site.test/ls"),
        ("<img data-srcset='/ss1 480w, /ss2 800w'>", "http://site.test/ss2"),
        ("<div data-bg='/bg.png'></div>", "http://site.test/bg.png"),
        ("<div data-background-image=\"url('/bgi.png')\"></div>", "http://site.test/bgi.png"),
        ("<table background='/tbl.gif'></table>", "http://site.test/tbl.gif"),
        ("<div style=\"background-image:url('/inline.webp')\"></div>", "http://site.test/inline.webp"),
        ("<span style='background: #fff url(sprite) no-repeat'></span>", "http://site.test/dir/sprite"),
        ("<video src='/v.webm'></video>", "http://site.test/v.webm"),
        ("<video><source src='/v2'></video>", "http://site.test/v2"),
        ("<video poster='/poster'></video>", "http://site.test/poster"),
        ("<a href='/file.MOV?x=1#t'>clip</a>", "http://site.test/file.MOV?x=1"),
        ("<input type='image' src='/btn.png'>", "http://site.test/btn.png"),
        ("<object data='/obj.swf.jpg'></object>", "http://site.test/obj.swf.jpg"),
        ("<embed src='/emb.mp4'>", "http://site.test/emb.mp4"),
        ("<img src='/broken.jpg'<p>", "http://site.test/broken.jpg"),
    ],
)
def test_media_candidates_in_markup(markup: str, expected: str) -> None:
    assert expected in links_of(markup).media


def test_media_urls_in_scripts_are_guesses() -> None:
    links = links_of("<script>var pics = ['/js/one.jpg', \"/js/two.png\"];</script>")
    assert links.guessed == ("http://site.test/js/one.jpg", "http://site.test/js/two.png")
    assert links.media == ()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("<meta property='og:image' content='https://cdn.test/og.jpg'>", "https://cdn.test/og.jpg"),
        ("<meta property='og:video:url' content='/og.mp4'>", "http://site.test/og.mp4"),
        ("<meta name='twitter:image' content='/tw.png'>", "http://site.test/tw.png"),
        ("<link rel='image_src' href='/src.jpg'>", "http://site.test/src.jpg"),
        ("<style>.x{background:url(\"/block.jpg\")}</style>", "http://site.test/block.jpg"),
        ("<base href='https://other.test/b/'><meta property='og:image' content='rel.jpg'>",
         "https://other.test/b/rel.jpg"),
    ],
)
def test_media_candidates_in_the_head(head: str, expected: str) -> None:
    assert expected in links_of("", head=head).media


def test_pages_frames_viewers_stylesheets_and_refresh_are_told_apart() -> None:
    links = links_of(
        head="<link rel='stylesheet' href='/a.css'><link rel='next' href='/list?p=2'>"
             "<meta http-equiv='Refresh' content='5; URL=/moved.html'>"
             "<style>@import url('/b.css');</style>",
        body="<a href='/about'>About us</a><a href='/list?p=3'>3</a><a href='/list?p=9'>»</a>"
             "<nav class='pagination'><a href='/list?p=4'>four</a></nav>"
             "<a href='https://imghost.test/v/1'><img src='/t1.jpg'></a>"
             "<a href='https://elsewhere.test/'>text link to another site</a>"
             "<iframe src='https://player.test/embed/1'></iframe><frame src='/f.html'>"
             "<a href='index.html'>this page</a><a href='javascript:go()'>js</a>",
    )
    assert links.pages == ("http://site.test/about",)
    assert links.pagination == tuple(f"http://site.test/list?p={n}" for n in (2, 3, 9, 4))
    assert links.viewers == ("https://imghost.test/v/1",)
    assert links.frames == ("https://player.test/embed/1", "http://site.test/f.html")
    assert links.stylesheets == ("http://site.test/a.css", "http://site.test/b.css")
    assert links.refresh == "http://site.test/moved.html"
    assert "https://elsewhere.test/" not in links.pages + links.viewers + links.frames


def test_css_urls_skip_fonts_and_follow_imports() -> None:
    css = (
        "@import 'theme.css'; @import url(\"/print.css\") print;\n"
        ".a{background:url(img/a.png)} .b{background-image:url( '../b.jpg' )}"
        ".c{background-image:image-set('c1.png' 1x, \"c2.png\" 2x)}"
        "@font-face{src:url(/f.woff2) format('woff2'), url(/f.ttf)}"
        ".d{background:url(data:image/png;base64,AAAA)}"
    )
    media, imports = css_urls(css, "http://site.test/css/main.css")
    assert media == ["http://site.test/css/img/a.png", "http://site.test/b.jpg",
                     "http://site.test/css/c1.png", "http://site.test/css/c2.png"]
    assert imports == ["http://site.test/css/theme.css", "http://site.test/print.css"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("0; url=/next", "http://site.test/next"),
        ("0;URL='https://x.test/a b'", "https://x.test/a%20b"),  # in the crawl's one form
        ("3,next.html", "http://site.test/dir/next.html"),
        ("10", None),
        ("", None),
        ("0; url=javascript:alert(1)", None),
    ],
)
def test_refresh_targets(content: str, expected: str | None) -> None:
    assert refresh_target(content, BASE) == expected


def test_raw_sweep_ignores_prose_and_non_media() -> None:
    text = "see photo.jpg in the text; href='/page.html'; data='/x.png'"
    assert swept_media_urls(text, BASE) == ["http://site.test/x.png"]


def test_html_is_recognised_by_its_bytes() -> None:
    request = Request("http://site.test/x")
    disguised = Response("http://site.test/x", body=b"\xef\xbb\xbf  <!DOCTYPE html><img src=a.jpg>",
                         request=request)
    assert isinstance(_as_html(disguised), HtmlResponse)
    assert _as_html(Response("http://site.test/y", body=b"GIF89a....", request=request)) is None


# --- hosting country and headers --------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),  # public addresses, looked up offline in the shipped table
        ("1.0.16.1", "JP"),
        ("2001:4860:4860::8888", "US"),
        ("127.0.0.1", None),
        ("10.1.2.3", None),
        ("::1", None),
        ("not an ip", None),
        (None, None),
    ],
)
def test_hosting_country_is_looked_up_offline(ip: str | None, country: str | None) -> None:
    assert country_of(ip) == country


def test_recorded_headers_keep_what_matters() -> None:
    headers = recorded_headers([
        (b"Server", [b"nginx"]), (b"set-cookie", [b"secret=1"]), (b"cf-ray", [b"8a1b-AMS"]),
        (b"Via", [b"1.1 a", b"1.1 b"]), (b"X-Powered-By", [b"PHP\x00/8" + b"x" * 400]),
    ])
    assert headers["Server"] == "nginx" and headers["CF-Ray"] == "8a1b-AMS"
    assert headers["Via"] == "1.1 a, 1.1 b" and "Set-Cookie" not in headers
    assert len(headers["X-Powered-By"]) == 300 and "\x00" not in headers["X-Powered-By"]


# --- DNS pinning ------------------------------------------------------------------------


class Receiver:
    def __init__(self) -> None:
        self.addresses: list[object] = []
        self.complete = False

    def resolutionBegan(self, resolution: object) -> None:
        pass

    def addressResolved(self, address: object) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.complete = True


def test_a_host_is_resolved_once_and_connections_get_only_its_pins() -> None:
    pins = PinTable(scripted_resolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]],
                                       "dual.test": [["2001:db8::1", "93.184.216.35"]]}))
    assert pins.addresses("rebind.test", 80) == ("93.184.216.34",)
    assert pins.addresses("REBIND.test.", 80) == ("93.184.216.34",)  # same host, still pinned
    assert pins.lookups == 1
    resolver = PinnedResolver(reactor=None, pins=pins)
    receiver = Receiver()
    resolver.resolveHostName(receiver, "rebind.test", 8080)
    assert receiver.addresses == [IPv4Address("TCP", "93.184.216.34", 8080)] and receiver.complete
    pins.addresses("dual.test", 443)
    receiver = Receiver()
    resolver.resolveHostName(receiver, "dual.test", 443, addressTypes=[IPv6Address])
    assert receiver.addresses == [IPv6Address("TCP", "2001:db8::1", 443)]
    # never checked: no address at all (Twisted reports a DNS failure), and no lookup made
    receiver = Receiver()
    resolver.resolveHostName(receiver, "unchecked.test", 80)
    assert receiver.addresses == [] and receiver.complete and resolver.refused == ["unchecked.test"]
    assert pins.lookups == 2
    # IP literals need no DNS and answer as themselves
    receiver = Receiver()
    resolver.resolveHostName(receiver, "127.0.0.1", 81)
    assert receiver.addresses == [IPv4Address("TCP", "127.0.0.1", 81)]


def test_failed_lookups_are_not_pinned() -> None:
    answers = iter([OSError("temporary failure"), ["93.184.216.34"]])

    def flaky(host: str, port: int) -> list[str]:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    pins = PinTable(flaky)
    with pytest.raises(OSError):
        pins.addresses("flaky.test", 80)
    assert pins.pinned("flaky.test") == ()
    assert pins.addresses("flaky.test", 80) == ("93.184.216.34",)


def test_scripted_resolver_fails_unknown_hosts() -> None:
    with pytest.raises(OSError):
        scripted_resolver({})("x.test", 80)
    with pytest.raises(OSError):
        scripted_resolver({"a.test": []})("a.test", 80)


# --- failure reasons --------------------------------------------------------------------


def test_failure_reasons_tell_limits_and_gone_content() -> None:
    from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet.error import ConnectionRefusedError, DNSLookupError

    def reason(exc: Exception):  # type: ignore[no-untyped-def]
        return describe_failure(Failure(exc), size_limit="max_page_bytes (10 bytes)",
                                timeout_s=2.0, max_redirects=3)

    gone = HttpError(Response("http://a.test/", status=410))
    assert reason(gone).text == "HTTP 410" and reason(gone).gone and reason(gone).status == 410
    assert not reason(HttpError(Response("http://a.test/", status=503))).gone
    # a refused connection or a failed lookup says nothing about the content; a name that
    # does not exist (NXDOMAIN) does
    assert not reason(ConnectionRefusedError()).gone and not reason(DNSLookupError()).gone
    from spiders.refusals import HostUnresolvable

    assert not reason(HostUnresolvable("DNS lookup failed for 'a.test' (temporary failure)")).gone
    assert reason(HostUnresolvable("DNS lookup failed for 'a.test' (no such name)", nxdomain=True)).gone
    timeout = reason(DownloadTimeoutError("slow"))
    assert (timeout.text, timeout.limit, timeout.gone) == ("timed out after 2 s (request_timeout_s)", True, False)
    assert reason(IgnoreRequest("max redirections reached")).text == "more than 3 redirects (max_redirects)"
    assert reason(IgnoreRequest("x exceeded DOWNLOAD_MAXSIZE (10 B) during decompression.")).limit


def test_a_sighting_records_the_pages_host_ip_and_country_beside_the_medias() -> None:
    """A page served from Japan embeds an image served from the US: the sighting keeps both,
    so that both countries' hotlines can be told. A media URL that was itself the reported
    page takes its own fetch as the page's."""
    from datetime import UTC, datetime

    from catalog.media_items.records import MediaRecord
    from catalog.reports.records import PageRecord
    from spiders.items import Fetch, MediaLink, StoredMedia
    from spiders.request import CrawlRequest
    from spiders.results import ResultBuilder

    def stored(link: MediaLink, sha: str, ip: str) -> StoredMedia:
        fetch = Fetch(link.media_url, 200, ip, country_of(ip), "image/jpeg", datetime.now(UTC))
        return StoredMedia(MediaRecord(sha, 3), link, fetch)

    builder = ResultBuilder(CrawlRequest("http://page.example/gallery"))
    builder.add(PageRecord("http://page.example/gallery", "http://page.example/gallery", 200, ip="1.0.16.1",
                           country="JP"))
    a = MediaLink("http://cdn.example/a.jpg", "http://page.example/gallery", "1.0.16.1")
    builder.add(a)
    builder.add(stored(a, "a" * 64, "8.8.8.8"))
    b = MediaLink("http://cdn.example/b.jpg", "http://page.example/gallery")  # known from its page record
    builder.add(b)
    builder.add(stored(b, "b" * 64, "8.8.8.8"))
    c = MediaLink("http://img.example/c.jpg", "http://img.example/c.jpg")
    builder.add(c)
    builder.add(stored(c, "c" * 64, "8.8.8.8"))
    result = builder.build({})
    where = {s.sha256[0]: (s.country, s.page_host, s.page_ip, s.page_country) for s in result.sightings}
    assert where == {"a": ("US", "page.example", "1.0.16.1", "JP"), "b": ("US", "page.example", "1.0.16.1", "JP"),
                     "c": ("US", "img.example", "8.8.8.8", "US")}


def test_a_name_that_does_not_exist_is_told_from_a_failed_lookup() -> None:
    from spiders.addresses import AddressPolicy

    nxdomain = AddressPolicy().check_url("http://gone.test/", scripted_resolver({"gone.test": []}))
    failed = AddressPolicy().check_url("http://flaky.test/", scripted_resolver({}))
    assert (nxdomain.unresolvable, nxdomain.nxdomain) == (True, True)
    assert (failed.unresolvable, failed.nxdomain) == (True, False)
