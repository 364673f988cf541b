"""Readable reasons for failed requests, for CrawlError.reason."""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_error
from twisted.python.failure import Failure

MAX_REASON = 300


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def describe_failure(failure: Failure, *, size_limit: str = "the size limit") -> str:
    """A short reason a person can read: ``"connection refused"``, ``"HTTP 404"``,
    ``"timed out after 20 s"``, ``"refused: 10.0.0.1 is a private address"`` ...

    ``size_limit`` names the limit a cancelled (oversized) download ran into.
    """
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):  # our guard's refusals, or Scrapy's own reasons
        return _short(str(exc) or "request ignored")
    if isinstance(
        exc, (DownloadConnectionRefusedError, tx_error.ConnectionRefusedError)
    ):
        return "connection refused"
    if isinstance(exc, (CannotResolveHostError, tx_error.DNSLookupError)):
        return "DNS lookup failed"
    if isinstance(exc, (DownloadTimeoutError, tx_error.TimeoutError)):
        return _short(f"timed out ({exc})" if str(exc) else "timed out")
    if isinstance(exc, DownloadCancelledError):
        return f"response larger than {size_limit}"
    if isinstance(exc, ResponseDataLossError):
        return "connection closed before the whole response arrived"
    if isinstance(
        exc, (DownloadFailedError, tx_error.ConnectError, tx_error.ConnectionLost)
    ):
        return _short(f"download failed: {exc}" if str(exc) else "download failed")
    return _short(f"{type(exc).__name__}: {exc}")
