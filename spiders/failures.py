"""Readable reasons for failed requests, for CrawlError.reason (and re-check outcomes)."""

from __future__ import annotations

from dataclasses import dataclass

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

from spiders.refusals import HostUnresolvable

MAX_REASON = 300
GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class FailureReason:
    """Why a request failed. ``limit``: one of the crawl's limits fired (recorded with stage
    ``limit``). ``gone``: the server says the content is not there (404/410), or the host
    name does not exist (NXDOMAIN); a refused connection or a failed DNS lookup is not
    ``gone``: a server restarting or a DNS outage says nothing about the content.
    ``status``: the HTTP status, if any. ``timed_out``: a time limit fired (a limit of this
    fetch, not of the content)."""

    text: str
    limit: bool = False
    gone: bool = False
    status: int | None = None
    timed_out: bool = False


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def describe_failure(
    failure: Failure,
    *,
    size_limit: str = "the size limit",
    timeout_s: float | None = None,
    max_redirects: int | None = None,
) -> FailureReason:
    """A short reason a person can read: ``"connection refused"``, ``"HTTP 404"``,
    ``"timed out after 20 s (request_timeout_s)"``, ``"refused: 10.0.0.1 is a private
    address"`` ... ``size_limit`` names the limit a cancelled (oversized) download ran into."""
    exc = failure.value
    if isinstance(exc, HttpError):
        status = exc.response.status
        return FailureReason(f"HTTP {status}", gone=status in GONE_STATUSES, status=status)
    if isinstance(exc, HostUnresolvable):
        return FailureReason(_short(str(exc)), gone=exc.nxdomain)
    if isinstance(exc, IgnoreRequest):  # our guard's refusals, or Scrapy's own reasons
        text = str(exc)
        if text == "max redirections reached":
            return FailureReason(f"more than {max_redirects} redirects (max_redirects)", limit=True)
        if "during decompression" in text:
            return FailureReason(
                f"response larger than {size_limit} once decompressed (a compression bomb?)",
                limit=True,
            )
        return FailureReason(_short(text or "request ignored"))
    if isinstance(exc, (DownloadConnectionRefusedError, tx_error.ConnectionRefusedError)):
        return FailureReason("connection refused")
    if isinstance(exc, (CannotResolveHostError, tx_error.DNSLookupError)):
        return FailureReason("DNS lookup failed")
    if isinstance(exc, (DownloadTimeoutError, tx_error.TimeoutError)):
        if timeout_s is not None:
            return FailureReason(f"timed out after {timeout_s:g} s (request_timeout_s)", limit=True, timed_out=True)
        return FailureReason(_short(f"timed out ({exc})" if str(exc) else "timed out"), limit=True, timed_out=True)
    if isinstance(exc, DownloadCancelledError):
        return FailureReason(f"response larger than {size_limit}", limit=True)
    if isinstance(exc, ResponseDataLossError):
        return FailureReason("connection closed before the whole response arrived")
    if isinstance(exc, (DownloadFailedError, tx_error.ConnectError, tx_error.ConnectionLost)):
        return FailureReason(_short(f"download failed: {exc}" if str(exc) else "download failed"))
    return FailureReason(_short(f"{type(exc).__name__}: {exc}"))
