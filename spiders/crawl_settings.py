"""Scrapy settings for one crawl, built in code from the CrawlRequest.

Safety first: no remote control or telnet servers (Scrapy 2.19's remote control runs
posted code), no HTTP cache, no file/image pipelines, no feeds, no proxy from the
environment, only the http(s) download handlers (Twisted's, whose connections resolve
through ``spiders.pinning.PinnedResolver``: only addresses the guard checked); every
request passes the address guard; media go to the encrypted evidence store only.
Cookies are kept in memory only when a pathway is replayed (disguised sites set them on
the way in). Meta refresh is followed by the spider itself (it records the chain).
"""

from __future__ import annotations

from typing import Any

from evidence.spec import EvidenceSpec
from spiders.request import CrawlRequest

ADDRESS_GUARD = "spiders.middlewares.address_guard.AddressGuardMiddleware"
DEADLINE = "spiders.middlewares.deadline.DeadlineMiddleware"
PINNED_RESOLVER = "spiders.pinning.PinnedResolver"
HTTP_HANDLER = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
EVIDENCE_PIPELINE = "spiders.pipelines.evidence.EvidencePipeline"
STORE_PAUSE = "spiders.middlewares.store_pause.StorePauseMiddleware"


def crawl_settings(
    request: CrawlRequest,
    evidence: EvidenceSpec | None,
    log_level: str = "WARNING",
) -> dict[str, Any]:
    """The settings dict for ``CrawlerProcess`` crawling ``request``; without an evidence
    store (``None``, for re-checks) nothing is stored: there is no item pipeline."""
    return {
        "BOT_NAME": "hotline",
        "USER_AGENT": request.user_agent,
        # servers and side doors: off
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "EXTENSIONS": {
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.remote_control.RemoteControl": None,
        },
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": bool(request.pathway),
        "HTTPPROXY_ENABLED": False,  # egress through a proxy is a deliberate, later choice
        "FEEDS": {},
        "JOBDIR": None,
        "DOWNLOAD_HANDLERS": {
            "file": None, "data": None, "s3": None, "ftp": None,
            "http": HTTP_HANDLER, "https": HTTP_HANDLER,
        },
        "TWISTED_DNS_RESOLVER": PINNED_RESOLVER,
        # politeness and limits
        "ROBOTSTXT_OBEY": False,
        "RETRY_TIMES": 1,
        "REDIRECT_MAX_TIMES": request.max_redirects,
        "METAREFRESH_ENABLED": False,
        # the spider bounds URL length itself (MAX_URL_LENGTH) and records what it skips;
        # Scrapy's middleware would drop longer URLs with a log line only
        "URLLENGTH_LIMIT": 0,
        "DOWNLOAD_TIMEOUT": request.request_timeout_s,
        "DNS_TIMEOUT": request.request_timeout_s,
        "DOWNLOAD_MAXSIZE": max(request.max_media_bytes, request.max_page_bytes),
        "DOWNLOAD_WARNSIZE": 0,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "REACTOR_THREADPOOL_MAXSIZE": 20,  # first DNS lookups and evidence sealing
        # items of one response processed at once: Scrapy starts this many tasks for every
        # callback, and a page's items (links, one media body) need no more
        "CONCURRENT_ITEMS": 8,
        # Scrapy re-parses a generator callback's source (ast) on every response to warn
        # about ``return value`` in generators: 4 % of a crawl's CPU, for a lint
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "CLOSESPIDER_TIMEOUT": request.crawl_timeout_s,
        "DEADLINE_SECONDS": request.crawl_timeout_s,
        # components
        "DOWNLOADER_MIDDLEWARES": {
            STORE_PAUSE: 970,
            DEADLINE: 980,
            ADDRESS_GUARD: 990,
            "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
        },
        "ITEM_PIPELINES": {EVIDENCE_PIPELINE: 100} if evidence else {},
        "ADDRESSGUARD_ALLOW": list(request.allow),
        "EVIDENCE_STORE": evidence.to_dict() if evidence else None,
        "EVIDENCE_MAX_PIXELS": request.max_pixels,
        "EVIDENCE_MAX_FAILURES": request.max_store_failures,
        # logs go to stderr; they never contain media (FetchedMedia hides its bytes)
        "LOG_LEVEL": log_level,
        "LOG_VERSIONS": [],
    }
