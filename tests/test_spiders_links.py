"""Media candidates as real pages write them: srcset parsed as the HTML standard does,
entities decoded, icons, SVG images, JSON in lazy-loading attributes, the image Accept
header, and declared candidates told from guessed ones (a guess that fails is counted,
not an error) - the last one in a real crawl of a local gallery."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from scrapy.http import HtmlResponse

from catalog.catalog import Catalog
from evidence.spec import EvidenceSpec
from evidence.store import new_data_key, write_data_key
from hotline.demo.local_site import Reply, SiteRequest, serve_site, synthetic_image
from spiders import CrawlRequest, crawl
from spiders.links import IMAGE_ACCEPT, VIDEO_ACCEPT, PageLinks, extract_links, media_accept, srcset_urls
from spiders.magic import sniff

BASE = "http://site.test/dir/page.html"


def links_of(body: str, head: str = "") -> PageLinks:
    html = f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
    return extract_links(HtmlResponse(BASE, body=html.encode()))


# --- srcset, as the HTML standard parses it ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
        ("a.jpg", ["a.jpg"]),
        ("", []),
        ("  ,, ", []),
        # a URL runs to whitespace: commas inside it are part of it (CDN transformations)
        ("https://res.cloudinary.com/x/image/upload/c_fill,f_auto,w_80/a.jpg 80w, "
         "https://res.cloudinary.com/x/image/upload/c_fill,f_auto,w_160/a.jpg 160w",
         ["https://res.cloudinary.com/x/image/upload/c_fill,f_auto,w_80/a.jpg",
          "https://res.cloudinary.com/x/image/upload/c_fill,f_auto,w_160/a.jpg"]),
        ("/img/photo_resize=240,135_.jpg 240w, /img/photo_resize=480,270_.jpg 480w",
         ["/img/photo_resize=240,135_.jpg", "/img/photo_resize=480,270_.jpg"]),
        ("a.jpg,b.jpg", ["a.jpg,b.jpg"]),  # no whitespace: one URL, as a browser reads it
        # trailing commas end a candidate that has no descriptors
        ("a.jpg, b.jpg", ["a.jpg", "b.jpg"]),
        ("a.jpg,, b.jpg,", ["a.jpg", "b.jpg"]),
        # descriptors run to a comma outside parentheses
        ("a.jpg 100w (x, y), b.jpg 200w", ["a.jpg", "b.jpg"]),
        ("a.jpg\n  1x,\n\tb.jpg\t2x", ["a.jpg", "b.jpg"]),
        ("data:image/png;base64,iVBOR= 1x, b.png 2x", ["data:image/png;base64,iVBOR=", "b.png"]),
    ],
)
def test_srcset_candidates_follow_the_html_standard(value: str, urls: list[str]) -> None:
    assert srcset_urls(value) == urls


def test_srcset_commas_do_not_cut_cdn_urls_on_a_page() -> None:
    links = links_of(
        "<img srcset='https://cdn.test/upload/c_fill,w_80/a.jpg 80w, https://cdn.test/upload/c_fill,w_160/a.jpg 160w'>"
        "<img data-srcset='/p_resize=240,135_.jpg 240w'>"
        "<picture><source srcset='/s,1.webp 1x, /s,2.webp 2x'></picture>"
    )
    assert links.media == (
        "https://cdn.test/upload/c_fill,w_80/a.jpg", "https://cdn.test/upload/c_fill,w_160/a.jpg",
        "http://site.test/s,1.webp", "http://site.test/s,2.webp", "http://site.test/p_resize=240,135_.jpg",
    )
    assert not any(url.endswith(("c_fill", "w_80/a.jpg 80w")) for url in links.media + links.guessed)


# --- entities, icons, SVG, JSON --------------------------------------------------------------


def test_the_text_sweep_decodes_entities_and_json_escapes() -> None:
    links = links_of(
        "<div data-gallery='[{&quot;src&quot;:&quot;/g/1.jpg?w=1&amp;h=2&quot;}]'></div>"
        "<script>var data = {\"img\": \"https:\\/\\/cdn.test\\/g\\/2.jpg\"};</script>"
        "<!-- <img src=\"/old/3.png?a=1&amp;b=2\"> -->"
        "<script>var t = {\"thumb\": \"/t/4.jpg?q=85\\u0026w=640\\ud800\"};</script>"
    )
    assert links.guessed == (
        "http://site.test/g/1.jpg?w=1&h=2", "https://cdn.test/g/2.jpg", "http://site.test/old/3.png?a=1&b=2",
        "http://site.test/t/4.jpg?q=85&w=640",
    )
    assert not any("&amp;" in url or "\\" in url for url in links.guessed)


def test_a_url_given_as_a_parameter_is_the_guess() -> None:
    links = links_of(
        "", head="<meta name='msapplication-task' content='name=Forums;action-uri=https://forums.test/;"
                 "icon-uri=https://s.test/i/favicon.ico'>"
                 "<script>go('https://r.test/out?to=https://cdn.test/big.jpg')</script>",
    )
    assert links.guessed == ("https://s.test/i/favicon.ico", "https://cdn.test/big.jpg")


def test_other_schemes_are_not_guesses() -> None:
    links = links_of("<script>x = 'file:///Users/me/Desktop/tag_line.png'; y = 'ftp://f.test/a.jpg'</script>")
    assert links.guessed == ()


def test_icons_of_every_kind_are_media_candidates() -> None:
    links = links_of(
        "<a href='/downloads/app.ico'>icon</a>",
        head="<link rel='Shortcut Icon' href='/favicon'>"  # rel tokens are case-insensitive
             "<link rel='icon' type='image/png' sizes='32x32' href='/icons/32'>"
             "<link rel='apple-touch-icon' href='/apple-touch-icon.png'>"
             "<link rel='apple-touch-icon-precomposed' href='/touch-pre.png'>"
             "<link rel='mask-icon' href='/mask.svg' color='#000'>"
             "<link rel='stylesheet' href='/not-an-icon.css'>",
    )
    assert set(links.media) == {
        "http://site.test/favicon", "http://site.test/icons/32", "http://site.test/apple-touch-icon.png",
        "http://site.test/touch-pre.png", "http://site.test/mask.svg", "http://site.test/downloads/app.ico",
    }
    assert links.stylesheets == ("http://site.test/not-an-icon.css",)


def test_an_ico_file_is_media_by_its_bytes() -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(out, format="ICO")
    media_type = sniff(out.getvalue())
    assert media_type is not None and (media_type.mime, media_type.kind) == ("image/x-icon", "image")
    assert sniff(b"\x00\x00\x01\x00\x00\x00 just zero bytes and text") is None


def test_svg_images_by_href_and_xlink_href() -> None:
    links = links_of(
        "<svg viewBox='0 0 10 10'><image xlink:href='/svg/old.png' width='10'/>"
        "<image href='svg/new.jpg'></image></svg>"
        "<image src='/html-image.gif'>"  # browsers read <image> in HTML as <img>
    )
    assert set(links.media) == {
        "http://site.test/svg/old.png", "http://site.test/dir/svg/new.jpg", "http://site.test/html-image.gif",
    }


def test_json_inside_lazy_loading_attributes() -> None:
    links = links_of(
        "<img data-src='{\"default\": \"/j/default.jpg\", \"sizes\": {\"2x\": \"/j/double.jpg\"}, \"w\": 300,"
        " \"alt\": \"a caption\"}'>"
        "<div data-bg='[\"/j/one.webp\", \"/j/two.webp\"]'></div>"
        "<img data-src='{\"default\": \"/j/trailing-comma.jpg\",}'>"  # not JSON: its quoted strings
        "<option data-image='aries'>Aries</option>"  # a bare word in a lazy attribute is a name
    )
    assert links.media == (
        "http://site.test/j/default.jpg", "http://site.test/j/double.jpg",
        "http://site.test/j/trailing-comma.jpg", "http://site.test/j/one.webp", "http://site.test/j/two.webp",
    )


def test_media_requests_ask_for_images_as_a_browser_does() -> None:
    assert media_accept("https://cdn.test/a.jpg") == IMAGE_ACCEPT
    assert media_accept("https://cdn.test/photo?id=3") == IMAGE_ACCEPT  # no extension: most are images
    assert media_accept("https://cdn.test/clip.MP4") == VIDEO_ACCEPT
    assert IMAGE_ACCEPT.startswith("image/avif,image/webp") and "text/html" not in IMAGE_ACCEPT


# --- declared versus guessed ----------------------------------------------------------------


def test_alt_texts_captions_and_bare_names_are_not_guessed() -> None:
    links = links_of(
        "<img src='/g/0.jpg' alt='pic0.jpg' title='holiday/pic0.jpg'>"
        "<figure><img src='/g/1.jpg' alt=\"IMG_0001.JPG\"><figcaption>IMG_0001.JPG, 2 MB</figcaption></figure>"
        "<input placeholder='upload/photo.png'>"
        "<script>var names = ['pic5.jpg', 'pic6.jpg']; var url = '/js/real.jpg';</script>"
        "<p>see photo.jpg, or <a href='/full/0.jpg'>the full picture</a></p>"
    )
    assert links.media == ("http://site.test/g/0.jpg", "http://site.test/g/1.jpg", "http://site.test/full/0.jpg")
    assert links.guessed == ("http://site.test/js/real.jpg",)  # written as an address: a guess


def test_a_declared_url_is_never_also_a_guess() -> None:
    links = links_of("<img src='/a.jpg'><script>preload('/a.jpg', '/b.png')</script>")
    assert links.media == ("http://site.test/a.jpg",)
    assert links.guessed == ("http://site.test/b.png",)


# --- a crawl: a gallery whose alt texts are file names ---------------------------------------

PICS = {n: synthetic_image(n, size=(64, 48)) for n in range(14)}


def gallery() -> bytes:
    figures = "".join(
        f"<figure><img src='/photos/{n}.jpg' alt='pic{n}.jpg' title='pic{n}.jpg'>"
        f"<figcaption>pic{n}.jpg</figcaption></figure>" for n in range(12)
    )
    script = "<script>var extra = ['/js/extra.jpg', '/js/missing.jpg', 'pic99.jpg'];</script>"
    return f"<!doctype html><html><body>{figures}{script}</body></html>".encode()


def test_a_gallery_with_file_name_alt_texts_crawls_without_errors(tmp_path: Path) -> None:
    accepts: dict[str, str] = {}

    def picture(n: int):  # type: ignore[no-untyped-def]
        def answer(request: SiteRequest) -> Reply:
            accepts[request.path] = request.headers.get("Accept", "")
            return Reply(PICS[n], content_type="image/jpeg")
        return answer

    routes = {"/": gallery(), "/js/extra.jpg": picture(13), **{f"/photos/{n}.jpg": picture(n) for n in range(12)}}
    key_file = tmp_path / "data.key"
    write_data_key(key_file, new_data_key())
    with serve_site(routes) as site:
        result = crawl(CrawlRequest(site.url("/"), allow=(site.host_port,), max_depth=0),
                       EvidenceSpec(str(tmp_path / "evidence"), key_file))
        requested = set(site.requests)

    assert result.errors == ()
    assert len(result.media) == 13  # the twelve photos and the script's picture that exists
    assert result.stats["guessed/failed"] == 1  # /js/missing.jpg: counted, not an error
    assert result.stats["links/guessed"] == 2
    assert not any(path.startswith(("/pic", "/photos/pic")) for path in requested)  # no alt text fetched
    assert "/js/missing.jpg" in requested
    assert set(accepts.values()) == {IMAGE_ACCEPT}

    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    report_id = catalog.add_report(site.url("/"), actor="test")
    catalog.record_crawl(report_id, result)
    assert catalog.report_errors(report_id) == []
    assert catalog.crawl_counts(report_id)["guessed/failed"] == 1
