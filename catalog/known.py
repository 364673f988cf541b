"""The registry of known-hash sets. The hashes themselves live in Parquet files (see
``hashing.known``); the catalog records each set's name, verdict, file and state."""

from __future__ import annotations

import sqlalchemy as sa

from catalog.audit import audit
from catalog.db import Database, utcnow
from catalog.errors import NotFound
from catalog.records import KnownSetEntry, Verdict
from catalog.schema import known_sets

# Who a set comes from, as its ``source`` says: ``interpol`` for INTERPOL's own sets (give
# ``--source interpol`` at import), ``partner:<name>`` for the sets made of a partner
# hotline's confirmed hashes (written by bundle imports); anything else is free text.
# INTERPOL's sets need no flag of their own: INTERPOL is sent analysts' verdicts only.
PARTNER_SOURCE = "partner:"


def is_partner_source(source: str | None) -> bool:
    """Whether a set with this ``source`` holds a partner hotline's verdicts."""
    return bool(source) and str(source).lower().startswith(PARTNER_SOURCE)


def _entry(row: sa.Row) -> KnownSetEntry:
    m = row._mapping
    return KnownSetEntry(
        name=m["name"],
        verdict=Verdict(m["verdict"]),
        path=m["path"],
        rows=m["rows"],
        content_sha256=m["content_sha256"],
        pdq_threshold=m["pdq_threshold"],
        enabled=bool(m["enabled"]),
        source=m["source"],
        imported_at=m["imported_at"],
        category_verdicts={k: Verdict(v) for k, v in (m["category_verdicts"] or {}).items()},
        benign=bool(m["benign"]),
        format=m["format"],
    )


class KnownSetsMixin(Database):
    def register_known_set(
        self,
        *,
        name: str,
        verdict: Verdict,
        path: str,
        rows: int,
        content_sha256: str,
        actor: str,
        source: str | None = None,
        pdq_threshold: int = 31,
        category_verdicts: dict[str, Verdict] | None = None,
        benign: bool = False,
        format: str | None = None,
    ) -> bool:
        """Register or update a set; returns False when the same content was already there
        with the same settings (a disabled set stays disabled then)."""
        values = dict(
            verdict=str(verdict), path=path, rows=rows, content_sha256=content_sha256,
            source=source, pdq_threshold=pdq_threshold,
            category_verdicts={k: str(v) for k, v in sorted((category_verdicts or {}).items())},
            benign=benign, format=format,
        )
        with self.write() as conn:
            old = conn.execute(sa.select(known_sets).where(known_sets.c.name == name)).first()
            if old is not None and all(old._mapping[k] == v for k, v in values.items()):
                return False
            if old is None:
                conn.execute(known_sets.insert().values(name=name, imported_at=utcnow(), enabled=True, **values))
            else:
                conn.execute(
                    known_sets.update().where(known_sets.c.name == name).values(imported_at=utcnow(), **values)
                )
            audit(conn, actor, "known_set.import", name, rows=rows, verdict=str(verdict),
                  content_sha256=content_sha256, benign=benign, format=format,
                  category_verdicts=values["category_verdicts"], pdq_threshold=pdq_threshold)
        return True

    def set_known_set_enabled(self, name: str, enabled: bool, *, actor: str) -> bool:
        """Enable or disable a set (audited); returns False when it already was so."""
        with self.write() as conn:
            current = conn.scalar(sa.select(known_sets.c.enabled).where(known_sets.c.name == name))
            if current is None:
                raise NotFound(f"no known set {name!r}")
            if bool(current) == enabled:
                return False
            conn.execute(known_sets.update().where(known_sets.c.name == name).values(enabled=enabled))
            audit(conn, actor, "known_set.enable" if enabled else "known_set.disable", name)
        return True

    def delete_known_set(self, name: str, *, actor: str) -> KnownSetEntry:
        """Remove a set from the registry (audited); its past matches and verdicts stay.
        Returns the removed entry, whose file the caller deletes."""
        with self.write() as conn:
            row = conn.execute(sa.select(known_sets).where(known_sets.c.name == name)).first()
            if row is None:
                raise NotFound(f"no known set {name!r}")
            conn.execute(known_sets.delete().where(known_sets.c.name == name))
            audit(conn, actor, "known_set.delete", name, rows=row.rows, content_sha256=row.content_sha256)
        return _entry(row)

    def known_sets(self, *, enabled_only: bool = False) -> list[KnownSetEntry]:
        query = sa.select(known_sets).order_by(known_sets.c.name)
        if enabled_only:
            query = query.where(known_sets.c.enabled == sa.true())
        with self.read() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def get_known_set(self, name: str) -> KnownSetEntry:
        with self.read() as conn:
            row = conn.execute(sa.select(known_sets).where(known_sets.c.name == name)).first()
        if row is None:
            raise NotFound(f"no known set {name!r}")
        return _entry(row)
