"""Known-set matches (``matches``): which items matched which known rows, and the automatic
verdicts they give. A matched item takes its known set's verdict (source ``known-set``,
with its provenance) and is never queued; an item whose matches decide nothing (a category
the set does not map) and an unmatched item are queued for an analyst.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from catalog.db import Database, insert_ignoring_duplicates, utcnow
from catalog.decisions.records import REVIEW, Verdict
from catalog.known_sets.records import MatchRecord, is_partner_source
from catalog.schema import known_sets, matches, media, verdicts
from catalog.users.audit import audit

EXACT_MATCHES = ("md5", "sha1", "sha256")
"""Match types that are content digests. Every other type (PDQ, vPDQ, a signal type added
later) is a match by distance, so a partner's verdict on it stays a hint for an analyst."""


def match_from_row(m: Mapping[str, Any]) -> MatchRecord:
    """A ``matches`` row as a ``MatchRecord`` (what produced it from its provenance)."""
    p = m.get("provenance") or {}
    evidence = p.get("match") or {}
    return MatchRecord(
        sha256=m["sha256"], set_name=m["set_name"], match_type=m["match_type"], distance=m["distance"],
        verdict=None if m["verdict"] == REVIEW else Verdict(m["verdict"]), known_id=m["known_id"],
        category=m["category"], set_version=p.get("set_version"), category_profile=p.get("category_profile"),
        quality=evidence.get("quality"), known_hash=p.get("known_hash"), variant=evidence.get("variant"),
    )


def _rank(verdict: Verdict | None) -> int:
    return 2 if verdict == Verdict.NOT_ILLEGAL else 1 if verdict is None else 0


class KnownMatches(Database):
    """Part of ``KnownSetStore``: matches, and the automatic verdicts they give."""

    def record_matches(self, found: Sequence[MatchRecord], *, actor: str = "matcher") -> int:
        """Store matches; each matched item still awaiting a decision takes the verdict of its
        closest match (illegal before review before not-illegal, exact before near, then by
        distance) and leaves the queue, the verdict recording what produced it. An item
        whose best match decides nothing (a category its set does not map) gets no verdict:
        it stays for review, the match shown as a hint. Neither does a match only near (PDQ
        distance) in a partner's set: a partner's verdict on a look-alike is a hint for an
        analyst, not a decision.

        Returns how many items were auto-classified."""
        if not found:
            return 0
        now = utcnow()
        best: dict[str, MatchRecord] = {}
        # a match that says illegal outranks one that leaves the item to review, which
        # outranks a not-illegal one (known-benign, not pertinent): in doubt, review
        for m in sorted(found, key=lambda m: (_rank(m.verdict), m.match_type in ("pdq", "vpdq"),
                                              m.distance, m.set_name)):
            best.setdefault(m.sha256, m)
        with self.write() as conn:
            insert_ignoring_duplicates(
                conn,
                matches,
                [
                    dict(
                        sha256=m.sha256,
                        set_name=m.set_name,
                        match_type=m.match_type,
                        distance=m.distance,
                        verdict=REVIEW if m.verdict is None else str(m.verdict),
                        known_id=m.known_id,
                        category=m.category,
                        matched_at=now,
                        provenance=m.provenance(),
                        row_key=m.row_key,
                    )
                    for m in found
                ],
            )
            deciding = [s for s, m in best.items() if m.verdict is not None]
            undecided = set(
                conn.scalars(
                    sa.select(media.c.sha256).where(
                        media.c.sha256.in_(deciding), media.c.status.in_(("new", "hashed", "queued"))
                    )
                )
            )
            sources = {name: source for name, source in conn.execute(
                sa.select(known_sets.c.name, known_sets.c.source).where(
                    known_sets.c.name.in_({m.set_name for m in best.values()})))}
            undecided = {s for s in undecided
                         if not (best[s].match_type not in EXACT_MATCHES and is_partner_source(sources.get(best[s].set_name)))}
            for sha256 in sorted(undecided):
                m = best[sha256]
                conn.execute(
                    verdicts.insert().values(
                        sha256=sha256,
                        verdict=str(m.verdict),
                        source="known-set",
                        actor=actor,
                        set_name=m.set_name,
                        reason=f"{m.match_type} match, distance {m.distance}",
                        created_at=now,
                        provenance=m.provenance(),
                    )
                )
                audit(conn, actor, "verdict.auto", sha256, verdict=str(m.verdict), **m.provenance())
            if undecided:
                conn.execute(media.update().where(media.c.sha256.in_(undecided)).values(status="known"))
        return len(undecided)

    def matches_of(self, sha256: str) -> list[MatchRecord]:
        """Every known-set match recorded for an item, with what produced it."""
        with self.read() as conn:
            rows = conn.execute(sa.select(matches).where(matches.c.sha256 == sha256).order_by(matches.c.id)).all()
        return [match_from_row(dict(r._mapping)) for r in rows]
