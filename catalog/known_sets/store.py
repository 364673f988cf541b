"""``KnownSetStore``: known-hash sets. The hashes themselves live in Parquet files (see
``hashing.knownsets``); the store owns ``known_sets`` (each set's name, verdict, category
mapping, file and state), ``known_holds`` (the known rows held out of matching: flood
quarantine, contested matches), ``known_rechecks`` (the automatic verdicts an earlier
category rule produced) and ``matches`` (``known_sets.matches``). Records:
``known_sets.records``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.db import inserted_id, utcnow
from catalog.decisions.records import REVIEW, Verdict
from catalog.decisions.verdict_rows import current_verdicts, withdraw_automatic
from catalog.errors import NotFound
from catalog.known_sets.matches import KnownMatches
from catalog.known_sets.records import KnownHold, KnownRecheck, KnownSetEntry, MatchRecord
from catalog.schema import frame_hashes, hashes, known_holds, known_rechecks, known_sets, matches
from catalog.users.audit import audit

FLOOD_FACTOR = 10
"""A row floods when it matches at least this many times as many items as in its history."""


def _entry(row: sa.Row) -> KnownSetEntry:
    m = row._mapping
    return KnownSetEntry(
        name=m["name"],
        verdict=Verdict(m["verdict"]) if m["verdict"] else None,
        path=m["path"],
        rows=m["rows"],
        content_sha256=m["content_sha256"],
        pdq_threshold=m["pdq_threshold"],
        enabled=bool(m["enabled"]),
        source=m["source"],
        imported_at=m["imported_at"],
        category_verdicts={k: _outcome(v) for k, v in (m["category_verdicts"] or {}).items()},
        benign=bool(m["benign"]),
        format=m["format"],
        category_profile=m["category_profile"],
        categorized=m["categorized"],
    )


def _outcome(text: str) -> Verdict | None:
    """A stored category outcome: a verdict, or ``review`` (None)."""
    return None if text == REVIEW else Verdict(text)


class KnownSetStore(KnownMatches):
    """Known-hash sets, their matches, held rows and rechecks."""

    def register_known_set(
        self,
        *,
        name: str,
        verdict: Verdict | None,
        path: str,
        rows: int,
        content_sha256: str,
        actor: str,
        source: str | None = None,
        pdq_threshold: int = 31,
        category_verdicts: dict[str, Verdict | None] | None = None,
        benign: bool = False,
        format: str | None = None,
        category_profile: str | None = None,
        categorized: bool | None = None,
    ) -> bool:
        """Register or update a set; returns False when the same content was already there
        with the same settings (a disabled set stays disabled then). ``verdict`` is for the
        rows of a set without categories; ``category_verdicts`` maps each category the rows
        carry to a verdict or None (review)."""
        values = dict(
            verdict=None if verdict is None else str(verdict), path=path, rows=rows, content_sha256=content_sha256,
            source=source, pdq_threshold=pdq_threshold,
            category_verdicts={k: REVIEW if v is None else str(v) for k, v in sorted((category_verdicts or {}).items())},
            benign=benign, format=format, category_profile=category_profile, categorized=categorized,
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
            audit(conn, actor, "known_set.import", name, rows=rows, verdict=values["verdict"],
                  category_profile=category_profile,
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

    # --- automatic verdicts of the earlier category rule ------------------------------------

    def known_rechecks(self, *, open_only: bool = True) -> list[KnownRecheck]:
        """Automatic verdicts a category the set did not map produced (found by the catalog
        migration); ``open_only``: those not sent back to review yet."""
        query = sa.select(known_rechecks).order_by(known_rechecks.c.id)
        if open_only:
            query = query.where(known_rechecks.c.resolved_at.is_(None))
        with self.read() as conn:
            return [KnownRecheck(**row._mapping) for row in conn.execute(query)]

    def send_rechecks_to_review(self, *, actor: str) -> list[str]:
        """Withdraw every open re-check's verdict, if it is still the item's current one, and
        put the item back in the review queue (audited); the re-checks are closed either way.
        Returns the items sent back."""
        with self.write() as conn:
            open_rows = conn.execute(
                sa.select(known_rechecks).where(known_rechecks.c.resolved_at.is_(None))
            ).all()
            sent = withdraw_automatic(
                conn, [r.sha256 for r in open_rows], actor=actor,
                reason="known-set category the set did not map (earlier rule): back to review",
            )
            conn.execute(
                known_rechecks.update().where(known_rechecks.c.id.in_([r.id for r in open_rows]))
                .values(resolved_at=utcnow(), resolved_by=actor)
            )
        return sent

    def withdraw_row_verdicts(self, set_name: str, known_ids: Sequence[str], *, actor: str, reason: str) -> list[str]:
        """Withdraw the automatic verdicts that rows ``known_ids`` of ``set_name`` gave (the
        item's current verdict only) and put those items back in the review queue (audited
        per item): the set's source corrected or retracted the rows. Returns the items sent back."""
        if not known_ids:
            return []
        with self.write() as conn:
            matched = conn.scalars(sa.select(matches.c.sha256).distinct().where(
                matches.c.set_name == set_name, matches.c.known_id.in_(list(known_ids)))).all()
            return withdraw_automatic(conn, matched, actor=actor, reason=reason, set_name=set_name)

    # --- known rows held out of matching ---------------------------------------------------

    def hold_known_row(
        self, set_name: str, row_key: str, *, kind: str, reason: str, actor: str,
        sha256: str | None = None, detail: dict[str, object] | None = None,
    ) -> int:
        """Hold one known row out of matching (audited): ``quarantine`` or ``contested``.
        A row already held the same way for the same item is not held twice; returns the
        hold's ID."""
        if kind not in ("quarantine", "contested"):
            raise ValueError(f"a hold is 'quarantine' or 'contested', not {kind!r}")
        with self.write() as conn:
            return hold_row(conn, set_name, row_key, kind=kind, reason=reason, actor=actor, sha256=sha256,
                            detail=detail)

    def release_known_hold(self, hold_id: int, *, actor: str) -> KnownHold:
        """Let a held row match again (audited)."""
        with self.write() as conn:
            row = conn.execute(sa.select(known_holds).where(known_holds.c.id == hold_id)).first()
            if row is None:
                raise NotFound(f"no known-row hold {hold_id!r}")
            if row.released_at is None:
                conn.execute(known_holds.update().where(known_holds.c.id == hold_id)
                             .values(released_at=utcnow(), released_by=actor))
                audit(conn, actor, "known_row.release", row.set_name, hold=hold_id, row_key=row.row_key,
                      kind=row.kind)
            row = conn.execute(sa.select(known_holds).where(known_holds.c.id == hold_id)).one()
        return KnownHold(**row._mapping)

    def known_holds(self, *, active_only: bool = True, kind: str | None = None) -> list[KnownHold]:
        query = sa.select(known_holds).order_by(known_holds.c.id)
        if active_only:
            query = query.where(known_holds.c.released_at.is_(None))
        if kind is not None:
            query = query.where(known_holds.c.kind == kind)
        with self.read() as conn:
            return [KnownHold(**row._mapping) for row in conn.execute(query)]

    def held_rows(self) -> dict[str, frozenset[str]]:
        """Per set, the row keys held out of matching now."""
        found: dict[str, set[str]] = {}
        for hold in self.known_holds():
            found.setdefault(hold.set_name, set()).add(hold.row_key)
        return {name: frozenset(keys) for name, keys in found.items()}

    def quarantine_floods(
        self, found: Sequence[MatchRecord], *, threshold: int, window: timedelta, factor: int = FLOOD_FACTOR,
        actor: str = "matcher",
    ) -> list[KnownHold]:
        """Quarantine the known rows of ``found`` that suddenly match far more distinct items
        than before: at least ``threshold`` within ``window`` (this batch included), and at
        least ``factor`` times as many as in all the time before it. A quarantined row is
        held out of matching (audited, listed by ``hotline doctor``) and the automatic
        verdicts it gave within the window go back to review. Returns the new holds."""
        batch: dict[tuple[str, str], set[str]] = {}
        for m in found:
            if m.row_key is not None and m.verdict is not None:
                batch.setdefault((m.set_name, m.row_key), set()).add(m.sha256)
        since = utcnow() - window
        holds: list[int] = []
        with self.write() as conn:
            for (set_name, key), items in sorted(batch.items()):
                recent = items | self._matched_since(conn, set_name, key, since, before=False)
                if len(recent) < threshold:
                    continue
                history = len(self._matched_since(conn, set_name, key, since, before=True))
                if len(recent) < factor * history:
                    continue
                reason = (f"matched {len(recent)} items within {window}, against {history} before "
                          f"(threshold {threshold})")
                held_ids = {h.id for h in self._active_holds(conn, set_name, key, "quarantine")}
                hold_id = hold_row(conn, set_name, key, kind="quarantine", reason=reason, actor=actor,
                                   detail={"recent": len(recent), "history": history})
                if hold_id not in held_ids:
                    holds.append(hold_id)
                    withdraw_automatic(conn, sorted(recent), actor=actor, set_name=set_name,
                                       reason=f"known row {key[:40]} of {set_name!r} quarantined: {reason}")
        return [h for h in self.known_holds() if h.id in holds]

    @staticmethod
    def _matched_since(conn: sa.Connection, set_name: str, key: str, since: datetime, *, before: bool) -> set[str]:
        when = matches.c.matched_at < since if before else matches.c.matched_at >= since
        return set(conn.scalars(sa.select(matches.c.sha256).distinct().where(
            matches.c.set_name == set_name, matches.c.row_key == key, when)))

    @staticmethod
    def _active_holds(conn: sa.Connection, set_name: str, key: str, kind: str) -> list[KnownHold]:
        return [KnownHold(**r._mapping) for r in conn.execute(sa.select(known_holds).where(
            known_holds.c.set_name == set_name, known_holds.c.row_key == key, known_holds.c.kind == kind,
            known_holds.c.released_at.is_(None)))]

    def known_set_statistics(self, *, min_quality: int) -> dict[str, Any]:
        """Per set (and summed per source): distinct items matched, items whose current
        verdict it gave (auto-classified), items it only hinted at (a category it does not
        map), contested matches and quarantined rows; and how many stored PDQ hashes were
        too flat to match (image PDQs and video or animation frames below ``min_quality``)."""
        with self.read() as conn:
            return _statistics(conn, min_quality)

    def mark_feedback_sent(self, hold_ids: list[int], sent_in: str, *, actor: str) -> None:
        """Record that contested matches were told to their set's source (``sent_in``: a
        bundle ID or a file), audited."""
        if not hold_ids:
            return
        with self.write() as conn:
            conn.execute(known_holds.update().where(known_holds.c.id.in_(hold_ids)).values(feedback_sent=sent_in))
            audit(conn, actor, "known_row.feedback", sent_in, holds=sorted(hold_ids))


