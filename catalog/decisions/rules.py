"""The installation's review rules, stored in the catalog so that every process (the
command line, the web app, flows, recomputation) applies the same ones.

Only an admin changes a rule, and the change is audited (``rules.set``) with the value it
replaced. Which rules there are and what they mean is ``classification.review``'s business;
this module keeps their values.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.decisions.records import ReviewRules
from catalog.errors import NotFound, RulesChanged
from catalog.schema import review_rules
from catalog.users.audit import audit
from catalog.users.store import require_role

RULE_TYPES: dict[str, type] = {"four_eyes": bool}
"""Each rule and the type of its value (``ReviewRules`` has one field per rule)."""


def read_rules(conn: sa.Connection, *, lock: bool = False) -> ReviewRules:
    """The rules in force. ``lock``: for a decision made under them, in its write
    transaction; on PostgreSQL the rows are held (FOR SHARE) until it ends, so an admin's
    change waits for the decision, or the decision for the change. (SQLite's writers are
    one at a time already.)"""
    query = sa.select(review_rules.c.name, review_rules.c.value)
    stored = dict(conn.execute(query.with_for_update(read=True) if lock else query).all())
    defaults = ReviewRules()
    return ReviewRules(**{name: kind(stored.get(name, getattr(defaults, name))) for name, kind in RULE_TYPES.items()})


def check_rules(conn: sa.Connection, applied: ReviewRules | None) -> None:
    """Refuse (``RulesChanged``) a decision made under ``applied`` when the rules in force,
    read in its write transaction, are others; None: the caller applied none."""
    if applied is None:
        return
    now = read_rules(conn, lock=True)
    if now == applied:
        return
    changed = [name for name in RULE_TYPES if getattr(now, name) != getattr(applied, name)]
    who = conn.execute(sa.select(review_rules.c.updated_by, review_rules.c.updated_at)
                       .where(review_rules.c.name == changed[0])).first()
    since = f" (set by {who.updated_by} at {who.updated_at:%Y-%m-%d %H:%M:%S} UTC)" if who and who.updated_at else ""
    values = ", ".join(f"{name} is now {_shown(getattr(now, name))}" for name in changed)
    raise RulesChanged(f"the review rules changed meanwhile: {values}{since}; decide again under them")


def _shown(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else repr(value)


class RuleRows(Database):
    """Part of ``ReviewStore``: the review rules."""

    def review_rules(self) -> ReviewRules:
        with self.read() as conn:
            return read_rules(conn)

    def set_review_rule(self, name: str, value: Any, *, actor: str) -> ReviewRules:
        """Change one rule (admins only; audited with the previous value)."""
        if name not in RULE_TYPES:
            raise NotFound(f"no review rule {name!r}; rules: {', '.join(RULE_TYPES)}")
        if not isinstance(value, RULE_TYPES[name]):
            raise ValueError(f"review rule {name} takes a {RULE_TYPES[name].__name__}, not {value!r}")
        with self.write() as conn:
            require_role(conn, actor, {"admin"}, f"change the review rule {name}")
            previous = getattr(read_rules(conn), name)
            updated = conn.execute(review_rules.update().where(review_rules.c.name == name).values(
                value=value, updated_at=utcnow(), updated_by=actor)).rowcount
            if not updated:
                conn.execute(review_rules.insert().values(name=name, value=value, updated_at=utcnow(), updated_by=actor))
            audit(conn, actor, "rules.set", name, value=value, previous=previous)
            return read_rules(conn)
