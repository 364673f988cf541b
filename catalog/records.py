"""Typed records that cross package boundaries.

Frozen dataclasses, plain values only (hex strings for hashes, ISO country codes, UTC
datetimes). They carry references to media (SHA-256 hex), never media bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Verdict(enum.StrEnum):
    """An item's outcome. ``BASELINE`` is INTERPOL's baseline; ``NATIONAL`` is illegal
    under this hotline's national law only. ``UNDETERMINED``: the grading leaves the age
    group or the depiction unclear and the outcome depends on it; a senior decides."""

    BASELINE = "baseline"
    NATIONAL = "national"
    NOT_ILLEGAL = "not-illegal"
    UNDETERMINED = "undetermined"

    @property
    def exportable(self) -> bool:
        return self in (Verdict.BASELINE, Verdict.NATIONAL)


REVIEW = "review"
"""A known-set category whose matches go to review: the match is a hint, not a verdict."""


@dataclass(frozen=True)
class PageRecord:
    """One fetched HTML page (or media URL) of a crawl."""

    url: str
    final_url: str
    status: int
    ip: str | None = None
    country: str | None = None
    content_type: str | None = None
    size: int = 0
    fetched_at: datetime | None = None
    redirects: tuple[str, ...] = ()
    # how the page was seen
    view: str | None = None  # direct | pathway (reached through the report's pathway) | step
    referer: str | None = None  # the Referer header sent
    headers: dict[str, str] = field(default_factory=dict)  # response headers that matter


@dataclass(frozen=True)
class MediaRecord:
    """A media file stored in the evidence store, keyed by the SHA-256 of its bytes."""

    sha256: str
    size: int
    mime: str | None = None
    kind: str = "image"  # image | video


@dataclass(frozen=True)
class SightingRecord:
    """Where a media item was seen: on which page, at which URL, served by which host."""

    sha256: str
    media_url: str
    page_url: str
    ip: str | None = None
    country: str | None = None
    seen_at: datetime | None = None
    # the media URL's own fetch
    final_url: str | None = None
    redirects: tuple[str, ...] = ()
    http_status: int | None = None
    content_type: str | None = None  # as the server claimed; media.mime is from the bytes
    headers: dict[str, str] = field(default_factory=dict)
    # the page it was seen on: a page in one country may embed media served from another
    page_host: str | None = None
    page_ip: str | None = None
    page_country: str | None = None


@dataclass(frozen=True)
class CrawlError:
    """Something that went wrong during a crawl, with a reason a person can read."""

    url: str
    reason: str
    stage: str = "crawl"


@dataclass(frozen=True)
class PendingMedia:
    """A media URL found on ``page_url`` but not collected: its bytes could not be stored
    (``stage`` ``evidence``: a full disk, a storage outage) or, fetched again, the site
    failed transiently (``crawl``). Kept so that the next run fetches it again."""

    media_url: str
    page_url: str
    reason: str
    stage: str = "evidence"  # evidence | crawl


@dataclass(frozen=True)
class CrawlResult:
    """What one crawl of one reported URL produced. Media bytes are already in the
    evidence store; this carries only references."""

    url: str
    pages: tuple[PageRecord, ...] = ()
    media: tuple[MediaRecord, ...] = ()
    sightings: tuple[SightingRecord, ...] = ()
    errors: tuple[CrawlError, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    pending: tuple[PendingMedia, ...] = ()  # found, not stored: fetched again by the next run


@dataclass(frozen=True)
class HashRecord:
    """One perceptual or cryptographic hash of a media item, as a hex string."""

    sha256: str
    algorithm: str  # md5 | sha1 | sha256 | pdq | phash
    value: str
    quality: int | None = None


# per-frame PDQ of videos and animated images
@dataclass(frozen=True)
class FrameHashRecord:
    """The PDQ hash of one sampled frame of a video or animation, ``t`` seconds in."""

    sha256: str
    index: int
    t: float
    pdq: str
    quality: int


def known_row_key(kind: str, value: str) -> str:
    """How a known row is named when it is held out of matching: by the hash that matched
    (``md5``, ``sha1``, ``sha256``, ``pdq``) or, for a known video, by its id (``id``)."""
    return f"{kind}:{value}"


@dataclass(frozen=True)
class MatchRecord:
    """A media item found in a known-hash set. ``verdict`` None: the set does not map the
    matched row's category, so the match goes to review as a hint and decides nothing."""

    sha256: str
    set_name: str
    match_type: str  # md5 | sha1 | sha256 | pdq | vpdq
    distance: int
    verdict: Verdict | None
    known_id: str | None = None
    category: str | None = None
    set_version: str | None = None  # the set content's SHA-256 (the import's checksum)
    category_profile: str | None = None  # the profile the set's categories follow
    quality: int | None = None  # PDQ quality of the item's hash (pdq), lowest usable frame's (vpdq)
    known_hash: str | None = None  # the known row's hash that matched (digest or PDQ)

    @property
    def row_key(self) -> str | None:
        """The known row this match was found on, as holds name it (None: cannot be named)."""
        if self.match_type == "vpdq":
            return None if self.known_id is None else known_row_key("id", self.known_id)
        return None if self.known_hash is None else known_row_key(self.match_type, self.known_hash)

    def provenance(self) -> dict[str, object]:
        """What produced a verdict from this match: set, version, row, category, profile
        and the match evidence."""
        return {
            "set": self.set_name, "set_version": self.set_version, "known_id": self.known_id,
            "known_hash": self.known_hash, "category": self.category, "category_profile": self.category_profile,
            "match": {"type": self.match_type, "distance": self.distance, "quality": self.quality},
        }


