"""Items the spider yields besides the catalog records (PageRecord, CrawlError).

Media bytes travel only inside ``FetchedMedia``, whose ``body`` is left out of its repr so
that Scrapy's item logging (scraped, dropped, item errors) can never print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from catalog.media_items.records import MediaRecord


@dataclass(frozen=True)
class Fetch:
    """How one response arrived: where from, through which redirects, with what headers."""

    final_url: str
    status: int
    ip: str | None
    country: str | None
    content_type: str | None  # as the server claimed it
    fetched_at: datetime
    redirects: tuple[str, ...] = ()  # URLs passed through before final_url
    headers: dict[str, str] = field(default_factory=dict)  # spiders.hosting.RECORDED_HEADERS


@dataclass(frozen=True)
class MediaLink:
    """A page referenced a media URL (for a URL that is itself media, both are that URL).
    ``media_url`` is in the crawl's one form (``spiders.urls.normalise_url``): the very
    string the request for it was made with. ``page_ip``: the address the page came from,
    when the spider saw its response."""

    media_url: str
    page_url: str
    page_ip: str | None = None


@dataclass(frozen=True)
class FetchedMedia:
    """Downloaded bytes on their way to the evidence store; not yet known to be media.
    ``sighting`` travelled with the request: the link that made the crawl fetch it."""

    sighting: MediaLink
    fetch: Fetch
    body: bytes = field(repr=False)

    @property
    def media_url(self) -> str:  # as requested (before redirects)
        return self.sighting.media_url


@dataclass(frozen=True)
class StoredMedia:
    """Media now in the evidence store (what ``FetchedMedia`` becomes in the pipeline),
    still carrying the sighting that fetched it: stored media never lack one."""

    media: MediaRecord
    sighting: MediaLink
    fetch: Fetch

    @property
    def media_url(self) -> str:
        return self.sighting.media_url

@dataclass(frozen=True)
class UnstoredMedia:
    """A media URL whose bytes were not stored: the evidence store failed (``stage``
    ``evidence``; or storing was paused and the URL not even fetched), or, on a second
    attempt, the site failed transiently (``crawl``). It becomes a ``PendingMedia``."""

    media_url: str
    reason: str
    stage: str = "evidence"  # evidence | crawl
