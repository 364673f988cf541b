"""DNS pinning: every connection goes to an address the address guard has checked.

A host is resolved once per crawl (``PinTable.addresses``) and its answer is pinned: the
guard checks the pinned addresses, and ``PinnedResolver``, installed on the Twisted reactor
in place of Scrapy's resolver (``TWISTED_DNS_RESOLVER``), answers every connection attempt
from the same pins and never resolves by itself. A DNS server that answers a public
address to the check and a private one to the connection (DNS rebinding) therefore gets
no second question. The URL is unchanged, so the Host header and TLS SNI stay those of
the host name.

Each crawl runs in its own process, so the table of pins is process-wide
(``PROCESS_PINS``), shared by the guard (built per crawler) and the resolver (built per
process by Scrapy).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IHostnameResolver,
    IHostResolution,
)
from zope.interface import implementer

from spiders.addresses import Resolver, system_resolver

if TYPE_CHECKING:
    from typing import Self


class PinTable:
    """Host name -> the addresses it resolved to the first time this crawl asked.

    ``resolve`` is what asks DNS (the system resolver, or a scripted one in tests); it is
    called at most once per host, whatever the answer was. A failed lookup is not pinned,
    so it may be tried again by a later request.
    """

    def __init__(self, resolve: Resolver = system_resolver) -> None:
        self.resolve = resolve
        self._pins: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """The pinned addresses of ``host``, resolving it now if it has none yet
        (raises what ``resolve`` raises; blocks, so call it off the reactor thread)."""
        key = _key(host)
        with self._lock:  # one lookup per host, even for concurrent first requests
            pinned = self._pins.get(key)
            if pinned is None:
                self.lookups += 1
                pinned = tuple(self.resolve(host, port))
                if pinned:
                    self._pins[key] = pinned
            return pinned

    def answers_now(self, host: str) -> bool:
        """Whether ``addresses(host, ...)`` would answer without a lookup (pinned already,
        or an IP literal), so a caller on the reactor thread may call it directly."""
        return bool(_literal(host)) or bool(self.pinned(host))

    def pinned(self, host: str) -> tuple[str, ...]:
        """The pinned addresses of ``host``, or ``()``: never resolves."""
        with self._lock:
            return self._pins.get(_key(host), ())


def _key(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


def scripted_resolver(answers: Mapping[str, Sequence[Sequence[str] | float]]) -> Resolver:
    """A resolver for tests that never touches DNS: each lookup of a host returns its next
    answer in ``answers[host]`` (the last one repeats), e.g. a public address first and a
    private one afterwards, as a rebinding DNS server would. An answer that is a number is
    a DNS server that does not answer: the lookup hangs that many seconds, then fails.
    A host whose answers are empty does not exist (NXDOMAIN); unknown hosts fail as a
    broken DNS server would."""
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def resolve(host: str, port: int) -> list[str]:
        key = _key(host)
        if key not in answers:
            raise OSError(f"no scripted answer for {host!r}")
        if not answers[key]:
            raise socket.gaierror(socket.EAI_NONAME, f"{host!r} does not exist (scripted NXDOMAIN)")
        with lock:
            n = calls.get(key, 0)
            calls[key] = n + 1
        answer = answers[key][min(n, len(answers[key]) - 1)]
        if isinstance(answer, (int, float)):
            time.sleep(answer)
            raise OSError(f"no answer for {host!r}")
        return list(answer)

    return resolve


# The pins of the crawl running in this process (one crawl per process).
PROCESS_PINS = PinTable()


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:  # answers are immediate; nothing to cancel
        return None


def _literal(host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0])),)
    except ValueError:
        return ()


def _twisted_address(text: str, port: int) -> IPv4Address | IPv6Address:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        return IPv6Address("TCP", str(ip), port)
    return IPv4Address("TCP", str(ip), port)


@implementer(IHostnameResolver)
class PinnedResolver:
    """The reactor's name resolver during a crawl: answers only with pinned addresses.

    A host without pins (a connection the guard did not check first) gets no address,
    which Twisted reports as a DNS lookup failure. IP literals are answered as themselves.
    """

    def __init__(self, reactor: Any, pins: PinTable) -> None:
        self.reactor = reactor
        self.pins = pins
        self.refused: list[str] = []  # hosts asked for without pins (for tests and logs)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> Self:
        return cls(reactor, PROCESS_PINS)

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(
        self,
        resolutionReceiver: Any,  # an IResolutionReceiver (zope interfaces are opaque to mypy)
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[Any]] | None = None,
        transportSemantics: str = "TCP",
    ) -> _Resolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        # An IP literal needs no DNS, so there is nothing to rebind: the guard checked it.
        pinned = _literal(hostName) or self.pins.pinned(hostName)
        if not pinned:
            self.refused.append(hostName)
        for text in pinned:
            address = _twisted_address(text, portNumber)
            if addressTypes is None or type(address) in addressTypes:
                resolutionReceiver.addressResolved(address)
        resolutionReceiver.resolutionComplete()
        return resolution