def hold_row(
    conn: sa.Connection, set_name: str, row_key: str, *, kind: str, reason: str, actor: str,
    sha256: str | None = None, detail: dict[str, object] | None = None,
) -> int:
    """``hold_known_row`` in ``conn``'s transaction."""
    same = sa.and_(known_holds.c.set_name == set_name, known_holds.c.row_key == row_key,
                   known_holds.c.kind == kind, known_holds.c.released_at.is_(None))
    if sha256 is not None:
        same = sa.and_(same, known_holds.c.sha256 == sha256)
    existing = conn.scalar(sa.select(known_holds.c.id).where(same))
    if existing is not None:
        return int(existing)
    hold_id = inserted_id(conn.execute(known_holds.insert().values(
        set_name=set_name, row_key=row_key, kind=kind, sha256=sha256, reason=reason, detail=detail,
        actor=actor, created_at=utcnow(),
    )))
    audit(conn, actor, f"known_row.{'quarantine' if kind == 'quarantine' else 'contest'}", set_name,
          hold=hold_id, row_key=row_key, sha256=sha256, reason=reason, **(detail or {}))
    return hold_id


def _statistics(conn: sa.Connection, min_quality: int) -> dict[str, Any]:
    """``KnownSetStore.known_set_statistics`` in ``conn``'s transaction."""
    per_set: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return per_set.setdefault(name, {"set": name, "source": None, "matched_items": 0, "auto_classified": 0,
                                         "hints_only": 0, "contested": 0, "quarantined_rows": 0})

    for name, source in conn.execute(sa.select(known_sets.c.name, known_sets.c.source)):
        entry(name)["source"] = source
    for name, count in conn.execute(sa.select(matches.c.set_name, sa.func.count(sa.distinct(matches.c.sha256)))
                                    .group_by(matches.c.set_name)):
        entry(name)["matched_items"] = count
    for name, count in conn.execute(sa.select(matches.c.set_name, sa.func.count(sa.distinct(matches.c.sha256)))
                                    .where(matches.c.verdict == REVIEW).group_by(matches.c.set_name)):
        entry(name)["hints_only"] = count
    cv = current_verdicts()
    for name, count in conn.execute(sa.select(cv.c.set_name, sa.func.count()).where(cv.c.source == "known-set")
                                    .group_by(cv.c.set_name)):
        entry(name)["auto_classified"] = count
    holds = (sa.select(known_holds.c.set_name, known_holds.c.kind, sa.func.count())
             .where(known_holds.c.released_at.is_(None)).group_by(known_holds.c.set_name, known_holds.c.kind))
    for name, kind, count in conn.execute(holds):
        entry(name)["contested" if kind == "contested" else "quarantined_rows"] = count
    sets = sorted(per_set.values(), key=lambda f: f["set"])
    sources: dict[str, dict[str, Any]] = {}
    for f in sets:
        total = sources.setdefault(f["source"] or "", {"source": f["source"], "sets": 0, "matched_items": 0,
                                                       "auto_classified": 0, "contested": 0})
        total["sets"] += 1
        for key in ("matched_items", "auto_classified", "contested"):
            total[key] += f[key]
    images = conn.scalar(sa.select(sa.func.count()).select_from(hashes).where(
        hashes.c.algorithm == "pdq", hashes.c.quality < min_quality))
    frames = conn.scalar(sa.select(sa.func.count()).select_from(frame_hashes).where(
        frame_hashes.c.quality < min_quality, frame_hashes.c.view.is_(None)))  # sampled frames, not their views
    return {"sets": sets, "sources": sorted(sources.values(), key=lambda t: t["source"] or ""),
            "low_quality": {"min_quality": min_quality, "images": images or 0, "frames": frames or 0}}
