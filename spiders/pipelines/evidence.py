"""EvidencePipeline: media bytes go straight into the encrypted evidence store.

It turns each ``FetchedMedia`` into a ``StoredMedia`` (no bytes) once its magic bytes say
it is media, and drops the rest, counted. Bytes are never written anywhere else and
never logged. Other items pass through untouched.

Settings: ``EVIDENCE_STORE_ROOT`` (directory), ``EVIDENCE_STORE_KEY_FILE`` (data key file).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from catalog.records import CrawlError, MediaRecord
from evidence.store import EvidenceStore, LocalEvidenceStore, load_data_key
from spiders.items import FetchedMedia, StoredMedia
from spiders.magic import sniff

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class EvidencePipeline:
    """Stores media in an ``EvidenceStore``; counts ``hotline/media/*`` and ``hotline/evidence/*``."""

    def __init__(self, store: EvidenceStore, stats: StatsCollector) -> None:
        self.store = store
        self.stats = stats
        self._put_lock = threading.Lock()  # one put at a time, so "new" is counted once

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        root = crawler.settings.get("EVIDENCE_STORE_ROOT")
        key_file = crawler.settings.get("EVIDENCE_STORE_KEY_FILE")
        if not root or not key_file:
            # not NotConfigured: a crawl without its store must fail, not skip storing
            raise ValueError(
                "EVIDENCE_STORE_ROOT and EVIDENCE_STORE_KEY_FILE must be set"
            )
        assert crawler.stats is not None
        store = LocalEvidenceStore(Path(root), load_data_key(Path(key_file)))
        return cls(store, crawler.stats)

    def _put(self, body: bytes) -> tuple[str, bool]:
        sha256 = hashlib.sha256(body).hexdigest()
        with self._put_lock:
            existed = self.store.exists(sha256)
            if not existed:
                self.store.put(body)
        return sha256, not existed

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, FetchedMedia):
            return item
        media_type = sniff(item.body)
        if media_type is None:
            self.stats.inc_value("hotline/media/not_media")
            raise DropItem(
                f"not media (by its magic bytes): {item.media_url!r}", log_level="INFO"
            )
        try:
            # encryption and fsync run off the reactor thread
            sha256, new = await maybe_deferred_to_future(
                deferToThread(self._put, item.body)
            )
        except OSError as exc:
            self.stats.inc_value("hotline/evidence/failed")
            return CrawlError(
                item.media_url, f"could not store media: {exc}", stage="evidence"
            )
        self.stats.inc_value("hotline/media/stored")
        self.stats.inc_value(
            "hotline/evidence/new" if new else "hotline/evidence/existing"
        )
        record = MediaRecord(sha256, len(item.body), media_type.mime, media_type.kind)
        return StoredMedia(record, item.media_url, item.ip, item.fetched_at)
