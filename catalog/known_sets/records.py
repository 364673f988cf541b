"""Records of known-hash sets: a registered set, an item's match in one, the known rows held
out of matching, and the verdicts an earlier category rule produced.

Frozen dataclasses, plain values only (no SQLAlchemy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from catalog.decisions.records import Verdict


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
    variant: str | None = None  # which of the item's hashes matched (PDQ: original, rotate90, untrimmed ...)

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
            "match": {"type": self.match_type, "distance": self.distance, "quality": self.quality,
                      "variant": self.variant},
        }


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
