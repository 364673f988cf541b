"""Decisions other items take: the decided items whose decision a near-identical new item
may take (``decided_sources``), and the verdicts it takes from them (source ``own-match``),
written only while the decision they come from is still the current, final one.

A follower is sent back to review when its source is decided again
(``verdict_rows.release_followers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.decisions.gradings import current_gradings, grading_of, record_automatic_decision
from catalog.decisions.records import OWN_MATCH, DecidedSource, Decision, OwnMatch, Verdict
from catalog.decisions.verdict_rows import current_verdicts, lock_items
from catalog.schema import confirmations, gradings, hashes, media
from catalog.users.audit import audit


@dataclass(frozen=True)
class Adoption:
    """An item that takes a decided item's decision: its decision (the source's grading,
    the verdicts derived again by the law profiles), the match it is taken by, and every
    match to decided items (each with the same grading)."""

    decision: Decision
    match: OwnMatch
    matches: tuple[OwnMatch, ...]


GRADING_COLUMNS = ("age_group", "genders", "depiction", "sexual_activity", "genital_focus", "severity",
                   "self_generated", "tags")


def _final(cv: sa.Subquery) -> sa.ColumnElement[bool]:
    """A current verdict whose decision others may take: an analyst's, derived from the
    item's current grading (not set by hand), not undetermined, and confirmed when it had
    to be (the same rule the export ledger counts decided verdicts by)."""
    return sa.and_(cv.c.source == "analyst", cv.c.basis == "grading", cv.c.grading_id.is_not(None),
                   cv.c.verdict != Verdict.UNDETERMINED.value,
                   sa.or_(cv.c.confirm_required.is_not(True), cv.c.id.in_(sa.select(confirmations.c.verdict_id))))


class OwnMatches(Database):
    """Part of ``ReviewStore``: decided items as a source of decisions, and the verdicts taken from them."""

    def decided_sources(self, min_quality: int = 50) -> list[DecidedSource]:
        """Pictures whose current decision is final (``_final``) and whose PDQ has at least
        ``min_quality``: what new items are matched against."""
        cv, cg = current_verdicts(), current_gradings()
        query = (
            sa.select(cv.c.sha256, cv.c.id.label("verdict_id"), cv.c.verdict, hashes.c.value.label("pdq"),
                      hashes.c.quality.label("pdq_quality"), cg.c.id.label("grading_id"),
                      *(cg.c[name] for name in GRADING_COLUMNS))
            .join(cg, sa.and_(cg.c.sha256 == cv.c.sha256, cg.c.id == cv.c.grading_id))
            .join(media, media.c.sha256 == cv.c.sha256)
            .join(hashes, sa.and_(hashes.c.sha256 == cv.c.sha256, hashes.c.algorithm == "pdq"))
            .where(_final(cv), media.c.kind == "image", media.c.status == "classified",
                   sa.or_(hashes.c.quality.is_(None), hashes.c.quality >= min_quality))
            .order_by(cv.c.id)
        )
        with self.read() as conn:
            return [DecidedSource(sha256=r.sha256, verdict_id=r.verdict_id, verdict=Verdict(r.verdict),
                                  grading_id=r.grading_id, grading=grading_of(r), pdq=r.pdq, quality=r.pdq_quality)
                    for r in conn.execute(query)]

    def record_own_verdicts(self, adoptions: Sequence[Adoption], *, actor: str = "matcher") -> list[str]:
        """Give each item its source's decision in one transaction: a grading (the source's,
        recorded as ``actor``'s), the jurisdiction verdicts and the main verdict (source
        ``own-match``, with the match as its provenance), audited as ``verdict.auto``. With
        the items and their sources locked, an item is left for review when it was decided
        meanwhile or when any of its sources' decisions is no longer the current, final one
        it was matched with (corrected, overridden, waiting for a confirmation). Returns the
        items decided."""
        if not adoptions:
            return []
        now = utcnow()
        decided: list[str] = []
        with self.write() as conn:
            sources = {m.source.sha256 for a in adoptions for m in a.matches}
            statuses = lock_items(conn, [*(a.decision.sha256 for a in adoptions), *sources])
            cv = current_verdicts()
            final = {(r.sha256, r.id, r.grading_id) for r in conn.execute(
                sa.select(cv.c.sha256, cv.c.id, cv.c.grading_id).where(cv.c.sha256.in_(sources), _final(cv)))}
            newest_grading = dict(conn.execute(
                sa.select(gradings.c.sha256, sa.func.max(gradings.c.id)).where(gradings.c.sha256.in_(sources))
                .group_by(gradings.c.sha256)).tuples().all())
            has_verdict = set(conn.scalars(sa.select(cv.c.sha256).where(
                cv.c.sha256.in_([a.decision.sha256 for a in adoptions]))))
            for a in adoptions:
                d, m = a.decision, a.match
                if statuses.get(d.sha256) not in ("hashed", "queued") or d.sha256 in has_verdict:
                    continue
                if not all((s.source.sha256, s.source.verdict_id, s.source.grading_id) in final
                           and newest_grading.get(s.source.sha256) == s.source.grading_id for s in a.matches):
                    continue
                provenance = {**m.provenance(), "also": [o.source.sha256 for o in a.matches if o is not m]}
                variant = f" of its {m.variant} variant" if m.variant and m.variant != "original" else ""
                record_automatic_decision(
                    conn, d, source=OWN_MATCH, actor=actor, now=now, provenance=provenance,
                    reason=f"{m.match_type} distance {m.distance}{variant} to decided item {m.source.sha256[:12]}")
                decided.append(d.sha256)
        return decided

    def note_unadopted(self, sha256: str, found: Sequence[OwnMatch], why: str, *, actor: str = "matcher") -> None:
        """Audit (``verdict.ambiguous``) why an item near decided items takes none of their
        decisions and goes to review: every match, with each source's verdict and grading."""
        with self.write() as conn:
            audit(conn, actor, "verdict.ambiguous", sha256, why=why, matches=[
                {**m.provenance(), "grading": vars(m.source.grading) | {"genders": list(m.source.grading.genders),
                                                                         "tags": list(m.source.grading.tags)}}
                for m in found])
