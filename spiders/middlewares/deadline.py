"""DeadlineMiddleware: no download outlives the crawl's own time limit.

Scrapy's ``CLOSESPIDER_TIMEOUT`` stops scheduling new requests, but the engine then waits
for the downloads in flight, each up to its own ``DOWNLOAD_TIMEOUT``: a slow-drip server
could keep a crawl alive long past ``crawl_timeout_s``. This middleware gives each request
``download_timeout = min(request timeout, time left)``; a request cut short that way is
flagged (``DEADLINE_CUT`` in its meta) so its reason names the crawl's limit.

Settings: ``DEADLINE_SECONDS`` (the crawl's time limit; 0 disables), ``DOWNLOAD_TIMEOUT``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

DEADLINE_CUT = "hotline_deadline_cut"
MIN_TIMEOUT_S = 0.1


class DeadlineMiddleware:
    def __init__(self, seconds: float, request_timeout_s: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.request_timeout_s = request_timeout_s

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        seconds = crawler.settings.getfloat("DEADLINE_SECONDS")
        if seconds <= 0:
            raise NotConfigured("no crawl deadline")
        return cls(seconds, crawler.settings.getfloat("DOWNLOAD_TIMEOUT"))

    def process_request(self, request: Request) -> None:
        left = self.deadline - time.monotonic()
        timeout = request.meta.get("download_timeout", self.request_timeout_s)
        if left < timeout:
            request.meta["download_timeout"] = max(MIN_TIMEOUT_S, left)
            request.meta[DEADLINE_CUT] = True
