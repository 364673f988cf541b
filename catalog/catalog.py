"""``Catalog``: one object over the catalog's tables, a mixin per area."""

from __future__ import annotations

from catalog.audit import AuditMixin
from catalog.claims import ClaimsMixin
from catalog.clusters import ClustersMixin
from catalog.exchange import ExchangeMixin
from catalog.faults import FaultsMixin
from catalog.integrity import IntegrityMixin
from catalog.known import KnownSetsMixin
from catalog.ledger import LedgerMixin
from catalog.media import MediaMixin
from catalog.pending import PendingMixin
from catalog.rechecks import RechecksMixin
from catalog.reports import ReportsMixin
from catalog.retention import RetentionMixin
from catalog.review import ReviewMixin
from catalog.rules import RulesMixin
from catalog.users import UsersMixin


class Catalog(ReportsMixin, ClaimsMixin, MediaMixin, ReviewMixin, KnownSetsMixin, LedgerMixin, ExchangeMixin,
              RetentionMixin, ClustersMixin, UsersMixin, RulesMixin, RechecksMixin, FaultsMixin, IntegrityMixin,
              PendingMixin, AuditMixin):
    """The catalog at a SQLAlchemy URL. Each method is one transaction."""
