"""Where a response came from: the hosting country of its IP address, and the response
headers worth keeping as evidence. Pure functions, no network.

The country comes from ``iptocc``, an offline IP-to-country table built from the five
Regional Internet Registries' delegation files and shipped inside the wheel: the country
a block is *registered* to, which for hosting addresses is nearly always where the server
is (and what a hotline's notice-and-takedown partner is chosen by). Non-public addresses
(127.0.0.1 in tests) have no country.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from iptocc import country_code

from spiders.addresses import address_refusal

# Response headers that say who serves the content and how; kept on pages and sightings.
RECORDED_HEADERS = (
    "Server", "Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition",
    "Last-Modified", "ETag", "Location", "Refresh", "X-Powered-By", "Via", "X-Cache",
    "CF-Ray", "CF-Cache-Status", "X-Served-By", "X-Amz-Cf-Id", "Age", "Date",
)  # fmt: skip
MAX_HEADER_VALUE = 300


def country_of(ip: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of the country ``ip`` is registered to; None when unknown,
    not an address, or not a public address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if address_refusal(address) is not None:
        return None
    code = country_code(str(address))
    return code.upper() if code and len(code) == 2 and code.isalpha() else None


def recorded_headers(pairs: Iterable[tuple[bytes | str, Iterable[bytes | str]]]) -> dict[str, str]:
    """The ``RECORDED_HEADERS`` among ``pairs`` (name, values), values joined with ", "
    and cut to ``MAX_HEADER_VALUE`` characters; names as spelled in ``RECORDED_HEADERS``."""
    wanted = {name.lower(): name for name in RECORDED_HEADERS}
    out: dict[str, str] = {}
    for raw_name, raw_values in pairs:
        name = _text(raw_name).lower()
        if name not in wanted:
            continue
        value = ", ".join(_text(v) for v in raw_values)
        out[wanted[name]] = value if len(value) <= MAX_HEADER_VALUE else value[: MAX_HEADER_VALUE - 3] + "..."
    return out


def _text(value: bytes | str) -> str:
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)
