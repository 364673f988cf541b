"""What every page of the review app shares: the ``ReviewApp`` state one app instance keeps
between requests (installation, catalog, review configuration, thumbnail cache, reveal
grants, templates, the intake's rate limit and the login throttle) and the helpers the route modules use to reach it and to answer.

Route handlers take only the request (Starlette's endpoint signature); they find the state
with ``review_app(request)``, which reads the app's ``state`` where ``create_app`` put it.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from itsdangerous import URLSafeTimedSerializer
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from catalog.decisions.records import Verdict
from catalog.errors import ChangedMeanwhile
from catalog.users.store import MEDIA_ROLES, ROLES
from hotline.installation import Installation, review_config
from review.limits import LoginThrottle, RateLimit
from review.thumbnails import ThumbnailCache

HERE = Path(__file__).resolve().parent
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
HAND_VERDICTS = [v.value for v in Verdict if v is not Verdict.UNDETERMINED]  # undetermined is derived, never typed


class ReviewApp:
    """The state one app instance shares between requests."""

    def __init__(self, installation: Installation) -> None:
        self.inst = installation
        self.settings = installation.settings
        self.catalog = installation.catalog
        self.config = review_config(self.settings, installation.evidence.get)
        self.thumbs = ThumbnailCache()
        self.grants = URLSafeTimedSerializer(secrets.token_bytes(32), salt="hotline-reveal")
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["human"] = human
        self.idle = timedelta(minutes=self.settings.review_idle_minutes)
        self.lifetime = timedelta(hours=self.settings.review_session_hours)
        self.intake_rate = RateLimit(self.settings.intake_rate_per_minute)
        self.logins = LoginThrottle(self.settings.login_free_failures, self.settings.login_backoff_s,
                                    self.settings.login_backoff_max_s)

    # -- helpers ------------------------------------------------------------------------
    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        session = request.state.session
        context.update(request=request, session=session, user=session.user if session else None,
                       csrf=session.csrf if session else "", roles=ROLES)
        if session is not None and session.user.role in MEDIA_ROLES:
            context.setdefault("reveals", self.catalog.reveals_today(session.user.name))
            context.setdefault("budget", self.budget(session.user))
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def meanwhile(self, request: Request, exc: ChangedMeanwhile, back: str) -> Response:
        """Another analyst (or an admin) got there first: say who did what, and to reload."""
        return self.page(request, "error.html", status=409, back=back,
                         message=f"{exc}. Reload the page to see it as it is now, then decide.")

    def budget(self, user: Any) -> int:
        return user.reveal_budget if user.reveal_budget is not None else self.settings.review_reveal_budget

    def blur(self, user: Any) -> int:
        return user.blur if user.blur is not None else self.settings.review_blur

    def item_kind(self, sha256: str) -> str:
        if not SHA_RE.match(sha256):
            raise HTTPException(404, "no such item")
        kind = self.catalog.media_kind(sha256)
        if kind is None:
            raise HTTPException(404, "no such item")
        return kind

    def may_reveal(self, user: Any, sha256: str) -> bool:
        """Seniors may reveal any item; analysts only the items of the cluster they hold."""
        if user.role == "senior":
            return True
        cluster_id = self.catalog.cluster_of(sha256)
        return cluster_id is not None and self.catalog.lease_holder(cluster_id) == user.name


def human(value: Any) -> str:
    """A value as a page shows it to a person: yes/no, nothing for a missing value, times
    to the minute (the catalog keeps UTC), lists joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(human(v) for v in value)
    return str(value)


def review_app(request: Request) -> ReviewApp:
    """The state of the app serving ``request``."""
    state: ReviewApp = request.app.state.review
    return state


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other to ``url``: after a POST the browser follows with a GET."""
    return RedirectResponse(url, status_code=303)
