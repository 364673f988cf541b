"""AddressGuardMiddleware: the crawler's SSRF guard.

Every request that is about to be downloaded passes ``process_request`` here, including
the new requests RedirectMiddleware and MetaRefreshMiddleware make from a redirect (they
are scheduled again and go through the whole chain). The guard sits last before the
download handler (priority 990) so it sees each request as it will be sent.

Settings: ``ADDRESSGUARD_ALLOW`` (list of exact ``host:port`` strings that may be local).

Known gap: the download handler resolves the host again when it connects, so a DNS
answer that changes between the check and the connection (DNS rebinding) is not
prevented; ``process_response`` then refuses the response from a non-public peer, so its
body never reaches the spider, but the request has been sent. Pinning the connection to
the checked address is later work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from spiders.addresses import AddressPolicy, Resolver, Verdict, system_resolver
from spiders.errors import AddressRefused, HostUnresolvable

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector


class AddressGuardMiddleware:
    """Refuses requests to non-public addresses unless their ``host:port`` is allow-listed."""

    def __init__(
        self,
        policy: AddressPolicy,
        stats: StatsCollector,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.policy = policy
        self.stats = stats
        self.resolve = resolve

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        policy = AddressPolicy.from_allow(
            crawler.settings.getlist("ADDRESSGUARD_ALLOW")
        )
        assert crawler.stats is not None
        return cls(policy, crawler.stats)

    async def process_request(self, request: Request) -> None:
        # getaddrinfo blocks, so it runs in the reactor's thread pool.
        verdict: Verdict = await maybe_deferred_to_future(
            deferToThread(self.policy.check_url, request.url, self.resolve)
        )
        if verdict.refused is None:
            self.stats.inc_value("hotline/guard/passed")
            return
        if verdict.unresolvable:
            self.stats.inc_value("hotline/guard/unresolvable")
            raise HostUnresolvable(verdict.refused)
        self.stats.inc_value("hotline/guard/refused")
        raise AddressRefused(verdict.refused)

    def process_response(self, request: Request, response: Response) -> Response:
        reason = self.policy.check_peer(request.url, response.ip_address)
        if reason is not None:
            self.stats.inc_value("hotline/guard/refused_peer")
            raise AddressRefused(reason)
        return response
