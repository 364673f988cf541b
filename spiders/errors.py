"""Errors of the spiders package.

SpidersError
 ├── InvalidCrawlRequest (ValueError)   a CrawlRequest field is malformed
 ├── InvalidCrawlResult (ValueError)    a worker's output is not a CrawlResult document
 ├── WorkerFailed                       a worker crashed, timed out or was killed
 ├── RequestRefused (scrapy IgnoreRequest)   the address guard stopped a request
 │    ├── AddressRefused                    scheme not http(s), or the host is not public
 │    └── HostUnresolvable                  the host name does not resolve
 └── StorePaused (scrapy IgnoreRequest)     a media request not sent: the evidence store
                                            kept failing (the item is kept pending)

``RequestRefused`` subclasses Scrapy's ``IgnoreRequest`` so that Scrapy drops the
request and hands the failure to the request's errback, which records it as a
``CrawlError``; it and ``StorePaused`` live in ``spiders.refusals``, which only the crawl
worker imports (the flows that start workers need not load Scrapy). A bad *site* never
raises out of ``crawl()``; only a bad *request* (``InvalidCrawlRequest``) or a broken
installation does.
"""

from __future__ import annotations


class SpidersError(Exception):
    """Base of every error raised by the spiders package."""


class InvalidCrawlRequest(SpidersError, ValueError):
    """A CrawlRequest was built from a malformed value (shown with ``!r``)."""


class InvalidCrawlResult(SpidersError, ValueError):
    """A worker printed something that does not decode to a CrawlResult."""


class WorkerFailed(SpidersError):
    """A worker process crashed, timed out or was killed; the message says how, with the
    tail of its stderr (logs only, never media)."""
