"""Typed records that cross package boundaries.

Frozen dataclasses, plain values only (hex strings for hashes, ISO country codes, UTC
datetimes). They carry references to media (SHA-256 hex), never media bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Verdict(enum.StrEnum):
    """An item's outcome. ``BASELINE`` is INTERPOL's baseline; ``NATIONAL`` is illegal
    under this hotline's national law only."""

    BASELINE = "baseline"
    NATIONAL = "national"
    NOT_ILLEGAL = "not-illegal"

    @property
    def exportable(self) -> bool:
        return self in (Verdict.BASELINE, Verdict.NATIONAL)


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
    # issue 4: how the page was seen
    view: str | None = None  # direct | pathway (reached through the report's pathway) | step
    referer: str | None = None  # the Referer header sent
    headers: dict[str, str] = field(default_factory=dict)  # response headers that matter


@dataclass(frozen=True)
class MediaRecord:
    """A media file stored in the evidence store, keyed by the SHA-256 of its bytes."""

    sha256: str
    size: int
    mime: str | None = None
    kind: str = "image"  # image | video


@dataclass(frozen=True)
class SightingRecord:
    """Where a media item was seen: on which page, at which URL, served by which host."""

    sha256: str
    media_url: str
    page_url: str
    ip: str | None = None
    country: str | None = None
    seen_at: datetime | None = None
    # issue 4: the media URL's own fetch
    final_url: str | None = None
    redirects: tuple[str, ...] = ()
    http_status: int | None = None
    content_type: str | None = None  # as the server claimed; media.mime is from the bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CrawlError:
    """Something that went wrong during a crawl, with a reason a person can read."""

    url: str
    reason: str
    stage: str = "crawl"


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


@dataclass(frozen=True)
class HashRecord:
    """One perceptual or cryptographic hash of a media item, as a hex string."""

    sha256: str
    algorithm: str  # md5 | sha1 | sha256 | pdq | phash
    value: str
    quality: int | None = None


@dataclass(frozen=True)
class MatchRecord:
    """A media item found in a known-hash set."""

    sha256: str
    set_name: str
    match_type: str  # md5 | sha1 | sha256 | pdq
    distance: int
    verdict: Verdict
    known_id: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Report:
    """A reported URL and what became of it."""

    id: int
    url: str
    source: str
    status: str  # pending | processing | done | failed
    received_at: datetime
    processed_at: datetime | None = None
    error: str | None = None
    referer: str | None = None
    pathway: tuple[str, ...] = ()  # issue 4: pages the reporter went through, in order
    user_agent: str | None = None  # issue 4: the reporter's browser, replayed by the crawler


@dataclass(frozen=True)
class ReportError:
    """A reason recorded on a report: an unreachable URL, a corrupt image, an empty page."""

    report_id: int
    stage: str  # crawl | hash | match
    reason: str
    url: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class QueueItem:
    """An unknown media item waiting for an analyst."""

    sha256: str
    kind: str
    mime: str | None
    size: int
    first_seen_at: datetime
    report_ids: tuple[int, ...]
    urls: tuple[str, ...]
    pdq: str | None = None


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one media item: its status, current verdict and where it came from."""

    sha256: str
    status: str
    verdict: Verdict | None
    verdict_source: str | None  # analyst | known-set
    set_name: str | None
    actor: str | None
    urls: tuple[str, ...]
    error: str | None = None
    reason: str | None = None  # the verdict's reason, e.g. "pdq match, distance 8"


@dataclass(frozen=True)
class KnownSetEntry:
    """A known-hash set registered in the catalog."""

    name: str
    verdict: Verdict
    path: str
    rows: int
    content_sha256: str
    pdq_threshold: int
    enabled: bool
    source: str | None
    imported_at: datetime


@dataclass(frozen=True)
class ExportCandidate:
    """An item with an exportable verdict that a destination has not received yet."""

    sha256: str
    verdict: Verdict
    verdict_id: int
    verdict_source: str
    actor: str
    decided_at: datetime
    kind: str
    mime: str | None
    size: int
    hashes: dict[str, str]
    sightings: tuple[dict[str, object], ...]


@dataclass(frozen=True)
class ExportEntry:
    """One delivered bundle in the export ledger."""

    bundle_id: str
    destination: str
    location: str
    items: int
    sha256: str
    size: int
    created_at: datetime
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Partner:
    """A partner hotline (issue 6): the countries it handles, its public keys (base64 of the
    raw 32 bytes) and where its bundles go."""

    name: str
    countries: tuple[str, ...]
    encryption_key: str  # X25519: we encrypt to it
    signing_keys: tuple[str, ...]  # Ed25519: bundles it signs with any of these are its own
    destination: str  # directory path or s3://bucket/prefix
    endpoint_url: str | None = None
    media: bool = False  # the agreement lets media go to it
    hash_sets: bool = True  # it receives our confirmed hashes
    added_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class InboundEntry:
    """A bundle that reached us: imported, or refused with the reason."""

    id: int
    bundle_id: str | None
    partner: str | None
    location: str
    sha256: str
    size: int
    status: str  # imported | refused
    reason: str | None
    summary: dict[str, object] | None
    received_at: datetime


@dataclass(frozen=True)
class ResendRequest:
    """An explicit request to send an item to a destination again."""

    id: int
    destination: str
    sha256: str
    requested_at: datetime
    actor: str
    reason: str | None
    bundle_id: str | None  # the bundle that re-sent it, once sent
    sent_at: datetime | None
