"""EvidencePipeline: media bytes go straight into the encrypted evidence store.

It turns each ``FetchedMedia`` into a ``StoredMedia`` (no bytes) once its magic bytes say
it is media; anything else (an empty body, text, an unknown format) becomes a ``content``
CrawlError that says what arrived instead, and is counted. An image whose header, or a video whose
container, declares more pixels (a frame's, for a video) than ``EVIDENCE_MAX_PIXELS`` (a
decompression bomb, or far beyond anything a hasher should decode) is not stored: it
becomes a ``limit`` CrawlError. Media too broken to read its size is stored all the same:
hashing records why it cannot be hashed. Bytes are never
written anywhere else and never logged. Other items pass through untouched.

Media the store fails to take (a full disk, a storage outage) become ``UnstoredMedia``:
kept pending for the next run, never dropped. After ``EVIDENCE_MAX_FAILURES`` failures in a
row the pipeline stops trying (``PAUSED`` is set in the crawl's stats, which also stops
``StorePauseMiddleware`` from fetching more media): the rest of the crawl's media is kept
pending without burning through the store's retries item by item.

Settings: ``EVIDENCE_STORE`` (an ``evidence.EvidenceSpec`` as a dict: a directory or an S3
prefix, and the data key file), ``EVIDENCE_MAX_PIXELS`` (default 100 million),
``EVIDENCE_MAX_FAILURES`` (default 5).
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import warnings
from typing import TYPE_CHECKING, Any

from PIL import Image
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from catalog.media_items.records import MediaRecord
from catalog.reports.records import CrawlError
from evidence.errors import EvidenceError
from evidence.spec import EvidenceSpec
from evidence.store import EvidenceStore
from spiders.items import FetchedMedia, StoredMedia, UnstoredMedia
from spiders.magic import sniff

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

DEFAULT_MAX_PIXELS = 100_000_000

# Pillow's DEBUG log describes a file's inner structure (chunk names, offsets): keep it out.
logging.getLogger("PIL").setLevel(logging.INFO)


def pixel_refusal(body: bytes, max_pixels: int) -> str | None:
    """Why an image is refused for its pixel count (read from its header, never decoded);
    None when within ``max_pixels`` or when its size cannot be read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: we decide ourselves
        try:
            with Image.open(io.BytesIO(body)) as image:
                width, height = image.size
        except Image.DecompressionBombError:
            return f"image has more pixels than max_pixels ({max_pixels}); a decompression bomb?"
        except Exception:  # noqa: BLE001 - a broken image is hashing's to report
            return None
    if width * height > max_pixels:
        return f"image is {width}x{height} ({width * height} pixels), more than max_pixels ({max_pixels})"
    return None


def video_pixel_refusal(body: bytes, max_pixels: int) -> str | None:
    """Why a video is refused for its frame size (from the container's stream header; no
    frame is decoded); None when within ``max_pixels`` or when the container cannot be read."""
    import av  # only crawls that meet a video pay for the import

    try:
        with av.open(io.BytesIO(body), mode="r") as container:
            if not container.streams.video:
                return None
            context = container.streams.video[0].codec_context
            width, height = context.width, context.height
    except Exception:  # noqa: BLE001 - a broken video is hashing's to report
        return None
    if width * height > max_pixels:
        return f"video frames are {width}x{height} ({width * height} pixels), more than max_pixels ({max_pixels})"
    return None


PAUSED = "hotline/evidence/paused"  # stats key: 1 once storing has been given up for this crawl
DEFAULT_MAX_FAILURES = 5


def not_media_reason(item: FetchedMedia) -> str:
    """Why ``item`` is not stored: what arrived instead (its size and claimed type, never
    its bytes)."""
    claimed = f", Content-Type {item.fetch.content_type!r}" if item.fetch.content_type else ""
    if not item.body:
        return f"empty response (0 bytes, HTTP {item.fetch.status}{claimed})"
    return f"not media by its magic bytes ({len(item.body)} bytes, HTTP {item.fetch.status}{claimed})"


