"""``Catalog``: the one object over the catalog's tables, composed of the area stores, as
hasher-matcher-actioner's unified store implements every store interface. A caller that
needs one area only can take that store's type (``ReviewStore``, ``ReportStore`` ...)."""

from __future__ import annotations

from catalog.decisions.store import ReviewStore
from catalog.exchange_ledger.store import ExchangeStore
from catalog.known_sets.store import KnownSetStore
from catalog.media_items.store import MediaStore
from catalog.reports.store import ReportStore
from catalog.users.store import UserStore


class Catalog(ReportStore, MediaStore, KnownSetStore, ReviewStore, ExchangeStore, UserStore):
    """The catalog at a SQLAlchemy URL. Each method is one transaction."""
