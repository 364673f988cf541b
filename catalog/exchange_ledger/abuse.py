"""Takedown notices to abuse contacts, on the export ledger: a contact is the destination
``abuse:<name>``, each notice e-mailed to it is an ``exports`` row (its reference is the
bundle ID, its location the ``mailto:`` address), the URLs it named are its
``export_locations`` and the items it named first its ``export_items``. So a URL is named
to a contact once, and re-notices (``exchange_ledger.notices``) count and escalate exactly
as a partner's do.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from catalog.db import Database
from catalog.decisions.records import Verdict
from catalog.decisions.verdict_rows import current_verdicts
from catalog.exchange_ledger.ledger import counted_verdict
from catalog.exchange_ledger.records import AbuseLocation, AbuseNotice
from catalog.schema import export_locations, export_resends, exports, rechecks, sightings, takedown_notices

ABUSE = "abuse:"


def _removed() -> sa.Select[Any]:
    """(item, URL) pairs whose latest re-check found them removed."""
    ranked = sa.select(
        rechecks.c.sha256, rechecks.c.url, rechecks.c.outcome,
        sa.func.row_number().over(partition_by=(rechecks.c.sha256, rechecks.c.url),
                                  order_by=(rechecks.c.checked_at.desc(), rechecks.c.id.desc())).label("n"),
    ).subquery()
    return sa.select(ranked.c.sha256, ranked.c.url).where(ranked.c.n == 1, ranked.c.outcome == "removed")


class AbuseNotices(Database):
    """Part of ``ExchangeStore``: what abuse contacts are owed and were told."""

    def abuse_locations(self, *, skip_countries: Collection[str] = ()) -> list[AbuseLocation]:
        """The URLs of decided items (exportable current verdict, confirmed under four-eyes)
        whose media is not hosted in one of ``skip_countries`` (the partners' countries: the
        partner notifies there) and that no re-check found removed since, one per (item,
        media URL, page URL), with the media's address and country and when it was first
        seen: those no abuse contact was told of, and every one of an item waiting for a
        re-notice to a contact (so a run reads what is due, not all it ever sent)."""
        cv = current_verdicts()
        removed = _removed().subquery()
        skip = [c.upper() for c in skip_countries]
        query = (
            sa.select(sightings.c.sha256, cv.c.id.label("verdict_id"), sightings.c.media_url, sightings.c.page_url,
                      sa.func.max(sightings.c.ip).label("ip"), sa.func.max(sightings.c.country).label("country"),
                      sa.func.min(sightings.c.seen_at).label("first_seen"))
            .join(cv, cv.c.sha256 == sightings.c.sha256)
            .where(cv.c.verdict.in_([v.value for v in Verdict if v.exportable]), counted_verdict(cv),
                   sa.or_(sightings.c.country.is_(None), sightings.c.country.not_in(skip)) if skip else sa.true(),
                   ~sa.exists().where(removed.c.sha256 == sightings.c.sha256, removed.c.url == sightings.c.media_url),
                   sa.or_(~sa.exists().where(export_locations.c.destination.startswith(ABUSE),
                                             export_locations.c.sha256 == sightings.c.sha256,
                                             export_locations.c.media_url == sightings.c.media_url,
                                             export_locations.c.page_url == sightings.c.page_url),
                          sightings.c.sha256.in_(sa.select(export_resends.c.sha256).where(
                              export_resends.c.destination.startswith(ABUSE), export_resends.c.bundle_id.is_(None)))))
            .group_by(sightings.c.sha256, cv.c.id, sightings.c.media_url, sightings.c.page_url)
            .order_by(sa.func.min(sightings.c.id))
        )
        with self.read() as conn:
            return [AbuseLocation(r.sha256, r.verdict_id, r.media_url, r.page_url, r.ip, r.country, r.first_seen)
                    for r in conn.execute(query)]

    def abuse_told(self, destination: str, sha256s: Collection[str]) -> set[tuple[str, str, str]]:
        """The (item, media URL, page URL) of these items that notices to ``destination`` named."""
        with self.read() as conn:
            return set(conn.execute(sa.select(
                export_locations.c.sha256, export_locations.c.media_url, export_locations.c.page_url).where(
                export_locations.c.destination == destination,
                export_locations.c.sha256.in_(list(sha256s)))).tuples())

    def export_recorded(self, bundle_id: str) -> bool:
        """Whether a delivery (a bundle, a notice) with this ID is on the ledger."""
        with self.read() as conn:
            return conn.scalar(sa.select(exports.c.id).where(exports.c.bundle_id == bundle_id)) is not None

    def abuse_notices(self, sha256s: Collection[str]) -> list[AbuseNotice]:
        """The notices e-mailed to abuse contacts that named these items, oldest first: to
        which contact and addresses, when, which notice, and the URLs named."""
        wanted = list(sha256s)
        with self.read() as conn:
            mails = {r.bundle_id: r for r in conn.execute(sa.select(exports).where(
                exports.c.destination.startswith(ABUSE), exports.c.id.in_(
                    sa.select(export_locations.c.export_id).where(export_locations.c.sha256.in_(wanted))
                    .union(sa.select(exports.c.id).join(export_resends, export_resends.c.bundle_id == exports.c.bundle_id)
                           .where(export_resends.c.sha256.in_(wanted))))))}
            by_id = {r.id: r for r in mails.values()}
            told: dict[tuple[str, str], list[tuple[Any, str]]] = {}  # (contact, item) -> [(sent at, URL)]
            named: dict[tuple[str, str], list[str]] = {}  # (reference, item) -> URLs first named there
            for export_id, sha, url in conn.execute(sa.select(
                    export_locations.c.export_id, export_locations.c.sha256, export_locations.c.media_url)
                    .where(export_locations.c.destination.startswith(ABUSE), export_locations.c.sha256.in_(wanted))
                    .order_by(export_locations.c.export_id)).tuples():
                mail = by_id.get(export_id)
                if mail is not None:
                    told.setdefault((mail.destination, sha), []).append((mail.created_at, url))
                    named.setdefault((mail.bundle_id, sha), []).append(url)
            again = {(r.bundle_id, r.sha256): (r.notice, bool(r.escalated)) for r in conn.execute(
                sa.select(export_resends.c.bundle_id, takedown_notices.c.sha256, takedown_notices.c.notice,
                          takedown_notices.c.escalated)
                .join(takedown_notices, takedown_notices.c.resend_id == export_resends.c.id)
                .where(export_resends.c.bundle_id.in_(list(mails)), takedown_notices.c.sha256.in_(wanted)))}
        notices: list[AbuseNotice] = []
        for (ref, sha) in sorted(set(named) | set(again), key=lambda k: (mails[k[0]].id, k[1])):
            mail = mails[ref]
            number, escalated = again.get((ref, sha), (1, False))
            # a re-notice names again every URL told before, and any new one
            urls = [u for at, u in told.get((mail.destination, sha), []) if at <= mail.created_at] \
                if (ref, sha) in again else named[(ref, sha)]
            notices.append(AbuseNotice(mail.destination, tuple(mail.recipients), sha, ref, number, escalated,
                                       mail.created_at, tuple(dict.fromkeys(urls))))
        return notices
