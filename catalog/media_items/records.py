"""Records of media and their sightings: items (keyed by the SHA-256 of their bytes), where
each was seen, their hashes, and the items that fail or lost their sightings.

Frozen dataclasses, plain values only; light enough for a crawl worker (no SQLAlchemy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    # the media URL's own fetch
    final_url: str | None = None
    redirects: tuple[str, ...] = ()
    http_status: int | None = None
    content_type: str | None = None  # as the server claimed; media.mime is from the bytes
    headers: dict[str, str] = field(default_factory=dict)
    # the page it was seen on: a page in one country may embed media served from another
    page_host: str | None = None
    page_ip: str | None = None
    page_country: str | None = None


@dataclass(frozen=True)
class HashRecord:
    """One perceptual or cryptographic hash of a media item, as a hex string."""

    sha256: str
    algorithm: str  # md5 | sha1 | sha256 | pdq | phash
    value: str
    quality: int | None = None


# per-frame PDQ of videos and animated images
@dataclass(frozen=True)
class FrameHashRecord:
    """The PDQ hash of one sampled frame of a video or animation, ``t`` seconds in;
    ``view``: ``None`` for the frame as hashed, else another view of it (``mirrored``,
    ``uncut``: see ``hashing.frames.VIEWS``)."""

    sha256: str
    index: int
    t: float
    pdq: str
    quality: int
    view: str | None = None


@dataclass(frozen=True)
class FailingItem:
    sha256: str
    status: str  # new (to be tried again) or error (quarantined)
    attempts: int
    reason: str | None


@dataclass(frozen=True)
class Repair:
    """What ``reattach_media`` did."""

    reattached: tuple[str, ...]  # SHA-256s given a sighting
    unattached: tuple[str, ...]  # items without a sighting and without a crawl that recorded them
    reports: tuple[int, ...]  # reports put back to pending
