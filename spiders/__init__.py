"""The spiders: fetch reported pages and collect their media into the evidence store, safely.

One job: given a reported URL (``CrawlRequest``), fetch it and the media it is or links
to, put every media file straight into the encrypted evidence store, and describe what
was found (``catalog.reports.records.CrawlResult``): pages, media by SHA-256, sightings, and a
readable reason for everything that failed. Each crawl runs in its own process
(``python -m spiders.worker``) because Scrapy's reactor cannot restart in one process.

Safety: requests go only to public addresses (``spiders.addresses``, enforced on every
request and redirect by ``AddressGuardMiddleware``) unless an exact ``host:port`` is
allow-listed, and connections go only to the addresses checked (``spiders.pinning``);
limits bound every request and the whole crawl; media bytes are never written in
plaintext nor logged. ``spiders.takedown_recheck`` fetches confirmed items' URLs again for
takedown tracking.

May import: the standard library, Scrapy/Twisted, Pillow (image dimensions), PyAV (a video's
declared frame size, imported only when a crawl meets a video), iptocc (offline
IP-to-country), pydantic (the result JSON, ``spiders.codec``), ``catalog`` and ``evidence``. Not ``hashing``: a crawl worker starts once per
report and must stay light, so the few lines that read a video's frame size are its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from spiders.errors import InvalidCrawlRequest, SpidersError
    from spiders.request import CrawlRequest
    from spiders.runner import crawl

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "errors": ["InvalidCrawlRequest", "SpidersError"],
    "request": ["CrawlRequest"],
    "runner": ["crawl"],
})[0]


__all__ = ["CrawlRequest", "InvalidCrawlRequest", "SpidersError", "crawl"]
