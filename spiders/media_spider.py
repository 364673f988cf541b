"""MediaSpider: fetch the reported URL, collect every media item it is, shows or links to.

A response whose first bytes are media is media, whatever its name or Content-Type. An
HTML page (again judged by its bytes when the header says otherwise) is parsed
(``spiders.links``) for media candidates, stylesheets (whose ``url(...)`` are candidates
too), frames, refresh targets, pagination, same-site links and image-host viewer pages;
each is fetched within the request's limits, and every candidate is judged by its magic
bytes in the evidence pipeline. Every request has an errback, so every failure becomes a
``CrawlError`` item instead of a log line; a limit that fires is counted under
``hotline/limit/<name>`` and becomes a ``limit`` reason (``spiders.results``). A guessed
media URL (swept from the page's text, ``GUESSED``) that fails is only counted, under
``hotline/guessed/failed``: a guess that was wrong is not a fault of the crawl.

What each request is for travels in ``Request.meta`` (``ROLE``): ``page`` (follow links up
to ``max_depth``), ``viewer`` and ``direct`` (collect media and frames only), ``step`` (a
pathway page: visited, recorded, nothing collected), ``css`` and ``media``. A media request
carries its sighting (``SIGHTING``: the URL, in the crawl's one form, and the page that
linked it), so media stored from its response are never without one; every URL the spider
requests, deduplicates or records goes through ``spiders.urls.normalise_url`` once.

Every response ends as an item or a reason: a page as a ``PageRecord``, media as
``FetchedMedia`` (stored, or a ``content`` reason when empty or not media), a response
that is neither HTML nor media as a ``content`` reason, an HTTP error as a ``crawl``
reason; a link to a refused scheme (``file:``, ``gopher:`` ...) is a ``refused`` reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from catalog.reports.records import CrawlError, PageRecord
from spiders.failures import GONE_STATUSES, describe_failure
from spiders.hosting import country_of, recorded_headers
from spiders.items import Fetch, FetchedMedia, MediaLink, UnstoredMedia
from spiders.links import PageLinks, css_urls, extract_links, media_accept, refresh_target
from spiders.magic import sniff
from spiders.middlewares.deadline import DEADLINE_CUT
from spiders.refusals import StorePaused
from spiders.request import CrawlRequest
from spiders.urls import normalise_url, refused_scheme

# Request.meta keys of this spider.
ROLE = "hotline_role"  # page | viewer | direct | step | css | media
DEPTH = "hotline_depth"
LIMIT = "hotline_limit"  # name of the size limit that download_maxsize enforces
PARENT = "hotline_parent"  # the page that referenced this URL, if any
VIEW = "hotline_view"  # direct | pathway | step
NESTING = "hotline_nesting"  # frames (or @imports) between this and a top-level page
CHAIN = "hotline_chain"  # pages passed through by refresh before this one
STEP = "hotline_step"  # index of a pathway step
SIGHTING = "hotline_sighting"  # the MediaLink a media request was made for
GUESSED = "hotline_guessed"  # a media URL swept from the text, not declared by the markup

# Longer URLs are not requested (a limit reason says how many): Apache's and many CDNs'
# request-line limit; Scrapy's own 2083 would drop real signed CDN URLs without a word.
MAX_URL_LENGTH = 8190

MAX_NESTING = 3  # frames in frames, @import in @import
MAX_STYLESHEETS = 50  # per crawl
_COLLECTING = ("page", "viewer", "direct")


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


def _neither_reason(response: Response) -> str:
    """Why a page's response led nowhere: it is empty, or neither HTML nor media (size and
    claimed type only, never its bytes)."""
    claimed = _header(response, "Content-Type")
    what = f", Content-Type {claimed!r}" if claimed else ""
    if not response.body:
        return f"empty response (0 bytes, HTTP {response.status}{what})"
    return f"neither a page nor media ({len(response.body)} bytes, HTTP {response.status}{what})"


def _as_html(response: Response) -> HtmlResponse | None:
    """The response as HTML when it is HTML by header or by its first bytes."""
    if isinstance(response, HtmlResponse):
        return response
    head = response.body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<img", b"<meta")):
        return HtmlResponse(
            response.url, status=response.status, headers=response.headers, body=response.body,
            request=response.request, ip_address=response.ip_address,
        )
    return None


def fetch_of(response: Response, chain: tuple[str, ...] = ()) -> Fetch:
    """How ``response`` arrived (``chain``: pages passed through by refresh before it)."""
    ip = _ip(response)
    return Fetch(
        final_url=response.url,
        status=response.status,
        ip=ip,
        country=country_of(ip),
        content_type=_header(response, "Content-Type"),
        fetched_at=_now(),
        redirects=(*chain, *response.meta.get("redirect_urls", ())),
        headers=recorded_headers(response.headers.items()),
    )


class MediaSpider(Spider):
    """One crawl of one ``CrawlRequest``; yields PageRecord, MediaLink, FetchedMedia, CrawlError."""

    name = "hotline-media"

    def __init__(self, crawl_request: CrawlRequest, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crawl_request = crawl_request
        self._pages: set[tuple[str, str]] = set()  # (url, view)
        self._media: set[str] = set()
        self._stylesheets: set[str] = set()

    # --- requests ---------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        r = self.crawl_request
        if r.retry:  # a second attempt at items an earlier crawl could not store: only those
            for request in self._retry_requests():
                yield request
            return
        if r.pathway:
            yield self._step_request(0)
        else:
            for request in self._target_request():
                yield request
        if r.replayed:  # the other view: a visitor arriving with no history at all
            for request in self._page_request(r.url, role="direct", view="direct", depth=0):
                yield request

    def _retry_requests(self) -> Iterator[Request]:
        for media_url, page_url in self.crawl_request.retry:
            if (request := self._media_request(MediaLink(media_url, page_url), "direct")) is not None:
                request.headers["Referer"] = page_url  # as the page showed it the first time
                request.meta["referrer_policy"] = "unsafe-url"
                yield request

    def _target_request(self) -> list[Request]:
        r = self.crawl_request
        referer = r.pathway[-1] if r.pathway else r.referer
        view = "pathway" if r.replayed else "direct"
        return self._page_request(r.url, role="page", view=view, depth=0, referer=referer)

    def _step_request(self, index: int) -> Request:
        r = self.crawl_request
        referer = r.pathway[index - 1] if index else r.referer
        return Request(
            r.pathway[index],
            callback=self.parse_step,
            errback=self.on_error,
            headers={"Referer": referer} if referer else None,
            dont_filter=True,
            meta={ROLE: "step", VIEW: "step", STEP: index, LIMIT: "max_page_bytes",
                  "download_maxsize": r.max_page_bytes, "referrer_policy": "unsafe-url"},
        )

    def _count(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"hotline/{key}", n)

    def _page_request(
        self,
        url: str,
        *,
        role: str,
        view: str,
        depth: int,
        referer: str | None = None,
        parent: str | None = None,
        nesting: int = 0,
        chain: tuple[str, ...] = (),
    ) -> list[Request]:
        """A request for a page; none when already requested or (counted) when the page
        budget is spent."""
        r = self.crawl_request
        url = normalise_url(url) or url  # the reported URL as written; links are normal already
        if (url, view) in self._pages or self._too_long(url):
            return []
        if len(self._pages) >= r.max_pages:
            self._count("limit/max_pages")
            return []
        self._pages.add((url, view))
        meta: dict[str, Any] = {
            ROLE: role, DEPTH: depth, PARENT: parent, VIEW: view, NESTING: nesting,
            CHAIN: chain, "download_maxsize": max(r.max_media_bytes, r.max_page_bytes),
            # any page may turn out to be media, so it may be as large as media
            LIMIT: "max_media_bytes" if r.max_media_bytes >= r.max_page_bytes else "max_page_bytes",
        }
        if role == "direct":
            meta.update(cookiejar="direct", referrer_policy="no-referrer")
        return [Request(
            url,
            callback=self.parse_page,
            errback=self.on_error,
            headers={"Referer": referer} if referer else None,
            dont_filter=True,  # we deduplicate ourselves; redirect loops must hit max_redirects
            priority=-depth,  # breadth first: the budget goes to the nearest pages
            meta=meta,
        )]

    def _too_long(self, url: str) -> bool:
        if len(url) <= MAX_URL_LENGTH:
            return False
        self._count("limit/url_length")
        return True

    def _media_request(self, link: MediaLink, view: str, *, guessed: bool = False) -> Request | None:
        url = link.media_url
        if url in self._media or self._too_long(url):
            return None
        if len(self._media) >= self.crawl_request.max_media:
            self._count("limit/max_media")
            return None
        self._media.add(url)
        return Request(
            url,
            callback=self.parse_media,
            errback=self.on_error,
            headers={"Accept": media_accept(url)},
            dont_filter=True,
            priority=1,  # media of pages already seen before more pages
            meta={ROLE: "media", VIEW: view, LIMIT: "max_media_bytes", SIGHTING: link, GUESSED: guessed,
                  "download_maxsize": self.crawl_request.max_media_bytes},
        )

    def _media_requests(self, links: PageLinks, page_url: str, view: str,
                        page_ip: str | None = None) -> Iterator[Any]:
        """A sighting and a request for each media candidate of a page, declared first, and
        a reason for each link to a scheme the crawler refuses."""
        yield from self._media_links(links.media, page_url, view, page_ip)
        yield from self._media_links(links.guessed, page_url, view, page_ip, guessed=True)
        yield from self._refused(links.refused, page_url)

    def _css_request(self, url: str, view: str, nesting: int) -> Request | None:
        if url in self._stylesheets or self._too_long(url):
            return None
        if len(self._stylesheets) >= MAX_STYLESHEETS:
            self._count("limit/stylesheets")
            return None
        self._stylesheets.add(url)
        return Request(
            url,
            callback=self.parse_css,
            errback=self.on_error,
            dont_filter=True,
            meta={ROLE: "css", VIEW: view, NESTING: nesting, LIMIT: "max_page_bytes",
                  "download_maxsize": self.crawl_request.max_page_bytes},
        )

    # --- records ----------------------------------------------------------------------

    def _page_record(self, response: Response, url: str, fetch: Fetch) -> PageRecord:
        request = response.request
        referer = request.headers.get("Referer") if request is not None else None
        return PageRecord(
            url=url,
            final_url=fetch.final_url,
            status=fetch.status,
            ip=fetch.ip,
            country=fetch.country,
            content_type=fetch.content_type,
            size=len(response.body),
            fetched_at=fetch.fetched_at,
            redirects=fetch.redirects,
            view=response.meta.get(VIEW),
            referer=referer.decode("latin-1") if referer else None,
            headers=fetch.headers,
        )

    # --- callbacks --------------------------------------------------------------------

    def parse_step(self, response: Response) -> Iterator[Any]:
        """A pathway page: recorded, then the next step (or the reported URL) follows."""
        assert response.request is not None
        url = _requested_url(response.request)
        self._count("pathway/steps")
        yield self._page_record(response, url, fetch_of(response))
        yield from self._after_step(response.meta[STEP])

    def _after_step(self, index: int) -> Iterator[Request]:
        if index + 1 < len(self.crawl_request.pathway):
            yield self._step_request(index + 1)
        else:
            yield from self._target_request()

    def parse_page(self, response: Response) -> Iterator[Any]:
        r = self.crawl_request
        assert response.request is not None
        url = _requested_url(response.request)
        meta = response.meta
        fetch = fetch_of(response, meta.get(CHAIN, ()))
        self._count("pages")
        yield self._page_record(response, url, fetch)
        if not response.body:
            yield CrawlError(url, _neither_reason(response), stage="content")
            return
        if sniff(response.body) is not None:  # the URL is itself media
            link = MediaLink(url, meta.get(PARENT) or url)
            yield link
            yield FetchedMedia(link, fetch, response.body)
            return
        page = _as_html(response)
        if page is None:
            self._count("pages/not_html")
            yield CrawlError(url, _neither_reason(response), stage="content")
            return
        if len(response.body) > r.max_page_bytes:
            self._count("limit/max_page_bytes")
            yield CrawlError(url, f"page larger than max_page_bytes ({r.max_page_bytes} bytes)", stage="limit")
            return
        try:
            links = extract_links(page)
        except Exception as exc:  # noqa: BLE001 - a hostile page must not end the crawl
            yield CrawlError(url, f"could not parse the page: {type(exc).__name__}: {exc}"[:300])
            return
        yield from self._follow(page, links)

    def _follow(self, page: HtmlResponse, links: PageLinks) -> Iterator[Any]:
        r = self.crawl_request
        meta = page.meta
        role, depth, view, nesting = meta[ROLE], meta[DEPTH], meta[VIEW], meta.get(NESTING, 0)
        yield from self._media_requests(links, page.url, view, _ip(page))
        for css in links.stylesheets:
            if (request := self._css_request(css, view, 0)) is not None:
                yield request
        for frame in links.frames:
            if nesting >= MAX_NESTING:
                self._count("limit/nesting")
                break
            self._count("follow/frames")
            yield from self._page_request(frame, role=role, view=view, depth=depth, parent=page.url,
                                     nesting=nesting + 1, referer=page.url)
        refresh = links.refresh or refresh_target(_header(page, "Refresh") or "", page.url)
        if refresh:
            yield from self._refresh(page, refresh)
        if role != "page":
            return
        for url in links.pagination:
            self._count("follow/pagination")
            yield from self._page_request(url, role="page", view=view, depth=depth, parent=page.url)
        if depth >= r.max_depth:
            self._count("skipped/max_depth", len(links.pages) + len(links.viewers))
            return
        for url in links.pages:
            yield from self._page_request(url, role="page", view=view, depth=depth + 1, parent=page.url)
        for url in links.viewers:
            self._count("follow/viewers")
            yield from self._page_request(url, role="viewer", view=view, depth=depth + 1,
                                     parent=page.url, referer=page.url)

    def _refresh(self, page: HtmlResponse, target: str) -> Iterator[Any]:
        """Follow a refresh (meta tag or header) like a redirect, keeping the chain."""
        meta = page.meta
        chain = (*meta.get(CHAIN, ()), *meta.get("redirect_urls", ()), page.url)
        if len(chain) > self.crawl_request.max_redirects:
            self._count("limit/max_redirects")
            yield CrawlError(
                _requested_url(page.request) if page.request else page.url,
                f"more than {self.crawl_request.max_redirects} redirects (max_redirects), "
                f"counting refreshes",
                stage="limit",
            )
            return
        self._count("follow/refresh")
        yield from self._page_request(target, role=meta[ROLE], view=meta[VIEW], depth=meta[DEPTH],
                                 parent=meta.get(PARENT), chain=chain, referer=page.url)

    def parse_css(self, response: Response) -> Iterator[Any]:
        text = response.body.decode(
            response.encoding if isinstance(response, TextResponse) else "utf-8", "replace"
        )
        media, imports = css_urls(text, response.url)
        view, nesting = response.meta[VIEW], response.meta[NESTING]
        yield from self._media_links(media, response.url, view, _ip(response))
        for url in imports:
            if nesting >= MAX_NESTING:
                self._count("limit/nesting")
                break
            if (request := self._css_request(url, view, nesting + 1)) is not None:
                yield request

    def _media_links(self, urls: Iterable[str], page_url: str, view: str,
                     page_ip: str | None = None, *, guessed: bool = False) -> Iterator[Any]:
        """A sighting for each media URL of a page (or stylesheet), and a request for each
        URL not requested yet, carrying that sighting."""
        for media_url in urls:
            self._count("links/guessed" if guessed else "links/media")
            link = MediaLink(media_url, page_url, page_ip)
            yield link
            if (request := self._media_request(link, view, guessed=guessed)) is not None:
                yield request

    def _refused(self, links: Iterable[str], page_url: str) -> Iterator[CrawlError]:
        for raw in links:
            self._count("refused/scheme")
            yield CrawlError(
                raw, f"link on {page_url} not followed: the crawler fetches only http(s), "
                f"not {refused_scheme(raw)}:", stage="refused",
            )

    def parse_media(self, response: Response) -> Iterator[Any]:
        assert response.request is not None
        url = _requested_url(response.request)
        sighting: MediaLink = response.meta.get(SIGHTING) or MediaLink(url, url)
        fetch = fetch_of(response)
        if sniff(response.body) is None and (page := _as_html(response)) is not None:
            # an image host's page behind a media-looking link: its real file is inside
            self._count("media/not_media")
            self._count("follow/viewers")
            yield self._page_record(response, url, fetch)
            if len(response.body) <= self.crawl_request.max_page_bytes:  # media only, no further pages
                yield from self._media_requests(extract_links(page), page.url, page.meta[VIEW], _ip(page))
            else:
                self._count("limit/max_page_bytes")
                yield CrawlError(url, f"page behind a media link larger than max_page_bytes "
                                 f"({self.crawl_request.max_page_bytes} bytes)", stage="limit")
            return
        yield FetchedMedia(sighting, fetch, response.body)

    def on_error(self, failure: Failure) -> Iterator[Any]:
        r = self.crawl_request
        request: Request = failure.request  # type: ignore[attr-defined]
        url = _requested_url(request)
        if isinstance(failure.value, StorePaused):  # not an error of the site: kept pending
            yield UnstoredMedia(url, str(failure.value))
            return
        limit = request.meta.get(LIMIT, "the size limit")
        maxsize = request.meta.get("download_maxsize")
        reason = describe_failure(
            failure, size_limit=f"{limit} ({maxsize} bytes)",
            timeout_s=r.request_timeout_s, max_redirects=r.max_redirects,
        )
        text = reason.text
        if reason.limit and request.meta.get(DEADLINE_CUT) and "timed out" in text:
            text = f"stopped by the crawl's time limit, crawl_timeout_s ({r.crawl_timeout_s:g} s)"
        if request.url != url:
            text = f"{text} (redirected to {request.url})"
        role = request.meta.get(ROLE, "other")
        if request.meta.get(GUESSED) and not reason.limit:
            self._count("guessed/failed")  # a wrong guess (404, refused ...), not an error
            return
        if isinstance(failure.value, HttpError) and role in (*_COLLECTING, "step"):
            response = failure.value.response
            yield self._page_record(response, url, fetch_of(response, request.meta.get(CHAIN, ())))
        self._count(f"errors/{role}")
        if reason.limit:
            self._count("limit/fired")
        permanent = reason.status in GONE_STATUSES or (reason.limit and not reason.timed_out)
        if r.retry and role == "media" and not permanent:
            # an item we once had: only a permanent answer (404, 410, a limit of the item
            # itself such as its size) gives it up; a slow or failing site is tried again
            yield UnstoredMedia(url, text, stage="crawl")
            return
        yield CrawlError(url, text, stage="limit" if reason.limit else "crawl")
        if role == "step":  # a dead pathway page does not stop the replay
            yield from self._after_step(request.meta[STEP])
