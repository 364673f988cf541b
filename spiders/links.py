"""What an HTML page (or a stylesheet) points at: media candidates and pages to visit.

Choosing *which* URLs to fetch goes by tag, attribute and file extension; whether a
download *is* media is decided later by its magic bytes (``spiders.magic``). Every URL is
made absolute (honouring ``<base href>``) and put in the crawl's one form
(``spiders.urls.normalise_url``), and kept only if it is http(s); links to schemes the
crawler refuses (``file:``, ``gopher:`` ...) are listed apart so that the crawl can say so.
Each list keeps page order without duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import TextResponse

from spiders.addresses import host_port
from spiders.urls import normalise_url, refused_scheme

MEDIA_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
        ".avif", ".heic", ".heif",
        ".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp",
    }
)  # fmt: skip

# url() targets in CSS that are never media: fonts and further stylesheets.
_NOT_MEDIA_IN_CSS = frozenset({".woff", ".woff2", ".ttf", ".otf", ".eot", ".css"})

# Attributes whose value is one URL (or a CSS url(...)) of a media candidate, on any
# element: the usual lazy-loading attributes included.
_URL_ATTRIBUTES = (
    "data-src", "data-original", "data-lazy-src", "data-lazy", "data-url", "data-original-src",
    "data-hi-res-src", "data-full-src", "data-fullsrc", "data-large-src", "data-zoom-image",
    "data-image", "data-img", "data-echo", "data-flickity-lazyload", "lazy-src",
    "data-bg", "data-background", "data-background-image", "background",
)  # fmt: skip
_SRCSET_ATTRIBUTES = ("data-srcset", "data-lazy-srcset")

# (CSS selector, kind) of media candidates; kind "srcset" holds several URLs.
_MEDIA_SOURCES = (
    ("img::attr(src)", "url"),
    ("img::attr(srcset)", "srcset"),
    ("source::attr(src)", "url"),  # <video>, <picture> and <audio> sources
    ("source::attr(srcset)", "srcset"),
    ("video::attr(src)", "url"),
    ("video::attr(poster)", "url"),
    ("input[type=image]::attr(src)", "url"),
    ("embed::attr(src)", "url"),
    ("object::attr(data)", "url"),
    ("image::attr(href)", "url"),  # SVG <image>
    ("link[rel~=image_src]::attr(href)", "url"),
    ("link[rel~=preload][as=image]::attr(href)", "url"),
    ("link[rel~=preload][as=video]::attr(href)", "url"),
    ("meta[itemprop=image]::attr(content)", "url"),
    ("meta[itemprop=contentUrl]::attr(content)", "url"),
    *((f"[{name}]::attr({name})", "url") for name in _URL_ATTRIBUTES),
    *((f"[{name}]::attr({name})", "srcset") for name in _SRCSET_ATTRIBUTES),
)

# <meta property|name=...> whose content is media (Open Graph, Twitter cards).
_META_MEDIA = frozenset(
    {
        "og:image", "og:image:url", "og:image:secure_url", "og:video", "og:video:url",
        "og:video:secure_url", "twitter:image", "twitter:image:src", "twitter:player:stream",
    }
)  # fmt: skip

# Link texts that mean "another page of this gallery or thread".
_PAGINATION_TEXT = re.compile(
    r"^(?:\d{1,5}|next|next page|older|newer|previous|prev|[>»›]{1,2}|[<«‹]{1,2}"
    r"|next\s*[>»›]+|[<«‹]+\s*prev(?:ious)?)$",
    re.IGNORECASE,
)
_PAGINATION_CONTAINERS = (
    "//*[contains(@class,'pagination') or contains(@class,'pager') or contains(@class,'pages')"
    " or contains(@class,'page-numbers') or contains(@id,'pagination') or contains(@id,'pager')]"
    "//a/@href"
)

_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(
    r"""@import\s+(?:url\(\s*)?(?:"([^"]*)"|'([^']*)'|([^)'"\s;]+))""", re.IGNORECASE
)
_CSS_IMAGE_SET_STRING = re.compile(
    r"""image-set\(([^)]*)\)""", re.IGNORECASE
)
_QUOTED = re.compile(r"""["']([^"']+)["']""")
# Media-looking URLs anywhere in the raw text: markup too broken to parse, inline scripts
# that build a gallery, comments. Only URLs ending in a media extension are taken.
_RAW_EXTENSIONS = "|".join(sorted(e[1:] for e in MEDIA_EXTENSIONS))
_RAW_MEDIA_URL = re.compile(
    r"""(?:=|["'(,\[])\s*["']?((?:https?:)?[\w./~%+@:-]*?[\w~%+@-]+\.(?:"""
    + _RAW_EXTENSIONS
    + r""")(?:\?[^"'()\s<>]*)?)(?=["')\s>,\]]|$)""",
    re.IGNORECASE,
)
MAX_RAW_SWEEP = 2 * 1024 * 1024  # characters of a page the sweep reads
_REFRESH = re.compile(
    r"""^\s*[\d.]*\s*(?:[;,]\s*(?:url\s*=\s*)?["']?\s*([^"'\s][^"']*?)\s*["']?\s*)?$""",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PageLinks:
    """Absolute http(s) URLs found on one page, by what to do with them."""

    media: tuple[str, ...] = ()  # media candidates
    pages: tuple[str, ...] = ()  # other pages on the same host:port (one level deeper)
    pagination: tuple[str, ...] = ()  # more pages of this gallery or thread (same level)
    frames: tuple[str, ...] = ()  # <iframe>/<frame> documents, any site (part of this page)
    viewers: tuple[str, ...] = ()  # thumbnail links to a page on another site (image hosts)
    stylesheets: tuple[str, ...] = ()  # linked and @import-ed CSS, any site
    refresh: str | None = None  # <meta http-equiv="refresh"> target
    refused: tuple[str, ...] = ()  # links (as written) to schemes the crawler refuses


def has_media_extension(url: str) -> bool:
    return _extension(url) in MEDIA_EXTENSIONS


def _extension(url: str) -> str:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return path[dot:] if dot > path.rfind("/") else ""


def _srcset_urls(value: str) -> list[str]:
    return [c.strip().split()[0] for c in value.split(",") if c.strip()]


def _absolute(base: str, raw: str) -> str | None:
    return normalise_url(raw, base)  # None for data:, javascript:, mailto: ...


# Attributes that make a browser fetch (or offer to fetch) what they name.
_FETCHING_ATTRIBUTES = "[href]::attr(href), [src]::attr(src), object::attr(data)"


def refused_links(sel: Selector) -> tuple[str, ...]:
    """Links of ``sel`` whose scheme the crawler refuses, as written (each once)."""
    found: dict[str, None] = {}
    for value in sel.css(_FETCHING_ATTRIBUTES).getall():
        if refused_scheme(value) is not None:
            found.setdefault(value.strip()[:300])
    return tuple(found)


def _same_site(url: str, here: str) -> bool:
    try:
        return host_port(url) == here
    except ValueError:
        return False


def _first(groups: tuple[str | None, ...]) -> str:
    return next((g for g in groups if g), "")


def css_urls(text: str, base: str) -> tuple[list[str], list[str]]:
    """(media candidates, imported stylesheets) of CSS ``text`` whose URLs are relative
    to ``base``: every ``url(...)`` and ``image-set("...")`` except fonts and CSS."""
    imports = [u for m in _CSS_IMPORT.finditer(text) if (u := _absolute(base, _first(m.groups())))]
    media = []
    for m in _CSS_URL.finditer(text):
        url = _absolute(base, _first(m.groups()))
        if url and url not in imports and _extension(url) not in _NOT_MEDIA_IN_CSS:
            media.append(url)
    for m in _CSS_IMAGE_SET_STRING.finditer(text):
        for raw in _QUOTED.findall(m.group(1)):
            if url := _absolute(base, raw):
                media.append(url)
    return media, imports


def refresh_target(content: str, base: str) -> str | None:
    """The URL of a refresh instruction (``"0; url=/next"``), from a meta tag or header."""
    m = _REFRESH.match(content or "")
    return _absolute(base, m.group(1)) if m and m.group(1) else None


def _ordered(urls: list[str], *exclude: dict[str, None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for url in urls:
        if not any(url in ex for ex in exclude):
            seen.setdefault(url)
    return tuple(seen)


def _media_candidates(sel: Selector, base: str) -> list[str]:
    found: list[str] = []
    for selector, kind in _MEDIA_SOURCES:
        for value in sel.css(selector).getall():
            if "url(" in value.lower():  # data-bg="url(/a.jpg)"
                found.extend(css_urls(value, base)[0])
                continue
            raws = _srcset_urls(value) if kind == "srcset" else [value]
            found.extend(url for raw in raws if (url := _absolute(base, raw)))
    for meta in sel.css("meta"):
        name = (meta.attrib.get("property") or meta.attrib.get("name") or "").strip().lower()
        if name in _META_MEDIA and (url := _absolute(base, meta.attrib.get("content", ""))):
            found.append(url)
    for style in sel.css("[style]::attr(style)").getall():
        found.extend(css_urls(style, base)[0])
    for block in sel.css("style::text").getall():
        found.extend(css_urls(block, base)[0])
    return found


def raw_media_urls(text: str, base: str) -> list[str]:
    """URLs with a media extension anywhere in ``text`` (attribute values, scripts, broken
    tags), made absolute against ``base``."""
    return [url for m in _RAW_MEDIA_URL.finditer(text[:MAX_RAW_SWEEP]) if (url := _absolute(base, m.group(1)))]


def extract_links(response: TextResponse) -> PageLinks:
    """Everything ``response`` (an HTML page) points at; see ``PageLinks``."""
    base = response.urljoin("")  # honours <base href>
    here = host_port(response.url)
    this_page = normalise_url(response.url) or response.url
    sel = response.selector
    media = _media_candidates(sel, base)
    media.extend(raw_media_urls(response.text, base))
    stylesheets: list[str] = []
    for link in sel.css("link[href]"):
        if "stylesheet" in link.attrib.get("rel", "").lower().split():
            if url := _absolute(base, link.attrib["href"]):
                stylesheets.append(url)
    for block in sel.css("style::text").getall():
        stylesheets.extend(css_urls(block, base)[1])
    frames = [
        url
        for value in sel.css("iframe::attr(src), frame::attr(src), iframe::attr(data-src)").getall()
        if (url := _absolute(base, value))
    ]
    in_pager = {u for v in sel.xpath(_PAGINATION_CONTAINERS).getall() if (u := _absolute(base, v))}
    rel_next = [
        u for v in sel.css("a[rel~=next]::attr(href), link[rel~=next]::attr(href), "
                           "a[rel~=prev]::attr(href), link[rel~=prev]::attr(href)").getall()
        if (u := _absolute(base, v))
    ]
    pages: list[str] = []
    pagination: list[str] = [u for u in rel_next if _same_site(u, here)]
    viewers: list[str] = []
    for anchor in sel.css("a[href]"):
        url = _absolute(base, anchor.attrib["href"])
        if url is None or url == this_page:
            continue
        if has_media_extension(url):
            media.append(url)
            continue
        same_site = _same_site(url, here)
        text = " ".join(" ".join(anchor.css("::text").getall()).split())
        if same_site and (url in in_pager or _PAGINATION_TEXT.match(text)):
            pagination.append(url)
        elif same_site:
            pages.append(url)
        elif anchor.css("img"):  # a thumbnail leading to an image host's viewer page
            viewers.append(url)
    refresh = None
    for meta in sel.css("meta[http-equiv]"):
        if meta.attrib["http-equiv"].strip().lower() == "refresh":
            refresh = refresh_target(meta.attrib.get("content", ""), base)
            if refresh:
                break
    media_set = dict.fromkeys(media)
    pagination_t = _ordered(pagination, {this_page: None})
    return PageLinks(
        media=tuple(media_set),
        pages=_ordered(pages, dict.fromkeys(pagination_t), media_set),
        pagination=pagination_t,
        frames=_ordered(frames, {this_page: None}),
        viewers=_ordered(viewers, media_set),
        stylesheets=_ordered(stylesheets),
        refresh=refresh if refresh != this_page else None,
        refused=refused_links(sel),
    )
