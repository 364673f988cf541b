"""ResultBuilder: gathers a crawl's items into one CrawlResult.

Sightings are joined at the end: a page's ``MediaLink`` meets the ``StoredMedia`` fetched
from that URL, whichever came first and however many pages referenced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.records import (
    CrawlError,
    CrawlResult,
    MediaRecord,
    PageRecord,
    SightingRecord,
)
from spiders.items import FetchedMedia, MediaLink, StoredMedia

NO_MEDIA = "no media found on the page"

# Scrapy's own counters worth reporting, under shorter names.
_SCRAPY_STATS = {
    "downloader/request_count": "requests",
    "downloader/response_count": "responses",
    "downloader/response_bytes": "response_bytes",
    "retry/count": "retries",
}


class ResultBuilder:
    """Collects items (connect ``add`` to Scrapy's ``item_scraped`` signal), then ``build``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pages: list[PageRecord] = []
        self.errors: list[CrawlError] = []
        self.links: dict[tuple[str, str], None] = {}
        self.stored: dict[str, StoredMedia] = {}  # by media_url

    def add(self, item: Any, **_: Any) -> None:
        if isinstance(item, PageRecord):
            self.pages.append(item)
        elif isinstance(item, CrawlError):
            self.errors.append(item)
        elif isinstance(item, MediaLink):
            self.links.setdefault((item.media_url, item.page_url))
        elif isinstance(item, StoredMedia):
            self.stored.setdefault(item.media_url, item)
        elif isinstance(item, FetchedMedia):  # the evidence pipeline did not run
            raise TypeError(
                f"media from {item.media_url!r} reached the result unstored"
            )
        else:
            raise TypeError(f"unexpected item {type(item).__name__}")

    def _sightings(self) -> list[SightingRecord]:
        sightings = []
        for media_url, page_url in self.links:
            stored = self.stored.get(media_url)
            if stored is not None:
                sightings.append(
                    SightingRecord(
                        sha256=stored.media.sha256,
                        media_url=media_url,
                        page_url=page_url,
                        ip=stored.ip,
                        seen_at=stored.fetched_at,
                    )
                )
        return sightings

    def build(self, scrapy_stats: Mapping[str, Any]) -> CrawlResult:
        """The CrawlResult. Adds "no media found" when nothing was stored and the reported
        URL itself has no error, and an error when the crawl hit its time limit."""
        media: dict[str, MediaRecord] = {}
        for stored in self.stored.values():
            media.setdefault(stored.media.sha256, stored.media)
        sightings = self._sightings()
        errors = list(self.errors)
        if scrapy_stats.get("finish_reason") == "closespider_timeout":
            errors.append(
                CrawlError(
                    self.url, "crawl stopped at crawl_timeout_s; results are partial"
                )
            )
        if not media and not any(e.url == self.url for e in errors):
            errors.append(CrawlError(self.url, NO_MEDIA))
        if n := scrapy_stats.get("spider_exceptions/count"):
            errors.append(
                CrawlError(
                    self.url,
                    f"{n} internal spider error(s); see the worker log",
                    stage="spider",
                )
            )
        stats = {
            key.removeprefix("hotline/"): int(value)
            for key, value in scrapy_stats.items()
            if key.startswith("hotline/") and isinstance(value, int)
        }
        stats.update(
            {
                short: int(scrapy_stats[key])
                for key, short in _SCRAPY_STATS.items()
                if key in scrapy_stats
            }
        )
        stats.update(media=len(media), sightings=len(sightings), errors=len(errors))
        return CrawlResult(
            url=self.url,
            pages=tuple(self.pages),
            media=tuple(media.values()),
            sightings=tuple(sightings),
            errors=tuple(errors),
            stats=stats,
        )
