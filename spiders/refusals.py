"""The errors that stop a request inside a crawl: Scrapy's ``IgnoreRequest`` with a reason
(the tree is drawn in ``spiders.errors``). Apart from the rest of the errors because they
subclass Scrapy's, and Scrapy is loaded by the crawl worker only."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest

from spiders.errors import SpidersError


class RequestRefused(SpidersError, IgnoreRequest):
    """The address guard refused to send a request; the message is the reason."""


class AddressRefused(RequestRefused):
    """The URL's scheme is not http(s), or its host is (or resolves to) a non-public address."""


class HostUnresolvable(RequestRefused):
    """The URL's host name could not be resolved; ``nxdomain`` when the name does not exist
    (as opposed to a DNS server that failed or did not answer)."""

    def __init__(self, message: str, *, nxdomain: bool = False) -> None:
        super().__init__(message)
        self.nxdomain = nxdomain


class StorePaused(SpidersError, IgnoreRequest):
    """A media request was not sent because the evidence store failed too many times in a
    row; the spider keeps its URL as pending instead of recording an error."""
