"""``python -m spiders.worker``: one crawl in this process, for ``spiders.crawl``.

Reads ``{"request": CrawlRequest fields, "evidence": EvidenceSpec fields}``
(and optionally ``"log_level"``, default WARNING, and ``"test_hosts"``: scripted DNS answers
``{host: [[addresses], ...]}`` for tests, which never touch real DNS) as JSON on stdin,
crawls, and writes the CrawlResult as one JSON document on stdout. With ``"mode":
"recheck"`` and ``"urls": [...]`` it fetches those URLs for takedown tracking instead
(``spiders.takedown_recheck``; the request gives the limits, ``"headers"`` optional extra
headers per URL) and writes a JSON list of
observations; nothing is stored.
Logs go to stderr. Exits 0 whatever the site did; non-zero means a bug or bad input.
Scrapy's reactor cannot be restarted inside a process, hence one process per crawl.
"""

from __future__ import annotations

import json
import os
import sys

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from catalog.reports.records import CrawlResult
from evidence.spec import EvidenceSpec
from spiders.codec import result_to_json
from spiders.crawl_settings import crawl_settings
from spiders.media_spider import MediaSpider
from spiders.pinning import PROCESS_PINS, scripted_resolver
from spiders.recheck_spider import RecheckSpider
from spiders.request import CrawlRequest
from spiders.results import ResultBuilder
from spiders.takedown_recheck import Observation, observations_to_json


def run_crawl(
    request: CrawlRequest,
    evidence: EvidenceSpec,
    log_level: str = "WARNING",
) -> CrawlResult:
    """Run the crawl in this process (once per process) and return its result."""
    settings = crawl_settings(request, evidence, log_level)
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(MediaSpider)
    builder = ResultBuilder(request)
    crawler.signals.connect(builder.add, signal=signals.item_scraped)
    process.crawl(crawler, crawl_request=request)
    process.start()
    assert crawler.stats is not None
    return builder.build(crawler.stats.get_stats())


def run_recheck(
    limits: CrawlRequest,
    urls: list[str],
    headers: dict[str, dict[str, str]] | None = None,
    log_level: str = "WARNING",
) -> list[Observation]:
    """Fetch ``urls`` in this process (once per process); what was seen at each."""
    settings = crawl_settings(limits, None, log_level)  # no store: bodies are dropped
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(RecheckSpider)
    seen: list[Observation] = []

    def collect(item: Observation, **_: object) -> None:  # kept alive: signals hold weak refs
        seen.append(item)

    crawler.signals.connect(collect, signal=signals.item_scraped)
    process.crawl(crawler, limits=limits, urls=urls, headers=headers)
    process.start()
    return seen


def main() -> int:
    payload = json.loads(sys.stdin.read())
    request = CrawlRequest.from_dict(payload["request"])
    log_level = str(payload.get("log_level", "WARNING"))
    if payload.get("test_hosts"):
        PROCESS_PINS.resolve = scripted_resolver(payload["test_hosts"])
    # Keep fd 1 for the result alone: anything else that prints goes to stderr.
    result_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    if payload.get("mode") == "recheck":
        headers = {str(u): {str(k): str(v) for k, v in h.items()} for u, h in payload.get("headers", {}).items()}
        observations = run_recheck(request, [str(u) for u in payload["urls"]], headers, log_level)
        result_out.write(observations_to_json(observations) + "\n")
    else:
        result = run_crawl(request, EvidenceSpec.from_dict(payload["evidence"]), log_level)
        result_out.write(result_to_json(result) + "\n")
    result_out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