class EvidencePipeline:
    """Stores media in an ``EvidenceStore``; counts ``hotline/media/*`` and ``hotline/evidence/*``."""

    def __init__(
        self,
        store: EvidenceStore,
        stats: StatsCollector,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        self.store = store
        self.stats = stats
        self.max_pixels = max_pixels
        self.max_failures = max_failures
        self._failures_in_row = 0  # guarded by _locks_lock, like _paused: puts run in threads
        self._paused: str | None = None  # why storing was given up, once it has been
        # puts of different items run in parallel (sealing and fsync dominate a crawl's
        # cost); puts of the same item wait for each other, so "new" is counted once
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        spec = crawler.settings.getdict("EVIDENCE_STORE")
        if not spec:
            # not NotConfigured: a crawl without its store must fail, not skip storing
            raise ValueError("EVIDENCE_STORE must be set")
        assert crawler.stats is not None
        store = EvidenceSpec.from_dict(spec).open()
        max_pixels = crawler.settings.getint("EVIDENCE_MAX_PIXELS", DEFAULT_MAX_PIXELS)
        max_failures = crawler.settings.getint("EVIDENCE_MAX_FAILURES", DEFAULT_MAX_FAILURES)
        return cls(store, crawler.stats, max_pixels, max_failures)

    def _put(self, body: bytes) -> tuple[str, bool] | None:
        """Store ``body`` (in a reactor pool thread); None, without trying, once storing has
        been given up. Failures are counted here, as they happen, so that puts still waiting
        for a thread see the pause at once."""
        sha256 = hashlib.sha256(body).hexdigest()
        with self._locks_lock:
            if self._paused is not None:
                return None
            lock = self._locks.setdefault(sha256, threading.Lock())
        try:
            with lock:
                stored = self.store.add(body)
        except (OSError, EvidenceError) as exc:  # a full disk; S3 failing after its retries
            with self._locks_lock:
                self._failures_in_row += 1
                if self._paused is None and self._failures_in_row >= self.max_failures:
                    self._paused = (f"not stored: the evidence store failed {self._failures_in_row} "
                                    f"times in a row; last: could not store media: {exc}")
            raise
        with self._locks_lock:
            self._failures_in_row = 0
        return stored

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, FetchedMedia):
            return item
        media_type = sniff(item.body)
        if media_type is None:
            self.stats.inc_value("hotline/media/not_media")
            return CrawlError(item.media_url, not_media_reason(item), stage="content")
        if media_type.kind == "image":
            refusal = pixel_refusal(item.body, self.max_pixels)
        else:  # opening a container takes longer than an image header: off the reactor thread
            refusal = await maybe_deferred_to_future(
                deferToThread(video_pixel_refusal, item.body, self.max_pixels)
            )
        if refusal is not None:
            self.stats.inc_value("hotline/limit/max_pixels")
            return CrawlError(item.media_url, refusal, stage="limit")
        try:
            # encryption and fsync run off the reactor thread
            stored = await maybe_deferred_to_future(deferToThread(self._put, item.body))
        except (OSError, EvidenceError) as exc:
            self.stats.inc_value("hotline/evidence/failed")
            stored, reason = None, f"could not store media: {exc}"
        else:
            reason = self._paused or ""
            if stored is None:  # fetched before storing was given up
                self.stats.inc_value("hotline/evidence/not_tried")
        if self._paused is not None:
            self.stats.set_value(PAUSED, 1)  # the middleware stops fetching media
        if stored is None:
            return UnstoredMedia(item.media_url, reason)
        sha256, new = stored
        self.stats.inc_value("hotline/media/stored")
        self.stats.inc_value(
            "hotline/evidence/new" if new else "hotline/evidence/existing"
        )
        record = MediaRecord(sha256, len(item.body), media_type.mime, media_type.kind)
        return StoredMedia(record, item.sighting, item.fetch)