@dataclass(frozen=True)
class Report:
    """A reported URL and what became of it."""

    id: int
    url: str
    source: str
    status: str  # pending | processing | done | failed (pending again: items wait to be stored)
    received_at: datetime
    processed_at: datetime | None = None
    error: str | None = None
    referer: str | None = None
    pathway: tuple[str, ...] = ()  # pages the reporter went through, in order
    user_agent: str | None = None  # the reporter's browser, replayed by the crawler


@dataclass(frozen=True)
class RecheckTarget:
    """Issue 4: a URL where an item with a current baseline or national verdict was seen,
    with the page it was seen on (sent as Referer, as hotlink-protected hosts expect) and
    the reporter's user agent when the report had one."""

    report_id: int
    sha256: str
    url: str
    page_url: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class RecheckRecord:
    """Issue 4: one re-check of a ``RecheckTarget`` (a row of ``rechecks``)."""

    report_id: int | None
    sha256: str | None
    url: str
    checked_at: datetime
    outcome: str  # still-up | changed | removed
    http_status: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class ReportError:
    """A reason recorded on a report: an unreachable URL, a corrupt image, an empty page."""

    report_id: int
    stage: str  # crawl | hash | match
    reason: str
    url: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class QueueItem:
    """An unknown media item waiting for an analyst."""

    sha256: str
    kind: str
    mime: str | None
    size: int
    first_seen_at: datetime
    report_ids: tuple[int, ...]
    urls: tuple[str, ...]
    pdq: str | None = None
    # a known set's verdict on a look-alike (a partner's near match): for the analyst, not a decision
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one media item: its status, current verdict and where it came from."""

    sha256: str
    status: str
    verdict: Verdict | None
    verdict_source: str | None  # analyst | known-set
    set_name: str | None
    actor: str | None
    urls: tuple[str, ...]
    error: str | None = None
    reason: str | None = None  # the verdict's reason, e.g. "pdq match, distance 8"
    provenance: dict[str, object] | None = None  # automatic verdicts: what produced it


# Who a set comes from, as its ``source`` says: ``interpol`` for INTERPOL's own sets (give
# ``--source interpol`` at import), ``partner:<name>`` for the sets made of a partner
# hotline's confirmed hashes (written by bundle imports); anything else is free text.
# INTERPOL's sets need no flag of their own: INTERPOL is sent analysts' verdicts only.
PARTNER_SOURCE = "partner:"


def is_partner_source(source: str | None) -> bool:
    """Whether a set with this ``source`` holds a partner hotline's verdicts."""
    return bool(source) and str(source).lower().startswith(PARTNER_SOURCE)


@dataclass(frozen=True)
class KnownSetEntry:
    """A known-hash set registered in the catalog."""

    name: str
    verdict: Verdict | None  # for the rows of a set without categories
    path: str
    rows: int
    content_sha256: str
    pdq_threshold: int
    enabled: bool
    source: str | None
    imported_at: datetime
    # the set's categories -> verdicts, known-benign sets, the imported format
    category_verdicts: dict[str, Verdict | None] = field(default_factory=dict)  # None: review
    benign: bool = False
    format: str | None = None
    category_profile: str | None = None
    categorized: bool | None = None  # its rows carry categories; None: registered before this was recorded


