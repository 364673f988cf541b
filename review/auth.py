"""Logins, sessions, roles and CSRF for the review app.

The browser holds a random session token in an HttpOnly, SameSite=Strict cookie (Secure
whenever the app is reached over HTTPS, directly or through a proxy that says so); the
catalog keeps only its SHA-256. Wrong passwords slow further logins down, per account and
per client address (``review.limits.LoginThrottle``), and the slow hash is checked in a
worker thread so that guessing never stalls other users' pages. Every form carries the session's CSRF token (htmx sends it
as the ``X-CSRF-Token`` header); the login form, which has no session yet, uses a
double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from datetime import timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from catalog.catalog import Catalog
from catalog.users.records import WebSession
from hotline.passwords import verify_password
from hotline.settings import Settings

SESSION_COOKIE = "hotline_session"
LOGIN_COOKIE = "hotline_login"


class LoginRequired(Exception):
    """No live session: the app answers with the login page."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(catalog: Catalog, name: str, password: str, lifetime: timedelta) -> str | None:
    """A new session token when the name and password are right, else None."""
    if not verify_password(catalog.password_hash(name), password):
        catalog.audit(name[:128] or "?", "user.login_failed", name[:128])
        return None
    token = secrets.token_urlsafe(32)
    catalog.start_session(name, token_hash(token), secrets.token_urlsafe(32), lifetime)
    return token


def is_https(request: Request, settings: Settings) -> bool:
    """Whether the browser reached the app over HTTPS: directly, or (``review_behind_proxy``)
    as the proxy says in X-Forwarded-Proto; ``review_secure_cookies`` says so always."""
    if settings.review_secure_cookies or request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return settings.review_behind_proxy and forwarded == "https"


def client_address(request: Request, settings: Settings) -> str:
    """The client's address: behind a proxy (``review_behind_proxy``) the last one it added to
    X-Forwarded-For (the earlier ones are the client's own say), else the peer's."""
    forwarded = request.headers.get("x-forwarded-for", "")
    if settings.review_behind_proxy and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else "?"


def current_session(request: Request, catalog: Catalog, idle: timedelta) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    return catalog.session(token_hash(token), idle) if token else None


def require(request: Request, roles: Collection[str] | None = None) -> WebSession:
    """The request's session, or LoginRequired; HTTP 403 when its role is not in ``roles``."""
    session: WebSession | None = request.state.session
    if session is None:
        raise LoginRequired()
    if roles is not None and session.user.role not in roles:
        raise HTTPException(403, f"the {session.user.role} role may not do this")
    return session


async def check_csrf(request: Request, expected: str) -> dict[str, str]:
    """The posted form, once its CSRF token (field ``csrf`` or header) matches ``expected``."""
    form = await request.form()
    sent = request.headers.get("x-csrf-token") or str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
    return _flatten(form)


def _flatten(form: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in form.multi_items():  # type: ignore[attr-defined]
        out[key] = f"{out[key]},{value}" if key in out else str(value)
    return out


def set_cookie(response: Response, name: str, value: str, *, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, max_age=max_age, path="/")
