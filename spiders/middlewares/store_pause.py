"""StorePauseMiddleware: no more media downloads once the evidence store has given up.

When the evidence pipeline has failed ``EVIDENCE_MAX_FAILURES`` times in a row (a full
disk, a storage outage) it sets ``PAUSED`` in the crawl's stats; from then on, media
requests, including those already scheduled, are not sent: each fails with
``StorePaused``, which the spider keeps as a pending item for the next run. Pages are still
fetched, so every media URL the crawl can find is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from spiders.media_spider import ROLE
from spiders.pipelines.evidence import PAUSED
from spiders.refusals import StorePaused

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class StorePauseMiddleware:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getdict("EVIDENCE_STORE"):
            raise NotConfigured("nothing is stored")
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_request(self, request: Request) -> None:
        if request.meta.get(ROLE) == "media" and self.stats.get_value(PAUSED):
            self.stats.inc_value("hotline/evidence/not_fetched")
            raise StorePaused("not fetched: storing was paused after the evidence store kept failing")
