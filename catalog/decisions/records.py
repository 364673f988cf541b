"""Records of the review and its decisions: verdicts, the queue and its clusters, gradings
and the verdicts derived from them per jurisdiction, what a decision was made on, and the
review rules.

Frozen dataclasses, plain values only (no SQLAlchemy).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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
    similar_evidence: Mapping[str, object] | None = None  # how it matched ``similar_to``


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
    variants: tuple[tuple[str, str], ...] = ()  # (name, PDQ hex) of its rotations and mirrorings


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
    evidence: Mapping[str, Mapping[str, object]] = field(default_factory=dict)  # why each member joined
    similar_evidence: Mapping[str, object] | None = None  # how it matched ``similar_to``


@dataclass(frozen=True)
class PlacedPlans:
    """What storing clustering's plans did: the items placed, and the cluster each plan's
    items went to, in the plans' order (None when none of them could be placed)."""

    placed: int
    cluster_ids: tuple[int | None, ...]


@dataclass(frozen=True)
class LocalFeatures:
    """The compact local features review clustering compares pictures by (table
    ``media_features``): keypoint positions (float16 x, y pairs) in a grey copy of
    ``width`` x ``height``, and their binary descriptors (32 bytes each). No pixels.

    ``mirrored``: the same of the picture mirrored left to right, when it was extracted
    from the pixels in this process (keypoint descriptors do not survive a mirroring, so a
    mirrored copy is compared through these); it is not stored, since an item is placed
    in the run that extracts its features."""

    sha256: str
    width: int
    height: int
    points: bytes
    descriptors: bytes
    mirrored: LocalFeatures | None = field(default=None, compare=False, repr=False)

    @property
    def count(self) -> int:
        return len(self.descriptors) // 32


OWN_MATCH = "own-match"
"""The verdict source of an item that took the decision of an item this hotline decided
(its grading, the verdicts derived again by the law profiles), by a match of their hashes."""

PARTNER_DECISION = "partner"
"""The verdict source of an item a partner hotline's analysts decided (its handled list names
the item's SHA-256, with their grading): our law profiles derived our verdict from that
grading; nobody here looked at it. The verdict's ``set_name`` is the partner's name."""


@dataclass(frozen=True)
class DecidedSource:
    """An item whose decision other items may take: its current verdict is an analyst's,
    derived from its current grading, final (confirmed where four-eyes asks) and not
    undetermined; with its PDQ (quality at or above the matching minimum)."""

    sha256: str
    verdict_id: int
    verdict: Verdict
    grading_id: int
    grading: GradingRecord
    pdq: str
    quality: int | None


@dataclass(frozen=True)
class OwnMatch:
    """A new item found near a decided item of ours (``source``): the hash that matched,
    which of the item's hashes it was (``original``, ``rotate90``, ``untrimmed`` ...), the
    distance and the item's PDQ quality."""

    sha256: str
    source: DecidedSource
    match_type: str  # pdq
    distance: int
    variant: str | None
    quality: int | None

    def provenance(self) -> dict[str, object]:
        """What a verdict taken from the source records: the source, its verdict and grading,
        and the match evidence."""
        return {
            "source_sha256": self.source.sha256, "source_verdict_id": self.source.verdict_id,
            "source_grading_id": self.source.grading_id, "source_verdict": str(self.source.verdict),
            "match": {"type": self.match_type, "distance": self.distance, "quality": self.quality,
                      "variant": self.variant},
        }
