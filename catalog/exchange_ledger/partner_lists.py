"""Partners' handled lists and what they name of ours.

``partner_list_entries`` holds the last list each partner sent (keyed hashes only: see
``exports.handled_lists``), replaced whole by the next one. ``partner_handled`` keeps our
reports linked to a partner's case (status ``linked``: not crawled, unless the operator
asks for it with ``crawl_anyway``) and our items a partner decided (its verdict is shown,
with its grading, from which ``classification.partner`` lets our law profiles derive our own
verdict, source ``partner``: ``record_partner_verdicts``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from catalog.db import Database, insert_ignoring_duplicates, utcnow
from catalog.decisions.gradings import grading_of, record_automatic_decision
from catalog.decisions.own_matches import GRADING_COLUMNS
from catalog.decisions.records import PARTNER_DECISION, Decision, Verdict
from catalog.decisions.verdict_rows import current_verdicts, lock_items, withdraw_automatic
from catalog.errors import NotFound
from catalog.exchange_ledger.ledger import counted_verdict
from catalog.exchange_ledger.records import ListSource, PartnerHandled
from catalog.schema import (
    crawls,
    gradings,
    media,
    partner_handled,
    partner_list_entries,
    reports,
    verdicts,
)
from catalog.users.audit import audit

DECIDED = (Verdict.BASELINE.value, Verdict.NATIONAL.value, Verdict.NOT_ILLEGAL.value)
# kind, digest, case, state, verdict, since, grading (media: the partner's, None if set by hand)
Entry = tuple[str, str, str | None, str | None, str | None, datetime, dict[str, Any] | None]


@dataclass(frozen=True)
class PartnerAdoption:
    """An item our law profiles decided from the grading of the partners that decided it:
    the decision, and the partner rows it was made from (all of them the same grading)."""

    decision: Decision
    handled: tuple[PartnerHandled, ...]


def _handled(row: sa.Row) -> PartnerHandled:
    m = row._mapping
    return PartnerHandled(partner=m["partner"], report_id=m["report_id"], sha256=m["sha256"], case_ref=m["case_ref"],
                          state=m["state"], verdict=m["verdict"], since=m["since"], found_at=m["found_at"],
                          grading=m["grading"])


class PartnerLists(Database):
    """Part of ``ExchangeStore``: partners' handled lists, and our reports and items they name."""

    def replace_partner_list(self, partner: str, entries: Sequence[Entry], *, bundle_id: str, actor: str) -> int:
        """Keep ``entries`` as partner ``partner``'s list in place of the one before (audited)."""
        rows = {(kind, digest): dict(partner=partner, kind=kind, digest=digest, case_ref=case, state=state,
                                     verdict=verdict, since=since, grading=grading)
                for kind, digest, case, state, verdict, since, grading in entries}
        with self.write() as conn:
            conn.execute(partner_list_entries.delete().where(partner_list_entries.c.partner == partner))
            batch = list(rows.values())
            for start in range(0, len(batch), 5_000):
                conn.execute(partner_list_entries.insert(), batch[start:start + 5_000])
            audit(conn, actor, "partner_list.receive", bundle_id, partner=partner, entries=len(batch))
        return len(rows)

    def partner_list_hits(self, partner: str, kind: str, digests: Collection[str]) -> dict[str, Entry]:
        """The entries of ``partner``'s list among ``digests``, by digest."""
        found: dict[str, Entry] = {}
        wanted = list(dict.fromkeys(digests))
        t = partner_list_entries.c
        with self.read() as conn:
            for start in range(0, len(wanted), 900):  # under SQLite's bound-parameter limit
                query = sa.select(t.kind, t.digest, t.case_ref, t.state, t.verdict, t.since, t.grading).where(
                    t.partner == partner, t.kind == kind, t.digest.in_(wanted[start:start + 900]))
                found.update({r.digest: tuple(r) for r in conn.execute(query)})  # type: ignore[misc]
        return found

    def partners_with_lists(self) -> list[str]:
        with self.read() as conn:
            return list(conn.scalars(sa.select(partner_list_entries.c.partner).distinct()))

    def link_reports(self, links: Sequence[tuple[int, str, Entry]], *, actor: str) -> list[int]:
        """Link each (report, partner, entry) to the partner's case: the report becomes
        ``linked`` and is not crawled (unless ``crawl_anyway``); audited, one row per partner
        naming its reports and cases. Returns the reports linked."""
        now = utcnow()
        with self.write() as conn:
            # read again in the writing transaction: a report crawled or asked for meanwhile stays as it is
            open_now = set(conn.scalars(sa.select(reports.c.id).where(
                reports.c.id.in_([rid for rid, _, _ in links]), reports.c.status.in_(("pending", "processing")),
                reports.c.crawl_anyway.is_not(True))))
            chosen = {rid: (partner, entry) for rid, partner, entry in links if rid in open_now}
            if not chosen:
                return []
            insert_ignoring_duplicates(conn, partner_handled, [
                dict(partner=p, report_id=rid, case_ref=e[2], state=e[3], since=e[5], found_at=now)
                for rid, (p, e) in chosen.items()])
            conn.execute(
                reports.update().where(reports.c.id == sa.bindparam("rid")).values(
                    status="linked", processed_at=now, error=sa.bindparam("why")),
                [dict(rid=rid, why=f"handled by partner {p} (case {e[2]}) since {e[5]}")
                 for rid, (p, e) in chosen.items()])
            for partner in sorted({p for p, _ in chosen.values()}):
                mine = {rid: e for rid, (p, e) in chosen.items() if p == partner}
                audit(conn, actor, "report.linked", partner, reports=sorted(mine),
                      cases={str(rid): e[2] for rid, e in mine.items()})
        return sorted(chosen)

    def note_partner_decisions(self, hits: Sequence[tuple[str, str, Entry]], *, actor: str) -> list[str]:
        """Record that a partner decided each (item, partner, entry): shown beside the item
        (audited, one row per partner). A partner's entry that changed since (its verdict or
        grading: a correction) replaces the one kept, audited as ``item.partner_decision_changed``.
        Returns the items whose partner record is new or changed."""
        now = utcnow()
        with self.write() as conn:
            known = {(r.sha256, r.partner): r for r in conn.execute(
                sa.select(partner_handled.c.id, partner_handled.c.sha256, partner_handled.c.partner,
                          partner_handled.c.verdict, partner_handled.c.grading).where(
                    partner_handled.c.sha256.in_([s for s, _, _ in hits])))}
            new = [dict(partner=p, sha256=s, case_ref=e[2], verdict=e[4], since=e[5], found_at=now, grading=e[6])
                   for s, p, e in hits if (s, p) not in known]
            changed = [(known[(s, p)], p, e) for s, p, e in hits
                       if (s, p) in known and (known[(s, p)].verdict, known[(s, p)].grading) != (e[4], e[6])]
            insert_ignoring_duplicates(conn, partner_handled, new)
            for row, partner, e in changed:
                conn.execute(partner_handled.update().where(partner_handled.c.id == row.id).values(
                    case_ref=e[2], verdict=e[4], since=e[5], found_at=now, grading=e[6]))
                audit(conn, actor, "item.partner_decision_changed", row.sha256, partner=partner,
                      previous=row.verdict, verdict=e[4], graded=e[6] is not None)
            for partner in sorted({str(r["partner"]) for r in new}):
                audit(conn, actor, "item.partner_decided", partner,
                      verdicts={str(r["sha256"]): r["verdict"] for r in new if r["partner"] == partner})
        return sorted({str(r["sha256"]) for r in new} | {str(row.sha256) for row, _, _ in changed})

    def partner_decisions_of(self, sha256s: Collection[str]) -> dict[str, list[PartnerHandled]]:
        """The partners' records of these items, by item (oldest first)."""
        found: dict[str, list[PartnerHandled]] = {}
        wanted = list(dict.fromkeys(sha256s))
        with self.read() as conn:
            for start in range(0, len(wanted), 900):
                query = (sa.select(partner_handled).where(partner_handled.c.sha256.in_(wanted[start:start + 900]))
                         .order_by(partner_handled.c.since, partner_handled.c.partner))
                for r in conn.execute(query):
                    found.setdefault(r.sha256, []).append(_handled(r))
        return found

    def partner_decided_items(self, partner: str, sha256s: Collection[str] | None = None
                              ) -> dict[str, tuple[str | None, Any]]:
        """Items (of ``sha256s``, default all) whose current verdict our profiles derived from
        a decision ``partner`` took part in, with what that verdict was made from: the
        partner's verdict and the grading (the same for every partner that took part)."""
        cv = current_verdicts()
        query = sa.select(cv.c.sha256, cv.c.provenance).where(cv.c.source == PARTNER_DECISION)
        if sha256s is not None:
            query = query.where(cv.c.sha256.in_(list(dict.fromkeys(sha256s))))
        with self.read() as conn:
            rows = conn.execute(query).all()
        found: dict[str, tuple[str | None, Any]] = {}
        for r in rows:
            p = dict(r.provenance or {})
            verdicts_by = {p.get("partner"): p.get("partner_verdict"),
                           **{a.get("partner"): a.get("verdict") for a in p.get("also") or [] if isinstance(a, dict)}}
            if partner in verdicts_by:
                found[r.sha256] = (verdicts_by[partner], p.get("partner_grading"))
        return found

    def withdraw_partner_verdicts(self, partner: str, sha256s: Sequence[str], *, actor: str, reason: str) -> list[str]:
        """Send back to review those of ``sha256s`` whose current verdict came from a decision
        ``partner`` took part in (it corrected, retracted or no longer lists it); audited per
        item. Returns the items sent back."""
        involved = list(self.partner_decided_items(partner, sha256s)) if sha256s else []
        if not involved:
            return []
        with self.write() as conn:
            return withdraw_automatic(conn, involved, actor=actor, reason=reason, source=PARTNER_DECISION)

    def record_partner_verdicts(self, adoptions: Sequence[PartnerAdoption], *, actor: str = "matcher") -> list[str]:
        """Give each item the decision our law profiles derived from its partners' grading,
        in one transaction: the grading (recorded as ``actor``'s), the jurisdiction verdicts
        and the main verdict (source ``partner``, ``set_name`` the partner that decided it
        first, the partners' records as provenance), audited as ``verdict.auto``. With the
        items locked, an item is left alone unless it waits for a decision (hashed or queued)
        and never had a verdict: one decided, or sent back to review, here is our analysts'.
        Returns the items decided."""
        if not adoptions:
            return []
        now = utcnow()
        decided: list[str] = []
        with self.write() as conn:
            shas = [a.decision.sha256 for a in adoptions]
            statuses = lock_items(conn, shas)
            had_verdict = set(conn.scalars(sa.select(verdicts.c.sha256).distinct().where(verdicts.c.sha256.in_(shas))))
            for a in adoptions:
                d, first = a.decision, a.handled[0]
                if statuses.get(d.sha256) not in ("hashed", "queued") or d.sha256 in had_verdict:
                    continue
                provenance = {"partner": first.partner, "case": first.case_ref, "partner_verdict": first.verdict,
                              "since": first.since.isoformat() + "Z", "partner_grading": first.grading,
                              "also": [{"partner": h.partner, "case": h.case_ref, "verdict": h.verdict}
                                       for h in a.handled[1:]]}
                record_automatic_decision(
                    conn, d, source=PARTNER_DECISION, actor=actor, now=now, set_name=first.partner,
                    reason=f"decided by partner {first.partner} ({first.verdict}); our law profiles derived it "
                           "from the partner's grading", provenance=provenance)
                decided.append(d.sha256)
        return decided

    def note_partner_review(self, sha256: str, handled: Sequence[PartnerHandled], why: str, *,
                            actor: str = "matcher") -> None:
        """Audit (``verdict.ambiguous``) why an item a partner decided takes no verdict from
        it and goes to review: every partner's verdict and grading."""
        with self.write() as conn:
            audit(conn, actor, "verdict.ambiguous", sha256, why=why, partners=[
                {"partner": h.partner, "case": h.case_ref, "verdict": h.verdict, "grading": h.grading}
                for h in handled])

    def partner_handling(self, *, report_id: int | None = None, sha256: str | None = None) -> list[PartnerHandled]:
        """What partners handle of one report or one item, oldest first."""
        query = sa.select(partner_handled).order_by(partner_handled.c.since)
        query = query.where(partner_handled.c.report_id == report_id) if report_id is not None \
            else query.where(partner_handled.c.sha256 == sha256)
        with self.read() as conn:
            return [_handled(r) for r in conn.execute(query)]

    def crawl_anyway(self, report_id: int, *, actor: str) -> None:
        """Crawl the report although a partner handles its URL: pending again (audited)."""
        with self.write() as conn:
            changed = conn.execute(reports.update().where(reports.c.id == report_id).values(
                crawl_anyway=True, status=sa.case((reports.c.status == "linked", "pending"), else_=reports.c.status),
                error=sa.case((reports.c.status == "linked", None), else_=reports.c.error)))
            if not changed.rowcount:
                raise NotFound(f"no report {report_id!r}")
            audit(conn, actor, "report.crawl_anyway", str(report_id))

    def linkable_reports(self, report_ids: Collection[int]) -> list[tuple[int, str, datetime, str]]:
        """Of ``report_ids``, those a partner's case may stand for: not crawled yet (no crawl
        recorded), not to be crawled anyway. (ID, URL, received, source)."""
        query = sa.select(reports.c.id, reports.c.url, reports.c.received_at, reports.c.source).where(
            reports.c.id.in_(list(report_ids)), reports.c.crawl_anyway.is_not(True),
            reports.c.status.in_(("pending", "processing")), ~sa.exists().where(crawls.c.report_id == reports.c.id))
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]

    def all_media_sha256s(self) -> list[str]:
        """Every item's SHA-256: what a partner's new list is looked up for."""
        with self.read() as conn:
            return list(conn.scalars(sa.select(media.c.sha256)))

    def handled_list_source(self, *, exclude_source: str | None = None) -> ListSource:
        """What our handled list names: every report (but those ``exclude_source`` filed, so
        a partner is not told back what it told us) and every item our analysts decided (an
        automatic verdict may be the partner's own hash coming back, or a partner's decision:
        no chains), with the grading its verdict was derived from (none when set by hand)."""
        cv = current_verdicts()
        g = gradings.alias("g")
        with self.read() as conn:
            query = sa.select(reports.c.id, reports.c.url, reports.c.status, reports.c.received_at)
            if exclude_source is not None:
                query = query.where(reports.c.source != exclude_source)
            rows = tuple(tuple(r) for r in conn.execute(query.order_by(reports.c.id)))
            found = conn.execute(
                sa.select(cv.c.sha256, cv.c.verdict, cv.c.created_at, g.c.id.label("graded"),
                          *(g.c[name] for name in GRADING_COLUMNS))
                .outerjoin(g, sa.and_(g.c.id == cv.c.grading_id, cv.c.basis == "grading"))
                .where(cv.c.verdict.in_(DECIDED), cv.c.source == "analyst", counted_verdict(cv))).all()
            items = tuple((r.sha256, r.verdict, r.created_at, None if r.graded is None else _grading_attributes(r))
                          for r in found)
        return ListSource(reports=rows, items=items)  # type: ignore[arg-type]


def _grading_attributes(row: sa.Row) -> dict[str, Any]:
    """A grading's attributes as a partner's list carries them (``exports.handled_lists``)."""
    record = grading_of(row)
    out: dict[str, Any] = {name: getattr(record, name) for name in GRADING_COLUMNS}
    return out | {"genders": list(record.genders), "tags": list(record.tags)}
