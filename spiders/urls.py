"""One identity per URL: the form in which a crawl requests, deduplicates and records a URL.

A page names a resource in many spellings (``café.jpg``, ``caf%c3%a9.jpg``,
``../img/café.jpg#top``, a host in Unicode or in punycode); Scrapy requests the form
w3lib's ``safe_url_string`` gives it. ``normalise_url`` turns every spelling into that
form, a little further reduced, so that what the spider asks for, what it remembers having
asked for, and what it records as seen are one string: made absolute against the page,
fragment dropped, scheme and host lower-case, IDN hosts in punycode, default ports
dropped, ``.`` and ``..`` segments resolved, unsafe characters (spaces, non-ASCII, ``|``,
``<``, quotes) percent-encoded as a browser sends them, and escapes in upper-case hex.
Escapes are never decoded: ``%2F`` and ``/`` may name different resources.

The result is a fixed point of ``safe_url_string`` (Scrapy's ``Request`` keeps it as is),
and of ``normalise_url`` itself.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

from spiders.addresses import DEFAULT_PORTS

FETCHED_SCHEMES = frozenset({"http", "https"})

# Schemes a page may point at that fetch something, which the crawler refuses to follow:
# a link to one is recorded as refused, never silently dropped. Links that fetch nothing
# (javascript:, mailto:, tel:, data: ...) are not worth a word.
REFUSED_SCHEMES = frozenset({
    "file", "gopher", "ftp", "ftps", "sftp", "smb", "cifs", "nfs", "tftp", "dict", "ldap",
    "ldaps", "telnet", "jar", "netdoc", "ws", "wss", "rtsp", "rtmp", "mms",
})  # fmt: skip

_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, as browsers apply it to absolute URLs too."""
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out) or "/"


def _netloc(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the spelling, the guard refuses it
        return parts.netloc.lower()
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme):
        netloc = f"{netloc}:{port}"
    return netloc


def normalise_url(raw: str, base: str | None = None) -> str | None:
    """``raw`` (as found on a page whose base URL is ``base``) in the crawl's one form; None
    when it is empty, not http(s), or not a URL at all."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        absolute = urljoin(base, raw) if base else raw
        safe = safe_url_string(absolute)
        parts = urlsplit(safe)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    scheme = parts.scheme.lower()
    if scheme not in FETCHED_SCHEMES or not parts.hostname:
        return None
    path = _remove_dot_segments(parts.path) or "/"
    try:
        netloc = _netloc(parts)
    except ValueError:
        return None
    url = urlunsplit((scheme, netloc, path, parts.query, ""))
    return _ESCAPE.sub(lambda m: m.group(0).upper(), url)


def refused_scheme(raw: str) -> str | None:
    """The scheme of ``raw`` when it is one the crawler refuses to fetch (``file``,
    ``gopher``, ``ftp`` ...), else None."""
    m = _SCHEME.match(raw)
    if m is None:
        return None
    scheme = m.group(1).lower()
    return scheme if scheme in REFUSED_SCHEMES else None
