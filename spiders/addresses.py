"""Which addresses a crawl may reach: pure functions, no Scrapy, no network by default.

A reported URL is attacker-controlled, so the crawler must not be usable to reach the
hotline's own network (SSRF). A request may go out only if its scheme is http(s) and
*every* address its host resolves to is globally routable, unless its exact
``host:port`` is in the allow-list (tests allow their own 127.0.0.1 servers that way).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Resolves (host, port) to the IP addresses a connection could go to.
Resolver = Callable[[str, int], Sequence[str]]

DEFAULT_PORTS = {"http": 80, "https": 443}

# Cloud instance-metadata and platform endpoints. Most are link-local or private anyway;
# they are listed so the reason names them (and for the Azure wire server, which sits
# in public address space).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6 metadata
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
    )
)

# Carrier-grade NAT (RFC 6598), and NAT64 (RFC 6052) whose addresses embed an IPv4 one.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client; the server part is a public relay
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why a connection to ``ip`` is refused, as ``"<ip> is a <kind> address"``; None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = address_refusal(embedded)
            if inner is not None:
                return f"{ip} embeds {embedded}; {inner}"
    kind = _non_public_kind(ip)
    return None if kind is None else f"{ip} is {kind} address"


def _non_public_kind(ip: IPAddress) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "a cloud-metadata"
    if ip.is_loopback:
        return "a loopback"
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_link_local:
        return "a link-local"
    if ip.is_multicast:
        return "a multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in SHARED_ADDRESS_SPACE:
        return "a shared (carrier-grade NAT)"
    if ip.is_private:
        return "a private"
    if ip.is_reserved:
        return "a reserved"
    if not ip.is_global:
        return "a non-global"
    return None


def host_port(url: str) -> str:
    """``host:port`` of a URL as the allow-list spells it: lower-case host, explicit port,
    IPv6 hosts in brackets (``[::1]:8080``). Raises ValueError for a URL without a host."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    if port is None:
        raise ValueError(f"URL has no port and no default port: {url!r}")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``socket.getaddrinfo`` gives for ``host`` (raises ``socket.gaierror``)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _parse_ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id


def _literal_or_resolved(host: str, port: int, resolve: Resolver) -> list[str]:
    try:
        return [str(_parse_ip(host))]  # an IP literal needs no lookup
    except ValueError:
        return list(resolve(host, port))


@dataclass(frozen=True)
class Verdict:
    """The guard's decision on one URL: ``refused`` is None when the request may go out.
    ``unresolvable`` tells a DNS failure from a refusal proper; ``addresses`` are the ones
    checked (and, through ``spiders.pinning``, the only ones connected to)."""

    refused: str | None = None
    unresolvable: bool = False
    addresses: tuple[str, ...] = ()
    nxdomain: bool = False  # unresolvable because the name does not exist (not a DNS failure)


def _address_port(address: str, port: int) -> str:
    ip = str(_parse_ip(address))
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(frozen=True)
class AddressPolicy:
    """The allow-list plus the rules above. ``allow`` holds exact ``host:port`` strings.

    An entry allows a URL whose ``host:port`` is exactly that entry, and, when the entry's
    host is an IP address, a connection to exactly that address and port whatever name
    led there (``http://test-name:8123/`` resolving to an allowed ``127.0.0.1:8123``).
    The same address on another port, or another address, stays refused.
    """

    allow: frozenset[str] = frozenset()

    @classmethod
    def from_allow(cls, allow: Iterable[str]) -> AddressPolicy:
        return cls(frozenset(a.strip().lower() for a in allow if a.strip()))

    def is_allowed(self, url: str) -> bool:
        """Whether the URL's exact ``host:port`` is allow-listed."""
        try:
            return host_port(url) in self.allow
        except ValueError:
            return False

    def address_allowed(self, address: str, port: int) -> bool:
        """Whether a connection to ``address`` on ``port`` is allow-listed."""
        try:
            return _address_port(address, port) in self.allow
        except ValueError:
            return False

    def check_url(self, url: str, resolve: Resolver = system_resolver) -> Verdict:
        """Decide on ``url``, resolving its host with ``resolve`` (the crawl passes its
        ``PinTable``, so the addresses checked here are the ones connected to).

        Allow-listed URLs are resolved too (the connection needs the answer) but not
        judged; every other address must be public or an allow-listed address:port.
        """
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in DEFAULT_PORTS:
                return Verdict(
                    refused=f"refused: scheme {scheme!r} is not http or https"
                )
            key = host_port(url)
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            return Verdict(refused=f"refused: malformed URL ({exc})")
        host = parts.hostname or ""
        try:
            addresses = tuple(_literal_or_resolved(host, port, resolve))
        except (OSError, UnicodeError) as exc:
            return Verdict(
                refused=f"DNS lookup failed for {host!r} ({exc})", unresolvable=True,
                nxdomain=isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_NONAME,
            )
        if not addresses:
            return Verdict(
                refused=f"DNS lookup failed for {host!r} (no address)",
                unresolvable=True,
            )
        if key in self.allow:
            return Verdict(addresses=addresses)
        for text in addresses:
            if self.address_allowed(text, port):
                continue
            reason = self.address_refusal_text(host, text)
            if reason is not None:
                return Verdict(refused=reason, addresses=addresses)
        return Verdict(addresses=addresses)

    def check_peer(self, url: str, peer: IPAddress | None) -> str | None:
        """Re-check the address a response actually came from: a backstop behind the
        pinning, which should make it never fire. None when fine."""
        if peer is None or self.is_allowed(url):
            return None
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        if self.address_allowed(str(peer), port):
            return None
        reason = address_refusal(peer)
        if reason is None:
            return None
        host = parts.hostname or ""
        return f"refused: {host!r} connected to {peer}; {reason} (DNS answer changed after the check?)"

    @staticmethod
    def address_refusal_text(host: str, address: str) -> str | None:
        try:
            ip = _parse_ip(address)
        except ValueError:
            return f"refused: {host!r} resolved to something that is not an IP address ({address!r})"
        reason = address_refusal(ip)
        if reason is None:
            return None
        try:
            literal = _parse_ip(host.strip("[]")) == ip
        except ValueError:
            literal = False
        if literal:
            return f"refused: {reason}"
        return f"refused: {host!r} resolves to {ip}; {reason}"
