"""Records of the exchange with partners and INTERPOL: partners, export candidates and the
ledger of delivered bundles, bundles received, re-send requests and unrouted locations.

Frozen dataclasses, plain values only (no SQLAlchemy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalog.decisions.records import Verdict


@dataclass(frozen=True)
class ExportCandidate:
    """An item with an exportable verdict that a destination has not received yet."""

    sha256: str
    verdict: Verdict
    verdict_id: int
    verdict_source: str
    actor: str
    decided_at: datetime
    kind: str
    mime: str | None
    size: int
    hashes: dict[str, str]
    sightings: tuple[dict[str, object], ...]
    provenance: dict[str, object] | None = None  # automatic verdicts: what produced it
    # analyst | analyst-confirmed | known-set-exact | known-set-near | own-decision-near (docs/bundle-format.md)
    verdict_basis: str = ""
    escalation: str | None = None  # new (new material) | update (sent as new, known now) | None
    evidence: dict[str, object] | None = None  # new material: first seen, hosting countries, grading


@dataclass(frozen=True)
class UnroutedLocation:
    """A location of a decided item whose hosting country is unknown (neither the media's
    nor the page's): no partner route takes it, so the operator routes it by hand."""

    sha256: str
    verdict: Verdict
    report_id: int
    media_url: str
    page_url: str
    ip: str | None
    page_ip: str | None
    seen_at: datetime


@dataclass(frozen=True)
class ExportEntry:
    """One delivered bundle in the export ledger."""

    bundle_id: str
    destination: str
    location: str
    items: int
    sha256: str
    size: int
    created_at: datetime
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Partner:
    """A partner hotline: the countries it handles, its public keys (base64 of the
    raw 32 bytes) and where its bundles go."""

    name: str
    countries: tuple[str, ...]
    encryption_key: str  # X25519: we encrypt to it
    signing_keys: tuple[str, ...]  # Ed25519: bundles it signs with any of these are its own
    destination: str  # directory path or s3://bucket/prefix
    endpoint_url: str | None = None
    media: bool = False  # the agreement lets media go to it
    hash_sets: bool = True  # it receives our confirmed hashes
    added_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class InboundEntry:
    """A bundle that reached us: imported, or refused with the reason."""

    id: int
    bundle_id: str | None
    partner: str | None
    location: str
    sha256: str
    size: int
    status: str  # imported | refused
    reason: str | None
    summary: dict[str, object] | None
    received_at: datetime


@dataclass(frozen=True)
class ResendRequest:
    """An explicit request to send an item to a destination again."""

    id: int
    destination: str
    sha256: str
    requested_at: datetime
    actor: str
    reason: str | None
    bundle_id: str | None  # the bundle that re-sent it, once sent
    sent_at: datetime | None


@dataclass(frozen=True)
class PartnerHandled:
    """A report or item of ours that a partner's list names: the partner's case (a report)
    or verdict (an item), since when."""

    partner: str
    report_id: int | None
    sha256: str | None
    case_ref: str | None
    state: str | None
    verdict: str | None
    since: datetime
    found_at: datetime
    grading: dict[str, object] | None = None  # an item: the partner's grading, as its list carried it


@dataclass(frozen=True)
class ListSource:
    """What our own handled list is made of, before keying: reports (ID, URL, status,
    received) and decided items (SHA-256, verdict, decided, and the grading the verdict was
    derived from: None when it was set by hand)."""

    reports: tuple[tuple[int, str, str, datetime], ...]
    items: tuple[tuple[str, str, datetime, dict[str, object] | None], ...]


WITHDRAWN = "withdrawn"
"""What a destination is told, in place of a verdict, when every verdict of an item it had
was withdrawn here (an automatic one whose source changed): the item is back in review."""


def correction_action(told: str) -> str:
    """What telling a destination ``told`` (a verdict, or ``WITHDRAWN``) is: a correction to
    an exportable verdict, a retraction to one that is not, or a withdrawal."""
    if told == WITHDRAWN:
        return "withdrawal"
    return "correction" if Verdict(told).exportable else "retraction"


@dataclass(frozen=True)
class CorrectionCandidate:
    """An item a destination had whose verdict changed since: the destination is told the
    new verdict (a correction), that the item should not have been sent (a retraction: the
    new verdict is not exportable), or that the verdict it had no longer stands while the
    item is reviewed again (a withdrawal: ``verdict`` is None)."""

    sha256: str
    verdict_id: int  # the new verdict; for a withdrawal, the newest verdict withdrawn
    previous: Verdict | None  # the verdict the destination has; None: it was told of a withdrawal
    verdict: Verdict | None
    reason: str | None
    decided_at: datetime  # of the new verdict, or of the withdrawal
    hashes: dict[str, str]

    @property
    def told_before(self) -> str:
        return WITHDRAWN if self.previous is None else self.previous.value

    @property
    def told(self) -> str:
        return WITHDRAWN if self.verdict is None else self.verdict.value

    @property
    def action(self) -> str:
        return correction_action(self.told)


@dataclass(frozen=True)
class Notice:
    """A re-notice of an item to a destination (notice 2 and on)."""

    destination: str
    sha256: str
    notice: int
    escalated: bool
    requested_at: datetime
    reason: str | None
    bundle_id: str | None  # the bundle that carried it, once sent
    sent_at: datetime | None


@dataclass(frozen=True)
class AbuseLocation:
    """A URL of a decided item (exportable verdict, confirmed under four-eyes) that no
    re-check found removed, with what routes it to an abuse contact: the media's host,
    address and hosting country."""

    sha256: str
    verdict_id: int
    media_url: str
    page_url: str
    ip: str | None
    country: str | None
    first_seen: datetime


@dataclass(frozen=True)
class AbuseNotice:
    """An item in a takedown notice e-mailed to an abuse contact: notice 1 is the first
    mail that named the item's URLs, re-notices count on from it."""

    contact: str  # the ledger name, abuse:<name>
    to: tuple[str, ...]  # the addresses it went to
    sha256: str
    reference: str  # the notice's reference (the ledger's bundle ID), quoted in replies
    notice: int
    escalated: bool
    sent_at: datetime
    urls: tuple[str, ...]  # the media URLs it named
