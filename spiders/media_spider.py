"""MediaSpider: fetch the reported URL, collect the media it is or links to.

A response whose first bytes are media is media. Otherwise an HTML page is parsed for
media candidates (fetched, then judged by magic bytes in the evidence pipeline) and, up
to ``max_depth``, for links to other pages on the same ``host:port``. Every request has
an errback, so every failure becomes a ``CrawlError`` item instead of a log line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from catalog.records import CrawlError, PageRecord
from spiders.failures import describe_failure
from spiders.items import FetchedMedia, MediaLink
from spiders.links import extract_links
from spiders.magic import sniff
from spiders.request import CrawlRequest

# Request.meta keys of this spider.
ROLE = "hotline_role"  # "page" | "media"
DEPTH = "hotline_depth"
LIMIT = "hotline_limit"  # name of the size limit that download_maxsize enforces
PARENT = "hotline_parent"  # the page that linked to this page, if any


def _now() -> datetime:
    return datetime.now(UTC)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _ip(response: Response) -> str | None:
    return str(response.ip_address) if response.ip_address is not None else None


def _requested_url(request: Request) -> str:
    """The URL first asked for, before any redirect."""
    return str(request.meta.get("redirect_urls", [request.url])[0])


class MediaSpider(Spider):
    """One crawl of one ``CrawlRequest``; yields PageRecord, MediaLink, FetchedMedia, CrawlError."""

    name = "hotline-media"

    def __init__(self, crawl_request: CrawlRequest, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crawl_request = crawl_request
        self._pages_requested: set[str] = set()
        self._media_requested: set[str] = set()

    async def start(self) -> AsyncIterator[Any]:
        r = self.crawl_request
        yield self._page_request(r.url, depth=0, referer=r.referer)

    def _count(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"hotline/{key}")

    def _page_request(
        self,
        url: str,
        depth: int,
        referer: str | None = None,
        parent: str | None = None,
    ) -> Request:
        r = self.crawl_request
        self._pages_requested.add(url)
        # any page may turn out to be media, so it may be as large as media
        limit = (
            "max_media_bytes"
            if r.max_media_bytes >= r.max_page_bytes
            else "max_page_bytes"
        )
        return Request(
            url,
            callback=self.parse_page,
            errback=self.on_error,
            headers={"Referer": referer} if referer else None,
            meta={
                ROLE: "page",
                DEPTH: depth,
                PARENT: parent,
                LIMIT: limit,
                "download_maxsize": max(r.max_media_bytes, r.max_page_bytes),
            },
        )

    def _media_request(self, url: str) -> Request:
        self._media_requested.add(url)
        return Request(
            url,
            callback=self.parse_media,
            errback=self.on_error,
            meta={
                ROLE: "media",
                LIMIT: "max_media_bytes",
                "download_maxsize": self.crawl_request.max_media_bytes,
            },
        )

    def _page_record(self, response: Response, url: str) -> PageRecord:
        return PageRecord(
            url=url,
            final_url=response.url,
            status=response.status,
            ip=_ip(response),
            country=None,
            content_type=_header(response, "Content-Type"),
            size=len(response.body),
            fetched_at=_now(),
            redirects=tuple(response.meta.get("redirect_urls", ())),
        )

    def _fetched(self, response: Response, media_url: str) -> FetchedMedia:
        return FetchedMedia(
            media_url=media_url,
            final_url=response.url,
            ip=_ip(response),
            content_type=_header(response, "Content-Type"),
            fetched_at=_now(),
            body=response.body,
        )

    def parse_page(self, response: Response) -> Iterator[Any]:
        r = self.crawl_request
        url = _requested_url(response.request) if response.request else response.url
        self._count("pages")
        yield self._page_record(response, url)
        if sniff(response.body) is not None:  # the URL is itself media
            yield MediaLink(url, response.meta.get(PARENT) or url)
            yield self._fetched(response, url)
            return
        if not isinstance(response, TextResponse):
            self._count("pages/not_html")
            return
        if len(response.body) > r.max_page_bytes:
            yield CrawlError(
                url, f"page larger than max_page_bytes ({r.max_page_bytes} bytes)"
            )
            return
        links = extract_links(response)
        for media_url in links.media:
            self._count("links/media")
            yield MediaLink(media_url, response.url)
            if media_url not in self._media_requested:
                yield self._media_request(media_url)
        if response.meta[DEPTH] >= r.max_depth:
            return
        for page_url in links.pages:
            if page_url in self._pages_requested:
                continue
            if len(self._pages_requested) >= r.max_pages:
                self._count("pages/over_max_pages")
                continue
            depth = response.meta[DEPTH] + 1
            yield self._page_request(page_url, depth, parent=response.url)

    def parse_media(self, response: Response) -> Iterator[Any]:
        assert response.request is not None
        yield self._fetched(response, _requested_url(response.request))

    def on_error(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]
        url = _requested_url(request)
        limit = request.meta.get(LIMIT, "the size limit")
        maxsize = request.meta.get("download_maxsize")
        reason = describe_failure(failure, size_limit=f"{limit} ({maxsize} bytes)")
        if request.url != url:
            reason = f"{reason} (redirected to {request.url})"
        if isinstance(failure.value, HttpError) and request.meta.get(ROLE) == "page":
            yield self._page_record(failure.value.response, url)
        self._count(f"errors/{request.meta.get(ROLE, 'other')}")
        yield CrawlError(url, reason)
