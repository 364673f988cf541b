"""Records of reports and crawls: a reported URL, what one crawl of it produced (pages,
media, sightings, errors, items not stored yet), the runs that claim reports, and the
re-checks of URLs where confirmed material was seen.

Frozen dataclasses, plain values only; light enough for a crawl worker (no SQLAlchemy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog.media_items.records import MediaRecord, SightingRecord


@dataclass(frozen=True)
class PageRecord:
    """One fetched HTML page (or media URL) of a crawl."""

    url: str
    final_url: str
    status: int
    ip: str | None = None
    country: str | None = None
    content_type: str | None = None
    size: int = 0
    fetched_at: datetime | None = None
    redirects: tuple[str, ...] = ()
    # how the page was seen
    view: str | None = None  # direct | pathway (reached through the report's pathway) | step
    referer: str | None = None  # the Referer header sent
    headers: dict[str, str] = field(default_factory=dict)  # response headers that matter


@dataclass(frozen=True)
class CrawlError:
    """Something that went wrong during a crawl, with a reason a person can read."""

    url: str
    reason: str
    stage: str = "crawl"


@dataclass(frozen=True)
class PendingMedia:
    """A media URL found on ``page_url`` but not collected: its bytes could not be stored
    (``stage`` ``evidence``: a full disk, a storage outage) or, fetched again, the site
    failed transiently (``crawl``). Kept so that the next run fetches it again."""

    media_url: str
    page_url: str
    reason: str
    stage: str = "evidence"  # evidence | crawl


@dataclass(frozen=True)
class CrawlResult:
    """What one crawl of one reported URL produced. Media bytes are already in the
    evidence store; this carries only references."""

    url: str
    pages: tuple[PageRecord, ...] = ()
    media: tuple[MediaRecord, ...] = ()
    sightings: tuple[SightingRecord, ...] = ()
    errors: tuple[CrawlError, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    pending: tuple[PendingMedia, ...] = ()  # found, not stored: fetched again by the next run


@dataclass(frozen=True)
class Report:
    """A reported URL and what became of it."""

    id: int
    url: str
    source: str
    status: str  # pending | processing | done | failed | linked (an earlier report or a partner handles it, not crawled; pending again: items wait)
    received_at: datetime
    processed_at: datetime | None = None
    error: str | None = None
    referer: str | None = None
    pathway: tuple[str, ...] = ()  # pages the reporter went through, in order
    user_agent: str | None = None  # the reporter's browser, replayed by the crawler
    linked_to: int | None = None  # status linked: the earlier report of the same URL, not crawled again
    reporter_ref: str | None = None  # the reporter's own reference (a partner's case number)


@dataclass(frozen=True)
class NewReport:
    """A report to file, checked already: ``url_key`` is ``spiders.urls.normalise_url`` of
    ``url`` (the one URL identity repeats are found by; None: never found as a repeat);
    ``received_at`` None: now."""

    url: str
    url_key: str | None
    source: str = "public"
    referer: str | None = None
    pathway: tuple[str, ...] = ()
    user_agent: str | None = None
    reporter_ref: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class FiledReport:
    """A report as filed: ``linked_to`` names the earlier report of its URL when it was
    linked to it rather than queued for a crawl."""

    id: int
    url: str
    linked_to: int | None = None


def report_record(row: Any) -> Report:
    """A ``reports`` row (SQLAlchemy's) as a ``Report``."""
    m = row._mapping
    return Report(
        id=m["id"],
        url=m["url"],
        source=m["source"],
        status=m["status"],
        received_at=m["received_at"],
        processed_at=m["processed_at"],
        error=m["error"],
        referer=m["referer"],
        pathway=tuple(m["pathway"] or ()),
        user_agent=m["user_agent"],
        linked_to=m["linked_to"],
        reporter_ref=m["reporter_ref"],
    )


@dataclass(frozen=True)
class ReportError:
    """A reason recorded on a report: an unreachable URL, a corrupt image, an empty page."""

    report_id: int
    stage: str  # crawl | hash | match
    reason: str
    url: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class RecheckTarget:
    """A URL where an item with a current baseline or national verdict was seen,
    with the page it was seen on (sent as Referer, as hotlink-protected hosts expect) and
    the reporter's user agent when the report had one."""

    report_id: int
    sha256: str
    url: str
    page_url: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class RecheckRecord:
    """One re-check of a ``RecheckTarget`` (a row of ``rechecks``)."""

    report_id: int | None
    sha256: str | None
    url: str
    checked_at: datetime
    outcome: str  # still-up | changed | removed
    http_status: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Run:
    """A run's registration: who it is and how long its claims hold."""

    id: str
    flow: str
    host: str
    pid: int
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    summary: dict[str, Any] | None  # what the run did, as it said when it ended
    progress: list[dict[str, Any]] | None = None  # where each stage stood when the run last said


@dataclass(frozen=True)
class UrlTakedown:
    """The re-check history of one URL where an item was seen (per report and item): each
    check, oldest first, what the last one found and when the URL was first found removed."""

    report_id: int | None
    sha256: str | None
    url: str
    checks: tuple[RecheckRecord, ...]

    @property
    def outcome(self) -> str:
        return self.checks[-1].outcome

    @property
    def last_checked(self) -> datetime:
        return self.checks[-1].checked_at

    @property
    def removed_at(self) -> datetime | None:
        return next((c.checked_at for c in self.checks if c.outcome == "removed"), None)

    def as_dict(self) -> dict[str, object]:
        return {"report_id": self.report_id, "sha256": self.sha256, "url": self.url, "outcome": self.outcome,
                "last_checked": self.last_checked, "removed_at": self.removed_at,
                "checks": [{"checked_at": c.checked_at, "outcome": c.outcome, "http_status": c.http_status,
                            "detail": c.detail} for c in self.checks]}
