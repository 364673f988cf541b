"""The re-check's spider, run by the crawl worker (``spiders.takedown_recheck`` says what a
re-check is and judges what it saw): apart so that the flow that starts the worker does
not load Scrapy."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

from spiders.failures import describe_failure
from spiders.magic import sniff
from spiders.request import CrawlRequest
from spiders.takedown_recheck import Observation


class RecheckSpider(Spider):
    """Fetches each URL once; yields an ``Observation`` per URL, never the bytes."""

    name = "hotline-recheck"

    def __init__(
        self,
        limits: CrawlRequest,
        urls: Sequence[str],
        headers: Mapping[str, Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self.urls = list(dict.fromkeys(urls))
        self.headers = dict(headers or {})

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            yield Request(url, callback=self.parse, errback=self.on_error, dont_filter=True,
                          headers=dict(self.headers.get(url, {})) or None,
                          meta={"download_maxsize": self.limits.max_media_bytes, "first_url": url})

    def parse(self, response: Response) -> Iterator[Observation]:
        media = sniff(response.body)
        yield Observation(
            url=response.meta["first_url"],
            checked_at=datetime.now(UTC),
            http_status=response.status,
            final_url=response.url,
            sha256=hashlib.sha256(response.body).hexdigest(),
            mime=media.mime if media else None,
        )

    def on_error(self, failure: Failure) -> Iterator[Observation]:
        request: Request = failure.request  # type: ignore[attr-defined]
        reason = describe_failure(
            failure, size_limit=f"max_media_bytes ({self.limits.max_media_bytes} bytes)",
            timeout_s=self.limits.request_timeout_s, max_redirects=self.limits.max_redirects,
        )
        response = getattr(failure.value, "response", None)
        yield Observation(
            url=request.meta["first_url"],
            checked_at=datetime.now(UTC),
            http_status=reason.status,
            final_url=response.url if response is not None else None,
            error=reason.text,
            gone=reason.gone,
        )
