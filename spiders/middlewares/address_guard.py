"""AddressGuardMiddleware: the crawler's SSRF guard.

Every request that is about to be downloaded passes ``process_request`` here, including
the new requests RedirectMiddleware makes from a redirect (they are scheduled again and go
through the whole chain). The guard sits last before the download handler (priority 990)
so it sees each request as it will be sent.

The host is resolved through the crawl's ``PinTable`` (``spiders.pinning``): the addresses
checked here are pinned, and the reactor's resolver answers the connection with exactly
those, so a DNS answer that changes after the check (DNS rebinding) is never used.
``process_response`` re-checks the address the response came from, as a backstop.

Settings: ``ADDRESSGUARD_ALLOW`` (list of exact ``host:port`` strings that may be local),
``DNS_TIMEOUT`` (seconds a first lookup may take; the request fails after that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import defer
from twisted.internet.threads import deferToThread

from spiders.addresses import AddressPolicy
from spiders.pinning import PROCESS_PINS, PinTable
from spiders.refusals import AddressRefused, HostUnresolvable

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector


class AddressGuardMiddleware:
    """Refuses requests to non-public addresses unless allow-listed; pins what it checked."""

    def __init__(
        self, policy: AddressPolicy, stats: StatsCollector, pins: PinTable, dns_timeout_s: float = 20.0
    ) -> None:
        self.policy = policy
        self.stats = stats
        self.pins = pins
        self.dns_timeout_s = dns_timeout_s

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        policy = AddressPolicy.from_allow(
            crawler.settings.getlist("ADDRESSGUARD_ALLOW")
        )
        assert crawler.stats is not None
        return cls(policy, crawler.stats, PROCESS_PINS, crawler.settings.getfloat("DNS_TIMEOUT", 20.0))

    async def process_request(self, request: Request) -> None:
        if self.pins.answers_now(urlparse_cached(request).hostname or ""):
            verdict = self.policy.check_url(request.url, self.pins.addresses)
        else:  # a first lookup: getaddrinfo blocks, so it runs in the reactor's thread pool
            from twisted.internet import reactor

            lookup = deferToThread(self.policy.check_url, request.url, self.pins.addresses)
            try:
                verdict = await maybe_deferred_to_future(lookup.addTimeout(self.dns_timeout_s, reactor))
            except defer.TimeoutError:
                self.stats.inc_value("hotline/guard/unresolvable")
                host = urlparse_cached(request).hostname
                raise HostUnresolvable(
                    f"DNS lookup failed for {host!r} (no answer within {self.dns_timeout_s:g} s)"
                ) from None
        self.stats.set_value("hotline/guard/dns_lookups", self.pins.lookups)
        if verdict.refused is None:
            self.stats.inc_value("hotline/guard/passed")
            return
        if verdict.unresolvable:
            self.stats.inc_value("hotline/guard/unresolvable")
            raise HostUnresolvable(verdict.refused, nxdomain=verdict.nxdomain)
        self.stats.inc_value("hotline/guard/refused")
        raise AddressRefused(verdict.refused)

    def process_response(self, request: Request, response: Response) -> Response:
        reason = self.policy.check_peer(request.url, response.ip_address)
        if reason is not None:
            self.stats.inc_value("hotline/guard/refused_peer")
            raise AddressRefused(reason)
        return response
