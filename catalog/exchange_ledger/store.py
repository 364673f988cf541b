"""``ExchangeStore``: the exchange with partners and INTERPOL. It owns ``partners`` and
``inbound_bundles`` (here), the export ledger (``exports``, ``export_items``,
``export_locations``, ``export_resends``, ``export_corrections``: ``exchange_ledger.ledger``),
re-notices of items still up (``takedown_notices``: ``exchange_ledger.notices``), takedown
notices e-mailed to abuse contacts (on the same ledger: ``exchange_ledger.abuse``), the purging of
evidence once it is decided and delivered (``exchange_ledger.purges``); partners' handled
lists and what they name of ours (``partner_lists``). Records:
``exchange_ledger.records``.

A partner is registered once and updated in place; its Ed25519 signing keys accumulate
(a rotation adds a key, so bundles signed before the rotation still verify) unless they are
replaced on purpose. Every bundle that reaches us is recorded, imported or refused, so a
bundle ID is imported at most once (replay protection) and a refused file is not retried
on every poll.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from catalog.db import inserted_id, utcnow
from catalog.errors import NotFound
from catalog.exchange_ledger.abuse import AbuseNotices
from catalog.exchange_ledger.ledger import ExportLedger
from catalog.exchange_ledger.notices import TakedownNotices
from catalog.exchange_ledger.partner_lists import PartnerLists
from catalog.exchange_ledger.purges import EvidencePurges
from catalog.exchange_ledger.records import InboundEntry, Partner
from catalog.schema import inbound_bundles, partners, reports
from catalog.users.audit import audit


def _partner(row: sa.Row) -> Partner:
    m = row._mapping
    return Partner(
        name=m["name"], countries=tuple(m["countries"]), encryption_key=m["encryption_key"],
        signing_keys=tuple(m["signing_keys"]), destination=m["destination"],
        endpoint_url=m["endpoint_url"], media=bool(m["media"]), hash_sets=bool(m["hash_sets"]),
        added_at=m["added_at"], updated_at=m["updated_at"],
    )


def _inbound(row: sa.Row) -> InboundEntry:
    return InboundEntry(**row._mapping)


class ExchangeStore(ExportLedger, TakedownNotices, AbuseNotices, EvidencePurges, PartnerLists):
    """Partners, bundles received, the export ledger, re-notices, notices to abuse contacts,
    evidence purges and partners' handled lists."""

    def save_partner(self, partner: Partner, *, actor: str, replace_signing_keys: bool = False) -> Partner:
        """Register ``partner`` or update it (audited). Signing keys are added to the ones
        already registered unless ``replace_signing_keys``; returns the stored partner."""
        now = utcnow()
        with self.write() as conn:
            old = conn.execute(sa.select(partners).where(partners.c.name == partner.name)).first()
            keys = list(partner.signing_keys)
            if old is not None and not replace_signing_keys:
                keys = list(dict.fromkeys([*old.signing_keys, *keys]))
            values = dict(
                countries=sorted({c.upper() for c in partner.countries}), encryption_key=partner.encryption_key,
                signing_keys=keys, destination=partner.destination, endpoint_url=partner.endpoint_url,
                media=partner.media, hash_sets=partner.hash_sets, updated_at=now,
            )
            if old is None:
                conn.execute(partners.insert().values(name=partner.name, added_at=now, **values))
            else:
                conn.execute(partners.update().where(partners.c.name == partner.name).values(**values))
            audit(conn, actor, "partner.add" if old is None else "partner.update", partner.name,
                  countries=values["countries"], destination=partner.destination, media=partner.media,
                  signing_keys=len(keys))
            row = conn.execute(sa.select(partners).where(partners.c.name == partner.name)).one()
        return _partner(row)

    def partners(self) -> list[Partner]:
        with self.read() as conn:
            return [_partner(r) for r in conn.execute(sa.select(partners).order_by(partners.c.name))]

    def get_partner(self, name: str) -> Partner:
        with self.read() as conn:
            row = conn.execute(sa.select(partners).where(partners.c.name == name)).first()
        if row is None:
            raise NotFound(f"no partner {name!r}")
        return _partner(row)

    def remove_partner(self, name: str, *, actor: str) -> None:
        with self.write() as conn:
            if conn.execute(partners.delete().where(partners.c.name == name)).rowcount == 0:
                raise NotFound(f"no partner {name!r}")
            audit(conn, actor, "partner.remove", name)

    def bundle_imported(self, bundle_id: str) -> InboundEntry | None:
        """The import of ``bundle_id``, if it was imported before."""
        query = sa.select(inbound_bundles).where(
            inbound_bundles.c.bundle_id == bundle_id, inbound_bundles.c.status == "imported"
        )
        with self.read() as conn:
            row = conn.execute(query.limit(1)).first()
        return None if row is None else _inbound(row)

    def inbound_seen(self, location: str) -> bool:
        """Whether the file at ``location`` was handled (imported or refused) before. Bundle
        files are named by their bundle ID and never change, so the poller skips them."""
        query = sa.select(inbound_bundles.c.id).where(inbound_bundles.c.location == location)
        with self.read() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def reported_urls(self, urls: Mapping[str, str | None]) -> set[str]:
        """Those of ``urls`` (each with its URL identity, ``NewReport.url_key``, or None) that
        some report (ours or a partner's) already names, as written or by that identity."""
        if not urls:
            return set()
        keys = [k for k in urls.values() if k]
        with self.read() as conn:
            found = conn.execute(sa.select(reports.c.url, reports.c.url_key).where(
                sa.or_(reports.c.url.in_(list(urls)), reports.c.url_key.in_(keys)))).all()
        named, keyed = {r.url for r in found}, {r.url_key for r in found if r.url_key}
        return {u for u, k in urls.items() if u in named or (k is not None and k in keyed)}

    def record_inbound(
        self,
        *,
        location: str,
        sha256: str,
        size: int,
        status: str,
        actor: str,
        bundle_id: str | None = None,
        partner: str | None = None,
        reason: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> int:
        """Record a bundle we received (audited as ``bundle.import`` or ``bundle.refuse``)."""
        if status not in ("imported", "refused"):
            raise ValueError(f"inbound status must be 'imported' or 'refused', not {status!r}")
        with self.write() as conn:
            if status == "imported" and bundle_id is not None and conn.execute(
                sa.select(inbound_bundles.c.id).where(
                    inbound_bundles.c.bundle_id == bundle_id, inbound_bundles.c.status == "imported"
                )
            ).first() is not None:
                raise ValueError(f"bundle {bundle_id!r} was imported already")
            row_id = inserted_id(conn.execute(
                inbound_bundles.insert().values(
                    bundle_id=bundle_id, partner=partner, location=location, sha256=sha256, size=size,
                    status=status, reason=reason, summary=summary, received_at=utcnow(),
                )
            ))
            audit(conn, actor, "bundle.import" if status == "imported" else "bundle.refuse",
                  bundle_id or location, partner=partner, location=location, sha256=sha256,
                  reason=reason, **(summary or {}))
        return int(row_id)

    def inbound(self, limit: int = 100, statuses: Sequence[str] | None = None) -> list[InboundEntry]:
        query = sa.select(inbound_bundles).order_by(inbound_bundles.c.id.desc()).limit(limit)
        if statuses:
            query = query.where(inbound_bundles.c.status.in_(list(statuses)))
        with self.read() as conn:
            return [_inbound(r) for r in conn.execute(query)]
