"""Links worth following on an HTML page: media candidates and same-site pages.

Choosing *which* URLs to fetch goes by tag and file extension; whether a download *is*
media is decided later by its magic bytes (``spiders.magic``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urldefrag, urlsplit

from scrapy.http import TextResponse

from spiders.addresses import host_port

MEDIA_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
        ".avif", ".heic", ".heif",
        ".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp",
    }
)  # fmt: skip

# (CSS selector, attribute) pairs whose URLs are always media candidates.
_MEDIA_SOURCES = (
    ("img::attr(src)", None),
    ("img::attr(data-src)", None),
    ("img::attr(srcset)", "srcset"),
    ("picture source::attr(srcset)", "srcset"),
    ("video::attr(src)", None),
    ("video::attr(poster)", None),
    ("video source::attr(src)", None),
)


@dataclass(frozen=True)
class PageLinks:
    """Absolute http(s) URLs found on one page, in page order, without duplicates."""

    media: tuple[str, ...]
    pages: tuple[str, ...]


def has_media_extension(url: str) -> bool:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:] in MEDIA_EXTENSIONS


def _srcset_urls(value: str) -> list[str]:
    return [c.strip().split()[0] for c in value.split(",") if c.strip()]


def _absolute(response: TextResponse, raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        url = urldefrag(response.urljoin(raw))[0]
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return (
        url if scheme in ("http", "https") else None
    )  # data:, javascript:, mailto: ...


def _same_site(url: str, here: str) -> bool:
    try:
        return host_port(url) == here
    except ValueError:
        return False


def extract_links(response: TextResponse) -> PageLinks:
    """Media candidates (``<img>``, ``<video>``, ``<a href>`` to media files) and links to
    other pages on the same ``host:port`` as ``response``."""
    media: dict[str, None] = {}
    pages: dict[str, None] = {}
    for selector, kind in _MEDIA_SOURCES:
        for value in response.css(selector).getall():
            for raw in _srcset_urls(value) if kind == "srcset" else [value]:
                if url := _absolute(response, raw):
                    media.setdefault(url)
    here = host_port(response.url)
    for value in response.css("a::attr(href)").getall():
        url = _absolute(response, value)
        if url is None:
            continue
        if has_media_extension(url):
            media.setdefault(url)
        elif _same_site(url, here) and url != urldefrag(response.url)[0]:
            pages.setdefault(url)
    return PageLinks(media=tuple(media), pages=tuple(pages))