@dataclass(frozen=True)
class KnownRecheck:
    """An automatic verdict the earlier category rule produced: the set did not map the
    matched row's category (or the row had none), and the set's verdict was taken."""

    id: int
    verdict_id: int
    sha256: str
    set_name: str
    category: str | None
    verdict: str
    reason: str
    found_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None


@dataclass(frozen=True)
class KnownHold:
    """A known row held out of matching: quarantined because it suddenly matched far more
    items than before, or contested by a senior analyst for one item. ``row_key`` is
    ``<md5|sha1|sha256|pdq>:<hex>`` or ``id:<known id>`` (a known video)."""

    id: int
    set_name: str
    row_key: str
    kind: str  # quarantine | contested
    sha256: str | None  # contested: the item the match was wrong for
    reason: str
    detail: dict[str, object] | None
    actor: str
    created_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None
    feedback_sent: str | None = None  # contested: the bundle or file that told the set's source


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
    # analyst | analyst-confirmed | known-set-exact | known-set-near (see docs/bundle-format.md)
    verdict_basis: str = ""


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


# the review queue: users, clusters, gradings, derived verdicts, four-eyes
@dataclass(frozen=True)
class GradingRecord:
    """An item graded once, by attributes (classification/attributes.py defines the values);
    verdicts are derived from it. ``severity`` 0..3; ``self_generated`` None when unknown."""

    age_group: str  # infant-toddler | prepubescent | pubescent | adult | unclear
    genders: tuple[str, ...]  # female | male | other | unclear
    depiction: str  # real | drawn | cgi | ai-generated | unclear
    sexual_activity: bool
    genital_focus: bool
    severity: int
    self_generated: bool | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class JurisdictionVerdict:
    """One jurisdiction's verdict on an item, derived from its grading by a law profile
    (``source`` derived) or set by hand (``override``)."""

    jurisdiction: str  # INTERPOL (the baseline) or an ISO 3166 code
    illegal: bool
    profile: str  # the profile's name
    profile_sha256: str  # of the profile file the verdict was derived under
    rule: str | None = None  # the rule that decided, None: the profile's default
    source: str = "derived"  # derived | override
    undetermined: bool = False  # the outcome hangs on an unclear age group or depiction (illegal is False)


@dataclass(frozen=True)
class Decision:
    """What an analyst decided for one item: the grading, the jurisdictions' verdicts, and
    the main verdict (derived, or set by hand with a reason)."""

    sha256: str
    grading: GradingRecord
    verdict: Verdict
    jurisdictions: tuple[JurisdictionVerdict, ...]
    overridden: bool = False  # the verdict was set by hand against the derived one
    amends: bool = False  # it changes the outcome another decision gave the item (audited as an override)
    reason: str | None = None
    confirm_required: bool = False  # four-eyes: exportable only once a second analyst confirms
    seen: SeenState | None = None  # the item's decisions as the analyst saw them; None: as the call finds them


@dataclass(frozen=True)
class SeenState:
    """What someone saw of an item's decisions when they made up their mind: its newest
    verdict (None: none yet) and whether that was confirmed or exported. A decision carrying
    it is refused (``DecidedMeanwhile``) when the item's state is no longer this one.
    ``token`` and ``from_token`` carry it through a web form."""

    verdict_id: int | None
    confirmed: bool = False
    exported: bool = False

    @property
    def token(self) -> str:
        """``-`` (no verdict), or the verdict's ID, ``c`` if confirmed, ``e`` if exported: ``7ce``."""
        if self.verdict_id is None:
            return "-"
        return f"{self.verdict_id}{'c' if self.confirmed else ''}{'e' if self.exported else ''}"

    @classmethod
    def from_token(cls, token: str) -> SeenState:
        text = token.strip()
        if text == "-":
            return cls(None)
        digits = text.rstrip("ce")
        flags = text[len(digits):]
        if not digits.isdigit() or flags not in ("", "c", "e", "ce"):
            raise ValueError(f"not a seen decision state: {token!r}")
        return cls(int(digits), confirmed="c" in flags, exported="e" in flags)


