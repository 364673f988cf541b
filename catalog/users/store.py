"""``UserStore``: who acts. It owns ``users`` (people who log in: the review app, or
``hotline login``), ``web_sessions`` and ``cli_tokens``, and the append-only ``audit_log``
(``users.audit``). Records: ``users.records``.

The catalog stores a slow password hash (made by the caller; ``hotline.passwords`` uses
argon2id) and, for web sessions and command-line tokens, only the SHA-256 of the token the
browser or the user's token file holds. A session ends at ``expires_at`` or after ``idle``
without a request, whichever comes first; a command-line token at ``expires_at``.

Only an admin adds or changes users (everyone may change their own blur); while the
installation has no active admin, the operator account may add the first one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.db import utcnow
from catalog.errors import Forbidden, InvalidState, NotFound
from catalog.schema import cli_tokens, users, web_sessions
from catalog.users.audit import AuditLog, audit
from catalog.users.records import User, WebSession

ROLES = ("analyst", "senior", "operator", "statistician", "admin", "intake")
"""analyst grades; senior also confirms (four-eyes) and overrides; operator runs the
pipeline; statistician sees figures only; admin manages users; intake is a system that files
reports over HTTP (a public report form, a partner's system), with a token and no password.
Only analyst and senior see media."""
MEDIA_ROLES = frozenset({"analyst", "senior"})
SYSTEM = "system"
"""The operator account: unattended flows, recomputation, and commands run without a login act
as it. It is no user: nobody logs in as it, and it never grades, decides or confirms."""
RESERVED = frozenset({SYSTEM, "matcher", "law-profiles", "migration"})
"""Names the software acts as; no user may take one."""


def require_role(conn: sa.Connection, actor: str, roles: set[str] | frozenset[str], what: str) -> User:
    """The active user ``actor``, when their role is one of ``roles``; else Forbidden."""
    row = conn.execute(sa.select(users).where(users.c.name == actor)).first()
    if row is None or not row.active:
        raise Forbidden(f"{actor!r} is no active user; only {' or '.join(sorted(roles))} may {what}")
    if row.role not in roles:
        raise Forbidden(f"{actor!r} is {row.role}; only {' or '.join(sorted(roles))} may {what}")
    return _user(row)


def _require_admin(conn: sa.Connection, actor: str, what: str, *, first_admin: bool = False) -> None:
    """An admin, or (``first_admin``) the operator account while no active admin exists."""
    if first_admin and conn.scalar(sa.select(sa.func.count()).select_from(users).where(
            users.c.role == "admin", users.c.active.is_(True))) == 0:
        return
    require_role(conn, actor, {"admin"}, what)


def _user(row: Any) -> User:
    return User(name=row.name, role=row.role, active=bool(row.active), blur=row.blur,
                reveal_budget=row.reveal_budget, created_at=row.created_at)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


class UserStore(AuditLog):
    """Users, their sessions and command-line tokens, and the audit log."""

    def add_user(self, name: str, role: str, password_hash: str, *, actor: str) -> User:
        """Add a user (audited); refused when the name is taken."""
        name = name.strip()
        if not name or len(name) > 128 or any(c.isspace() for c in name):
            raise ValueError(f"a user name is 1 to 128 characters without spaces, not {name!r}")
        if name.lower() in RESERVED:
            raise ValueError(f"{name!r} is a name the software acts as; choose another")
        now = utcnow()
        with self.write() as conn:
            _require_admin(conn, actor, "add users (add the first admin with --role admin)",
                           first_admin=role == "admin")
            if conn.scalar(sa.select(users.c.name).where(users.c.name == name)) is not None:
                raise InvalidState(f"user {name!r} exists already")
            conn.execute(users.insert().values(name=name, role=_check_role(role), password_hash=password_hash,
                                               active=True, created_at=now, updated_at=now))
            audit(conn, actor, "user.add", name, role=role)
            return _user(conn.execute(sa.select(users).where(users.c.name == name)).one())

    def update_user(self, name: str, *, actor: str, role: str | None = None, active: bool | None = None,
                    password_hash: str | None = None, blur: int | None = None,
                    reveal_budget: int | None = None) -> User:
        """Change a user's role, state, password, blur or reveal budget (audited; the
        password change is recorded without the hash). Deactivating ends their sessions."""
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = _check_role(role)
        if active is not None:
            values["active"] = active
        if password_hash is not None:
            values["password_hash"] = password_hash
        if blur is not None:
            if not 0 <= blur <= 64:
                raise ValueError(f"blur strength is 0..64, not {blur!r}")
            values["blur"] = blur
        if reveal_budget is not None:
            if reveal_budget < 0:
                raise ValueError(f"a reveal budget cannot be negative: {reveal_budget!r}")
            values["reveal_budget"] = reveal_budget
        with self.write() as conn:
            # one's own blur and password are one's own business (the caller checked the old password)
            if not (actor == name and set(values) <= {"blur", "password_hash"}):
                _require_admin(conn, actor, "change users")
            if not conn.execute(users.update().where(users.c.name == name).values(updated_at=utcnow(), **values)).rowcount:
                raise NotFound(f"no user {name!r}")
            if active is False or password_hash is not None or role is not None:
                conn.execute(web_sessions.delete().where(web_sessions.c.user_name == name))
                conn.execute(cli_tokens.delete().where(cli_tokens.c.user_name == name))
            audit(conn, actor, "user.update", name, **{k: v for k, v in values.items() if k != "password_hash"},
                  **({"password": "changed"} if password_hash is not None else {}))
            return _user(conn.execute(sa.select(users).where(users.c.name == name)).one())

    def users(self) -> list[User]:
        with self.read() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.name))]

    def user(self, name: str) -> User:
        with self.read() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user {name!r}")
        return _user(row)

    def password_hash(self, name: str) -> str | None:
        """The stored hash of an active user, None for an unknown or inactive name."""
        with self.read() as conn:
            return conn.scalar(sa.select(users.c.password_hash).where(users.c.name == name, users.c.active.is_(True)))

    def start_session(self, name: str, token_sha256: str, csrf: str, lifetime: timedelta) -> datetime:
        """Open a session for ``name`` (audited as a login); returns when it expires."""
        now = utcnow()
        with self.write() as conn:
            conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now))
            conn.execute(web_sessions.insert().values(token_sha256=token_sha256, user_name=name, csrf=csrf,
                                                      created_at=now, last_seen_at=now, expires_at=now + lifetime))
            audit(conn, name, "user.login", name)
        return now + lifetime

    def session(self, token_sha256: str, idle: timedelta) -> WebSession | None:
        """The live session with that token, its last use moved to now; None when there is
        none, it expired, it sat idle longer than ``idle``, or its user was deactivated."""
        now = utcnow()
        with self.read() as conn:
            row = conn.execute(
                sa.select(web_sessions, users.c.name, users.c.role, users.c.active, users.c.blur,
                          users.c.reveal_budget, users.c.created_at.label("user_created_at"))
                .join(users, users.c.name == web_sessions.c.user_name)
                .where(web_sessions.c.token_sha256 == token_sha256)).first()
        if row is None or row.expires_at <= now or row.last_seen_at + idle <= now or not row.active:
            return None
        if now - row.last_seen_at > timedelta(seconds=30):  # keep writes rare: touch at most twice a minute
            with self.write() as conn:
                conn.execute(web_sessions.update().where(web_sessions.c.token_sha256 == token_sha256)
                             .values(last_seen_at=now))
        user = User(name=row.name, role=row.role, active=True, blur=row.blur, reveal_budget=row.reveal_budget,
                    created_at=row.user_created_at)
        return WebSession(user=user, csrf=row.csrf, created_at=row.created_at, expires_at=row.expires_at)

    def end_session(self, token_sha256: str) -> None:
        with self.write() as conn:
            name = conn.scalar(sa.select(web_sessions.c.user_name).where(web_sessions.c.token_sha256 == token_sha256))
            conn.execute(web_sessions.delete().where(web_sessions.c.token_sha256 == token_sha256))
            if name:
                audit(conn, name, "user.logout", name)

    def issue_intake_token(self, name: str, token_sha256: str, lifetime: timedelta, *, actor: str) -> datetime:
        """A token for the intake client ``name`` (an admin's act, audited), added as a user
        with the intake role and no password when it is new; returns when the token expires.
        The client's earlier tokens keep working until they expire or it is deactivated."""
        now = utcnow()
        with self.write() as conn:
            _require_admin(conn, actor, "issue intake tokens")
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
            if row is None:
                if not name or len(name) > 128 or any(c.isspace() for c in name) or name.lower() in RESERVED:
                    raise ValueError(f"an intake client's name is 1 to 128 characters without spaces, not {name!r}")
                conn.execute(users.insert().values(name=name, role="intake", password_hash="!no password: intake client",
                                                   active=True, created_at=now, updated_at=now))
                audit(conn, actor, "user.add", name, role="intake")
            elif row.role != "intake":
                raise InvalidState(f"{name!r} is a user with the {row.role} role, not an intake client")
            conn.execute(cli_tokens.insert().values(token_sha256=token_sha256, user_name=name, created_at=now,
                                                    expires_at=now + lifetime, last_used_at=now))
            audit(conn, actor, "user.intake_token", name, expires_at=(now + lifetime).isoformat())
        return now + lifetime

    # -- command-line tokens ------------------------------------------------------------------
    def start_cli_token(self, name: str, token_sha256: str, lifetime: timedelta) -> datetime:
        """Register a command-line token of ``name`` (audited as a login); returns its expiry."""
        now = utcnow()
        with self.write() as conn:
            conn.execute(cli_tokens.delete().where(cli_tokens.c.expires_at <= now))
            conn.execute(cli_tokens.insert().values(token_sha256=token_sha256, user_name=name, created_at=now,
                                                    expires_at=now + lifetime, last_used_at=now))
            audit(conn, name, "user.login", name, via="command line")
        return now + lifetime

    def cli_user(self, token_sha256: str) -> User | None:
        """The active user a live command-line token belongs to; None otherwise."""
        now = utcnow()
        with self.write() as conn:
            row = conn.execute(sa.select(users).join(cli_tokens, cli_tokens.c.user_name == users.c.name).where(
                cli_tokens.c.token_sha256 == token_sha256, cli_tokens.c.expires_at > now)).first()
            if row is None or not row.active:
                return None
            conn.execute(cli_tokens.update().where(cli_tokens.c.token_sha256 == token_sha256)
                         .values(last_used_at=now))
        return _user(row)

    def end_cli_token(self, token_sha256: str) -> None:
        with self.write() as conn:
            name = conn.scalar(sa.select(cli_tokens.c.user_name).where(cli_tokens.c.token_sha256 == token_sha256))
            conn.execute(cli_tokens.delete().where(cli_tokens.c.token_sha256 == token_sha256))
            if name:
                audit(conn, name, "user.logout", name, via="command line")
