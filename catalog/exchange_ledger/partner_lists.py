"""Partners' handled lists and what they name of ours.

``partner_list_entries`` holds the last list each partner sent (keyed hashes only: see
``exports.handled_lists``), replaced whole by the next one. ``partner_handled`` keeps our
reports linked to a partner's case (status ``linked``: not crawled, unless the operator
asks for it with ``crawl_anyway``) and our items a partner decided (its verdict is shown;
it decides nothing here: our analysts and our law profile do).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa

from catalog.db import Database, insert_ignoring_duplicates, utcnow
from catalog.decisions.records import Verdict
from catalog.decisions.verdict_rows import current_verdicts
from catalog.errors import NotFound
from catalog.exchange_ledger.ledger import counted_verdict
from catalog.exchange_ledger.records import ListSource, PartnerHandled
from catalog.schema import crawls, media, partner_handled, partner_list_entries, reports
from catalog.users.audit import audit

DECIDED = (Verdict.BASELINE.value, Verdict.NATIONAL.value, Verdict.NOT_ILLEGAL.value)
Entry = tuple[str, str, str | None, str | None, str | None, datetime]  # kind, digest, case, state, verdict, since


def _handled(row: sa.Row) -> PartnerHandled:
    m = row._mapping
    return PartnerHandled(partner=m["partner"], report_id=m["report_id"], sha256=m["sha256"], case_ref=m["case_ref"],
                          state=m["state"], verdict=m["verdict"], since=m["since"], found_at=m["found_at"])


class PartnerLists(Database):
    """Part of ``ExchangeStore``: partners' handled lists, and our reports and items they name."""

    def replace_partner_list(self, partner: str, entries: Sequence[Entry], *, bundle_id: str, actor: str) -> int:
        """Keep ``entries`` as partner ``partner``'s list in place of the one before (audited)."""
        rows = {(kind, digest): dict(partner=partner, kind=kind, digest=digest, case_ref=case, state=state,
                                     verdict=verdict, since=since)
                for kind, digest, case, state, verdict, since in entries}
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
                query = sa.select(t.kind, t.digest, t.case_ref, t.state, t.verdict, t.since).where(
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

    def note_partner_decisions(self, hits: Sequence[tuple[str, str, Entry]], *, actor: str) -> int:
        """Record that a partner decided each (item, partner, entry): shown beside the item,
        deciding nothing (audited, one row per partner). Returns how many were new."""
        now = utcnow()
        with self.write() as conn:
            known = set(conn.execute(sa.select(partner_handled.c.sha256, partner_handled.c.partner).where(
                partner_handled.c.sha256.in_([s for s, _, _ in hits]))).tuples())
            new = [dict(partner=p, sha256=s, case_ref=e[2], verdict=e[4], since=e[5], found_at=now)
                   for s, p, e in hits if (s, p) not in known]
            insert_ignoring_duplicates(conn, partner_handled, new)
            for partner in sorted({str(r["partner"]) for r in new}):
                audit(conn, actor, "item.partner_decided", partner,
                      verdicts={str(r["sha256"]): r["verdict"] for r in new if r["partner"] == partner})
        return len(new)

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
        automatic verdict may be the partner's own hash coming back)."""
        cv = current_verdicts()
        with self.read() as conn:
            query = sa.select(reports.c.id, reports.c.url, reports.c.status, reports.c.received_at)
            if exclude_source is not None:
                query = query.where(reports.c.source != exclude_source)
            rows = tuple(tuple(r) for r in conn.execute(query.order_by(reports.c.id)))
            items = tuple(tuple(r) for r in conn.execute(
                sa.select(cv.c.sha256, cv.c.verdict, cv.c.created_at).where(
                    cv.c.verdict.in_(DECIDED), cv.c.source == "analyst", counted_verdict(cv))))
        return ListSource(reports=rows, items=items)  # type: ignore[arg-type]