@dataclass(frozen=True)
class DecisionState:
    """Who graded and decided an item, and its newest verdict with whether it was confirmed
    or exported: what the rules for a new decision on it depend on."""

    sha256: str
    graders: frozenset[str] = frozenset()
    deciders: frozenset[str] = frozenset()  # analysts who set a verdict (the operator account left out)
    verdict_id: int | None = None
    verdict: Verdict | None = None
    source: str | None = None  # analyst | known-set
    actor: str | None = None
    decided_at: datetime | None = None
    confirm_required: bool = False
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    exported_to: tuple[str, ...] = ()
    exported_at: datetime | None = None  # the newest export of the item

    @property
    def confirmed(self) -> bool:
        return self.confirmed_by is not None

    @property
    def exported(self) -> bool:
        return bool(self.exported_to)

    @property
    def seen(self) -> SeenState:
        return SeenState(self.verdict_id, confirmed=self.confirmed, exported=self.exported)

    def changes_since(self, seen: SeenState) -> str | None:
        """What happened to the item since ``seen`` (who, what, when); None when nothing did."""
        item = repr(self.sha256[:12])
        if self.verdict_id != seen.verdict_id:
            if self.verdict_id is None:
                return f"the verdict of {item} was withdrawn meanwhile"
            return (f"{item} was decided meanwhile: {self.verdict} by {self.actor} at {_when(self.decided_at)}"
                    f" (verdict {self.verdict_id})")
        if self.confirmed and not seen.confirmed:
            return (f"the verdict of {item} (verdict {self.verdict_id}) was confirmed meanwhile by"
                    f" {self.confirmed_by} at {_when(self.confirmed_at)}")
        if self.exported and not seen.exported:
            return (f"the verdict of {item} (verdict {self.verdict_id}) was exported meanwhile, to"
                    f" {', '.join(self.exported_to)} at {_when(self.exported_at)}")
        return None


def _when(at: datetime | None) -> str:
    return "an unknown time" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class ReviewRules:
    """The installation's review rules, stored in the catalog (``hotline rules``)."""

    four_eyes: bool = False  # baseline/national verdicts wait for a senior's confirmation before export


@dataclass(frozen=True)
class User:
    """A person who logs in to the review app. The password hash never leaves the catalog."""

    name: str
    role: str  # analyst | senior | operator | statistician | admin
    active: bool
    blur: int | None  # thumbnail blur strength; None: the installation's default
    reveal_budget: int | None  # reveals a day; None: the installation's default
    created_at: datetime


@dataclass(frozen=True)
class WebSession:
    """A logged-in session (the catalog keeps only the SHA-256 of its token)."""

    user: User
    csrf: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ClusterSummary:
    """A group of near-duplicate queued items decided together."""

    id: int
    kind: str
    status: str  # open | decided
    items: int  # open items in it
    representative: str
    novel: bool  # no near-duplicate among items already decided
    similar_to: str | None  # the nearest decided item, when not novel
    oldest_report_at: datetime | None
    first_seen_at: datetime
    holder: str | None = None  # who holds the lease, while it runs
    lease_expires_at: datetime | None = None
    members: tuple[str, ...] = ()  # the first few items (SHA-256), for thumbnails


@dataclass(frozen=True)
class ClusterMember:
    """One item of a cluster, with what an analyst sees beside it."""

    sha256: str
    kind: str
    mime: str | None
    size: int
    status: str
    distance: int | None  # PDQ distance to the cluster's representative
    sightings: tuple[dict[str, object], ...]  # media_url, page_url, country, report_id, seen_at
    matches: tuple[dict[str, object], ...]  # set_name, match_type, distance, verdict


@dataclass(frozen=True)
class PendingConfirmation:
    """An exportable analyst verdict waiting for a second analyst (four-eyes rule)."""

    verdict_id: int
    sha256: str
    verdict: Verdict
    actor: str
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class ClusterCandidate:
    """A queued item not in any cluster yet, with what clustering needs to place it."""

    sha256: str
    kind: str
    signature: str | None  # PDQ hex, None when it has none (or too low a quality to compare)
    first_seen_at: datetime
    oldest_report_at: datetime | None


@dataclass(frozen=True)
class ClusterPlan:
    """Where clustering puts items: into an open cluster (``cluster_id``) or a new one."""

    members: tuple[tuple[str, int | None], ...]  # (SHA-256, PDQ distance to the representative)
    cluster_id: int | None = None
    kind: str = "image"
    representative: str | None = None  # new clusters only
    signature: str | None = None
    novel: bool = True
    similar_to: str | None = None
    split_from: int | None = None
# (end of the review queue's records)
