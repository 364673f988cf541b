"""CrawlRequest: what to crawl and within which limits, validated when built."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from spiders.errors import InvalidCrawlRequest

MB = 1024 * 1024
MAX_URL_LENGTH = 8192
MAX_PATHWAY = 10
_SCHEMES = ("http", "https")


def _check_http_url(field: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidCrawlRequest(f"{field} must be a string, got {value!r}")
    if len(value) > MAX_URL_LENGTH:
        raise InvalidCrawlRequest(
            f"{field} is longer than {MAX_URL_LENGTH} characters: {value[:80]!r}..."
        )
    if value != value.strip() or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise InvalidCrawlRequest(
            f"{field} has whitespace or control characters: {value!r}"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidCrawlRequest(
            f"{field} is not a valid URL ({exc}): {value!r}"
        ) from None
    if parts.scheme.lower() not in _SCHEMES:
        raise InvalidCrawlRequest(f"{field} must be an http or https URL: {value!r}")
    if not parts.hostname:
        raise InvalidCrawlRequest(f"{field} has no host: {value!r}")
    if " " in parts.netloc:
        raise InvalidCrawlRequest(f"{field} has a space in its host: {value!r}")


def _check_allow_entry(entry: object) -> None:
    if not isinstance(entry, str):
        raise InvalidCrawlRequest(
            f"allow entries must be 'host:port' strings, got {entry!r}"
        )
    host, sep, port = entry.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidCrawlRequest(
            f"allow entry must be 'host:port' (IPv6 as '[::1]:8080'): {entry!r}"
        )
    if host != host.lower() or any(c.isspace() for c in entry):
        raise InvalidCrawlRequest(
            f"allow entry must be lower-case without spaces: {entry!r}"
        )


def _check_positive(name: str, value: object, kind: type) -> None:
    if isinstance(value, bool) or not isinstance(
        value, (int, float) if kind is float else int
    ):
        raise InvalidCrawlRequest(f"{name} must be a {kind.__name__}, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidCrawlRequest(f"{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class CrawlRequest:
    """One reported URL to crawl, with the crawl's limits.

    ``allow`` lists exact ``host:port`` pairs that may be reached even though they are
    not public addresses (tests use it for their 127.0.0.1 servers); nothing else on
    those hosts is allowed. ``max_depth`` 0 fetches the reported URL (and its frames)
    only; 1 also the pages it links to on the same ``host:port`` and the viewer pages its
    thumbnails lead to; pagination of a gallery or thread stays at its page's depth.

    ``pathway`` is the chain of pages the reporter went through before the reported URL
    ("disguised websites" show their content only to visitors arriving that way): the
    crawl visits them in order, each with the previous one as Referer and cookies kept,
    then the reported URL with the last one (or ``referer``) as Referer; when either is
    given the reported URL is also fetched directly, so both views are recorded.

    Limits: ``max_pages`` pages (reported URL, links, frames, viewers, refreshes),
    ``max_media`` media URLs, ``max_page_bytes`` per HTML page, ``max_media_bytes`` per
    response, ``max_pixels`` per image, ``max_redirects`` per request,
    ``request_timeout_s`` per request and ``crawl_timeout_s`` for the whole crawl.

    ``retry`` turns the crawl into a second attempt at items an earlier crawl of ``url``
    found but could not store: each ``(media_url, page_url)`` is fetched again, with its
    page as Referer, and nothing else is crawled. ``max_store_failures``: evidence store
    failures in a row after which the crawl fetches no more media (the rest is kept pending).
    """

    url: str
    allow: tuple[str, ...] = ()
    max_pages: int = 20
    max_depth: int = 1
    max_media: int = 2000
    max_media_bytes: int = 50 * MB
    max_page_bytes: int = 10 * MB
    max_pixels: int = 100_000_000
    max_redirects: int = 5
    request_timeout_s: float = 20.0
    crawl_timeout_s: float = 120.0
    user_agent: str = "hotline/0.1 (+https://github.com/hotline)"
    referer: str | None = None
    pathway: tuple[str, ...] = ()
    retry: tuple[tuple[str, str], ...] = ()
    max_store_failures: int = 5

    def __post_init__(self) -> None:
        _check_http_url("url", self.url)
        if isinstance(self.allow, str) or not isinstance(self.allow, (tuple, list)):
            raise InvalidCrawlRequest(
                f"allow must be a tuple of 'host:port' strings, got {self.allow!r}"
            )
        object.__setattr__(self, "allow", tuple(self.allow))
        for entry in self.allow:
            _check_allow_entry(entry)
        for name in ("max_pages", "max_media", "max_media_bytes", "max_page_bytes", "max_pixels"):
            _check_positive(name, getattr(self, name), int)
        for name in ("max_depth", "max_redirects"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidCrawlRequest(f"{name} must be an int >= 0, got {value!r}")
        for name in ("request_timeout_s", "crawl_timeout_s"):
            _check_positive(name, getattr(self, name), float)
        if (
            not isinstance(self.user_agent, str)
            or not self.user_agent.strip()
            or any(ord(c) < 0x20 or c == "\x7f" for c in self.user_agent)
        ):
            raise InvalidCrawlRequest(
                f"user_agent must be one non-empty line: {self.user_agent!r}"
            )
        if self.referer is not None:
            _check_http_url("referer", self.referer)
        if isinstance(self.pathway, str) or not isinstance(self.pathway, (tuple, list)):
            raise InvalidCrawlRequest(
                f"pathway must be a tuple of URLs, got {self.pathway!r}"
            )
        object.__setattr__(self, "pathway", tuple(self.pathway))
        if len(self.pathway) > MAX_PATHWAY:
            raise InvalidCrawlRequest(
                f"pathway has {len(self.pathway)} steps; at most {MAX_PATHWAY} are replayed"
            )
        for step in self.pathway:
            _check_http_url("pathway step", step)
        if isinstance(self.retry, str) or not isinstance(self.retry, (tuple, list)):
            raise InvalidCrawlRequest(f"retry must be a tuple of (media URL, page URL), got {self.retry!r}")
        object.__setattr__(self, "retry", tuple(tuple(pair) for pair in self.retry))
        for pair in self.retry:
            if len(pair) != 2:
                raise InvalidCrawlRequest(f"retry entries must be (media URL, page URL), got {pair!r}")
            _check_http_url("retry media URL", pair[0])
            _check_http_url("retry page URL", pair[1])
        _check_positive("max_store_failures", self.max_store_failures, int)

    @property
    def replayed(self) -> bool:
        """Whether the crawl arrives at the reported URL through a pathway or referer."""
        return bool(self.pathway or self.referer)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (``allow`` as a list)."""
        data = asdict(self)
        data["allow"] = list(self.allow)
        data["pathway"] = list(self.pathway)
        data["retry"] = [list(pair) for pair in self.retry]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlRequest:
        """Inverse of ``to_dict``; unknown keys are an error."""
        if not isinstance(data, dict):
            raise InvalidCrawlRequest(
                f"a crawl request must be a JSON object, got {data!r}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidCrawlRequest(f"unknown crawl request fields: {unknown!r}")
        if "url" not in data:
            raise InvalidCrawlRequest("a crawl request needs a 'url'")
        values = dict(data)
        for name in ("allow", "pathway", "retry"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)
