"""What an HTML page (or a stylesheet) points at: media candidates and pages to visit.

Choosing *which* URLs to fetch goes by tag, attribute and file extension; whether a
download *is* media is decided later by its magic bytes (``spiders.magic``). Every URL is
made absolute (honouring ``<base href>``) and put in the crawl's one form
(``spiders.urls.normalise_url``), and kept only if it is http(s); links to schemes the
crawler refuses (``file:``, ``gopher:`` ...) are listed apart so that the crawl can say so.
Each list keeps page order without duplicates.

Media candidates come in two kinds. *Declared* ones are named by the markup or CSS as a
resource (``img src``, ``srcset``, lazy-loading attributes, icons, ``url(...)`` ...): a
failure to fetch one is an error worth recording. *Guessed* ones are strings with a media
extension found by sweeping the page's text (scripts, comments, attributes we do not
know); they are fetched only when they look like an address (see ``swept_media_urls``),
and a guess that fails is counted, not reported (docs/crawling.md).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import TextResponse

from spiders.addresses import host_port
from spiders.urls import normalise_url, refused_scheme

_VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp"})

MEDIA_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
        ".avif", ".heic", ".heif", ".ico",
    }
) | _VIDEO_EXTENSIONS  # fmt: skip

# The Accept header of a media request, as Chromium sends it for an image (CDNs choose
# AVIF, WebP or JPEG by it, and some refuse a request that asks for HTML) and for a video.
IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
VIDEO_ACCEPT = "*/*"

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

# <link rel> tokens whose href is an image: icons (any extension, or none) and the
# "image of this page" hint.
_IMAGE_LINK_RELS = frozenset(
    {"icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon", "fluid-icon", "image_src"}
)

# (CSS selector, kind) of media candidates; kind "srcset" holds several URLs, "lazy" one
# URL in an attribute that some sites also use for names (data-image="aries").
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
    ("image::attr(href)", "url"),  # SVG <image> (xlink:href: see _media_candidates)
    ("image::attr(src)", "url"),  # HTML <image>, which browsers read as <img>
    ("link[rel~=preload][as=image]::attr(href)", "url"),
    ("link[rel~=preload][as=image]::attr(imagesrcset)", "srcset"),
    ("link[rel~=preload][as=video]::attr(href)", "url"),
    ("meta[itemprop=image]::attr(content)", "url"),
    ("meta[itemprop=contentUrl]::attr(content)", "url"),
    *((f"[{name}]::attr({name})", "lazy") for name in _URL_ATTRIBUTES),
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
# Media-looking strings anywhere in the raw text: markup too broken to parse, inline scripts
# that build a gallery, comments. The text is cut into tokens at quotes, whitespace,
# brackets and angle brackets only (one pass, so a hostile page cannot make it quadratic):
# a URL may hold commas and query strings (CDN URLs such as ``c_fill,w_80/a.jpg``). A token
# counts when it ends in a media extension (and maybe a query) and stands where a value
# would: after a quote, ``(``, ``[``, ``,`` or ``=`` (``src=/a.jpg``, ``['/a.jpg', '/b.jpg']``),
# or it is an absolute URL.
_RAW_EXTENSIONS = "|".join(sorted(e[1:] for e in MEDIA_EXTENSIONS))
_SWEEP_TOKEN = re.compile(r"""[^\s"'<>()\[\]{}\\^`|]+""")
_MEDIA_TAIL = re.compile(r".*\.(?:" + _RAW_EXTENSIONS + r")(?:\?.*)?", re.IGNORECASE | re.DOTALL)
_URL_START = re.compile(r"(?:https?:)?//", re.IGNORECASE)
_VALUE_OPENERS = frozenset("\"'([,=")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")  # "a.jpg?w=1\u0026h=2" in JSON or a script
# Attributes that hold prose, never an address: a file name in an alt text is a caption.
_TEXT_ATTRIBUTES = re.compile(
    r"""(\s(?:alt|title|aria-label|aria-description|placeholder|data-caption|data-title|data-alt)"""
    r"""\s*=\s*)(?:"[^"]{0,500}"|'[^']{0,500}')""",
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

    media: tuple[str, ...] = ()  # declared media candidates
    guessed: tuple[str, ...] = ()  # media-looking addresses swept from the text, not declared
    pages: tuple[str, ...] = ()  # other pages on the same host:port (one level deeper)
    pagination: tuple[str, ...] = ()  # more pages of this gallery or thread (same level)
    frames: tuple[str, ...] = ()  # <iframe>/<frame> documents, any site (part of this page)
    viewers: tuple[str, ...] = ()  # thumbnail links to a page on another site (image hosts)
    stylesheets: tuple[str, ...] = ()  # linked and @import-ed CSS, any site
    refresh: str | None = None  # <meta http-equiv="refresh"> target
    refused: tuple[str, ...] = ()  # links (as written) to schemes the crawler refuses


def has_media_extension(url: str) -> bool:
    return _extension(url) in MEDIA_EXTENSIONS


def media_accept(url: str) -> str:
    """The Accept header a browser would send for the media candidate ``url``."""
    return VIDEO_ACCEPT if _extension(url) in _VIDEO_EXTENSIONS else IMAGE_ACCEPT


def _extension(url: str) -> str:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return path[dot:] if dot > path.rfind("/") else ""


_SPACE = " \t\n\r\f"


def srcset_urls(value: str) -> list[str]:
    """The URLs of a ``srcset`` value, parsed as the HTML standard does ("parse a srcset
    attribute"): a URL runs to the next whitespace, so commas inside it
    (``/upload/c_fill,w_80/a.jpg``) belong to it; trailing commas end a candidate without
    descriptors; descriptors run to the next comma outside parentheses."""
    urls: list[str] = []
    pos, end = 0, len(value)
    while True:
        while pos < end and (value[pos] in _SPACE or value[pos] == ","):
            pos += 1
        if pos >= end:
            return urls
        start = pos
        while pos < end and value[pos] not in _SPACE:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # skip the descriptors: to a comma outside parentheses, or the end
            in_parens = False
            while pos < end and (value[pos] != "," or in_parens):
                if value[pos] == "(":
                    in_parens = True
                elif value[pos] == ")":
                    in_parens = False
                pos += 1
        if url:
            urls.append(url)


def _json_strings(value: object) -> list[str]:
    """Every string inside a decoded JSON value, depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    return []


def _looks_like_address(raw: str) -> bool:
    """Whether a string is written as an address rather than a bare name: a scheme
    (``https://``), a host (``//cdn``), or a path with at least one ``/``. ``pic0.jpg``
    alone is how captions, alt texts and file lists name a picture, not how a page
    addresses one."""
    raw = raw.strip()
    return "/" in raw and not any(c in _SPACE for c in raw)


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


def _attribute_urls(value: str, base: str, kind: str) -> list[str]:
    """The URLs one attribute value names: CSS ``url(...)``, JSON (``{"default": "/a.jpg"}``,
    as some lazy loaders write), a srcset, or one URL."""
    text = value.strip()
    if "url(" in text.lower():  # data-bg="url(/a.jpg)"
        return css_urls(text, base)[0]
    if text[:1] in ("{", "["):
        try:
            strings = _json_strings(json.loads(text))
        except ValueError:
            strings = _QUOTED.findall(text)
        return [url for raw in strings if _looks_like_address(raw) and (url := _absolute(base, raw))]
    if kind == "lazy" and not ("/" in text or "." in text):
        return []  # a bare word is a name, not a file
    raws = srcset_urls(text) if kind == "srcset" else [text]
    return [url for raw in raws if (url := _absolute(base, raw))]


def _media_candidates(sel: Selector, base: str) -> list[str]:
    found: list[str] = []
    for selector, kind in _MEDIA_SOURCES:
        for value in sel.css(selector).getall():
            found.extend(_attribute_urls(value, base, kind))
    # SVG <image xlink:href>: the HTML parser keeps the prefixed name, which CSS cannot name
    for value in sel.xpath("//image/@*[name()='xlink:href']").getall():
        found.extend(_attribute_urls(value, base, "url"))
    for link in sel.css("link[href]"):
        rels = set(link.attrib.get("rel", "").lower().split())
        if rels & _IMAGE_LINK_RELS and (url := _absolute(base, link.attrib["href"])):
            found.append(url)
    for meta in sel.css("meta"):
        name = (meta.attrib.get("property") or meta.attrib.get("name") or "").strip().lower()
        if name in _META_MEDIA and (url := _absolute(base, meta.attrib.get("content", ""))):
            found.append(url)
    for style in sel.css("[style]::attr(style)").getall():
        found.extend(css_urls(style, base)[0])
    for block in sel.css("style::text").getall():
        found.extend(css_urls(block, base)[0])
    return found


def _swept_value(text: str, start: int, token: str) -> str | None:
    """The part of ``token`` (found at ``start`` in ``text``) that is a value: from a scheme
    or ``//`` on (the last one given as a parameter, ``;icon=https://...``, if any), or
    after a ``=`` or ``,`` before its path; else all of it if a quote, bracket, comma or
    ``=`` comes before it (whitespace between allowed)."""
    if starts := [m.start() for m in _URL_START.finditer(token)]:
        if token[starts[0] - 1 : starts[0]] == ":":
            return None  # file://, ftp:// ...: not a web address
        nested = [at for at in starts[1:] if token[at - 1] in "=;,"]
        return token[nested[-1] if nested else starts[0] :]
    slash = token.find("/")
    head = token[: slash if slash >= 0 else len(token)]
    cut = max(head.rfind("="), head.rfind(","))
    if cut >= 0:
        return token[cut + 1 :]
    before = start - 1
    while before >= 0 and text[before] in _SPACE:  # only the run just before this token
        before -= 1
    return token if before >= 0 and text[before] in _VALUE_OPENERS else None


def _unescaped(m: re.Match[str]) -> str:
    code = int(m.group(1), 16)
    return m.group() if 0xD800 <= code <= 0xDFFF else chr(code)  # a lone surrogate stays escaped


def swept_media_urls(text: str, base: str) -> list[str]:
    """Guessed media URLs: strings anywhere in ``text`` (a page's source) that end in a
    media extension and are written as addresses (``_looks_like_address``), made absolute
    against ``base``. Entities are decoded first (``&amp;`` is ``&``, ``&quot;`` a quote),
    and JSON's ``\\/`` and ``\\u0026`` read as ``/`` and ``&``, as a browser or a script
    would; values of prose attributes (``alt``, ``title`` ...) are skipped."""
    text = _TEXT_ATTRIBUTES.sub(r'\1""', text[:MAX_RAW_SWEEP])
    text = _JSON_ESCAPE.sub(_unescaped, html.unescape(text.replace("\\/", "/")))
    found = []
    for m in _SWEEP_TOKEN.finditer(text):
        token = m.group().rstrip(",;")
        if "." not in token:
            continue
        raw = _swept_value(text, m.start(), token)
        if raw and _MEDIA_TAIL.fullmatch(raw) and _looks_like_address(raw) and (url := _absolute(base, raw)):
            found.append(url)
    return found


def extract_links(response: TextResponse) -> PageLinks:
    """Everything ``response`` (an HTML page) points at; see ``PageLinks``."""
    base = response.urljoin("")  # honours <base href>
    here = host_port(response.url)
    this_page = normalise_url(response.url) or response.url
    sel = response.selector
    media = _media_candidates(sel, base)
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
        guessed=_ordered(swept_media_urls(response.text, base), media_set, {this_page: None}),
        pages=_ordered(pages, dict.fromkeys(pagination_t), media_set),
        pagination=pagination_t,
        frames=_ordered(frames, {this_page: None}),
        viewers=_ordered(viewers, media_set),
        stylesheets=_ordered(stylesheets),
        refresh=refresh if refresh != this_page else None,
        refused=refused_links(sel),
    )
