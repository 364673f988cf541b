"""ResultBuilder: gathers a crawl's items into one CrawlResult.

Sightings are joined at the end: a page's ``MediaLink`` meets the ``StoredMedia`` fetched
from that URL, whichever came first and however many pages referenced it. Both carry the
URL in the crawl's one form (``spiders.urls``), and a ``StoredMedia`` brings the sighting
its request was made for, so stored media always have at least one sighting. Crawl-wide
limits that fired (counted by the spider under ``hotline/limit/...``) become one ``limit``
reason each, on the reported URL.

Media found but not stored (``UnstoredMedia``) become ``PendingMedia``, one per page that
referenced them, with one reason on the reported URL that says how many wait and why; such
a crawl never says "no media found". A retry crawl (``CrawlRequest.retry``) starts from the
links the first crawl found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlError, CrawlResult, PageRecord, PendingMedia
from spiders.hosting import country_of
from spiders.items import FetchedMedia, MediaLink, StoredMedia, UnstoredMedia
from spiders.media_spider import MAX_NESTING, MAX_STYLESHEETS, MAX_URL_LENGTH
from spiders.pipelines.evidence import PAUSED
from spiders.request import CrawlRequest
from spiders.urls import normalise_url

NO_MEDIA = "no media found on the page"


# Crawl-wide limits the spider counts under hotline/limit/<name>: the reason for each,
# given the request and how many links the limit held back.
_LIMIT_REASONS = {
    "max_pages": lambda r, n: f"page budget spent: max_pages ({r.max_pages}); {n} more page link(s) not followed",
    "max_media": lambda r, n: f"media budget spent: max_media ({r.max_media}); {n} more media URL(s) not fetched",
    "stylesheets": lambda r, n: f"stylesheet budget spent ({MAX_STYLESHEETS} per crawl); "
                                f"{n} more stylesheet(s) not fetched",
    "nesting": lambda r, n: f"frames or @imports nested more than {MAX_NESTING} deep; {n} not followed",
    "url_length": lambda r, n: f"{n} URL(s) longer than {MAX_URL_LENGTH} characters not fetched",
}


def limit_reasons(request: CrawlRequest, stats: Mapping[str, Any]) -> list[str]:
    """A readable reason for each crawl-wide limit that fired."""
    reasons = [
        reason(request, stats[f"hotline/limit/{name}"])
        for name, reason in _LIMIT_REASONS.items()
        if stats.get(f"hotline/limit/{name}")
    ]
    if stats.get("finish_reason") == "closespider_timeout":
        reasons.append(f"crawl stopped after crawl_timeout_s ({request.crawl_timeout_s:g} s); "
                       "results are partial")
    return reasons


# Scrapy's own counters worth reporting, under shorter names.
_SCRAPY_STATS = {
    "downloader/request_count": "requests",
    "downloader/response_count": "responses",
    "downloader/response_bytes": "response_bytes",
    "retry/count": "retries",
}


class ResultBuilder:
    """Collects items (connect ``add`` to Scrapy's ``item_scraped`` signal), then ``build``."""

    def __init__(self, request: CrawlRequest) -> None:
        self.request = request
        self.url = request.url
        self.pages: list[PageRecord] = []
        self.errors: list[CrawlError] = []
        self.links: dict[tuple[str, str], str | None] = {}  # (media URL, page URL) -> the page's IP
        self.stored: dict[str, list[StoredMedia]] = {}  # by media_url (one URL may serve several)
        self.unstored: dict[str, UnstoredMedia] = {}  # by media_url, first failure kept
        for media_url, page_url in request.retry:
            self.links.setdefault((media_url, page_url))

    def add(self, item: Any, **_: Any) -> None:
        if isinstance(item, PageRecord):
            self.pages.append(item)
        elif isinstance(item, CrawlError):
            self.errors.append(item)
        elif isinstance(item, MediaLink):
            key = (item.media_url, item.page_url)
            self.links[key] = self.links.get(key) or item.page_ip
        elif isinstance(item, StoredMedia):
            self.stored.setdefault(item.media_url, []).append(item)
            key = (item.sighting.media_url, item.sighting.page_url)
            self.links[key] = self.links.get(key) or item.sighting.page_ip
        elif isinstance(item, UnstoredMedia):
            self.unstored.setdefault(item.media_url, item)
        elif isinstance(item, FetchedMedia):  # the evidence pipeline did not run
            raise TypeError(
                f"media from {item.media_url!r} reached the result unstored"
            )
        else:
            raise TypeError(f"unexpected item {type(item).__name__}")

    def _sightings(self) -> list[SightingRecord]:
        sightings = []
        page_ips = {p.final_url: p.ip for p in self.pages if p.ip}
        for (media_url, page_url), link_ip in self.links.items():
            for stored in self.stored.get(media_url, ()):
                fetch = stored.fetch
                # where the page came from: as its link said, else as its page record says (a
                # media URL reported or framed by a parent page), else the media's own fetch
                # when the media URL was the page
                page_ip = link_ip or page_ips.get(page_url) or (fetch.ip if page_url == media_url else None)
                sightings.append(
                    SightingRecord(
                        sha256=stored.media.sha256,
                        media_url=media_url,
                        page_url=page_url,
                        ip=fetch.ip,
                        country=fetch.country,
                        seen_at=fetch.fetched_at,
                        final_url=fetch.final_url,
                        redirects=fetch.redirects,
                        http_status=fetch.status,
                        content_type=fetch.content_type,
                        headers=fetch.headers,
                        page_host=urlsplit(page_url).hostname,
                        page_ip=page_ip,
                        page_country=country_of(page_ip),
                    )
                )
        return sightings

    def _pending(self) -> list[PendingMedia]:
        return [
            PendingMedia(media_url, page_url, unstored.reason, unstored.stage)
            for media_url, page_url in self.links
            if media_url not in self.stored and (unstored := self.unstored.get(media_url)) is not None
        ]

    def _pending_reasons(self, pending: list[PendingMedia], stats: Mapping[str, Any]) -> list[CrawlError]:
        """One reason per stage on the reported URL: how many items wait, and why."""
        errors = []
        for stage in ("evidence", "crawl"):
            urls = {p.media_url for p in pending if p.stage == stage}
            if not urls:
                continue
            first = next(u.reason for u in self.unstored.values() if u.stage == stage)
            if stage == "crawl":
                text = f"{len(urls)} item(s) could not be fetched again and stay pending: {first}"
            elif stats.get(PAUSED):
                text = (f"evidence store failing: stopped storing media after "
                        f"{self.request.max_store_failures} failures in a row; {len(urls)} item(s) "
                        f"kept pending for the next run (first failure: {first})")
            else:
                text = f"{len(urls)} item(s) could not be stored and are kept pending for the next run: {first}"
            errors.append(CrawlError(self.url, text, stage=stage))
        return errors

    def _unsettled(self, stats: Mapping[str, Any]) -> list[CrawlError]:
        """A retry crawl's URLs that came to nothing. Cut off by the crawl's time limit:
        still pending. Otherwise (no media any more, or a viewer page now) a permanent
        answer, recorded so that the item is settled."""
        seen = {e.url for e in self.errors}
        untried = [u for u in dict.fromkeys(u for u, _ in self.request.retry)
                   if u not in self.stored and u not in self.unstored and u not in seen]
        if stats.get("finish_reason") == "closespider_timeout":
            for url in untried:
                self.unstored[url] = UnstoredMedia(
                    url, f"not fetched again within crawl_timeout_s ({self.request.crawl_timeout_s:g} s)",
                    stage="crawl")
            return []
        return [CrawlError(url, "fetched again, but it is no longer media (by its magic bytes)") for url in untried]

    def build(self, scrapy_stats: Mapping[str, Any]) -> CrawlResult:
        """The CrawlResult. Adds "no media found" when nothing was stored and the reported
        URL itself has no error, and an error when the crawl hit its time limit."""
        media: dict[str, MediaRecord] = {}
        for fetched in self.stored.values():
            for stored in fetched:
                media.setdefault(stored.media.sha256, stored.media)
        sightings = self._sightings()
        errors = list(self.errors) + self._unsettled(scrapy_stats)
        pending = self._pending()
        errors += [CrawlError(self.url, reason, stage="limit")
                   for reason in limit_reasons(self.request, scrapy_stats)]
        errors += self._pending_reasons(pending, scrapy_stats)
        reported = {self.url, normalise_url(self.url)}
        if not media and not self.request.retry and not any(e.url in reported for e in errors):
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
        stats.update(media=len(media), sightings=len(sightings), errors=len(errors), pending=len(pending))
        return CrawlResult(
            url=self.url,
            pages=tuple(self.pages),
            media=tuple(media.values()),
            sightings=tuple(sightings),
            errors=tuple(errors),
            stats=stats,
            pending=tuple(pending),
        )
