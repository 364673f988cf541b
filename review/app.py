"""The review app: server-rendered pages (Starlette + Jinja2, a little htmx) over the
classification functions and the catalog. ``create_app`` builds it; ``hotline serve`` runs it.

Pages show as little as possible: thumbnails are blurred and greyscale, made on the server,
so the browser never holds a clear picture until the analyst reveals one (audited, counted
against a daily budget). Only analysts and senior analysts reach media; every other role
gets HTTP 403 on every media URL.
"""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from catalog.users import MEDIA_ROLES
from classification import claim_next, cluster_queue
from classification.review import profiles_changed, recompute
from hotline.installation import Installation
from review import (
    account_routes,
    admin_routes,
    auth,
    cluster_routes,
    confirmation_routes,
    item_routes,
    media_routes,
    overview_routes,
)
from review.app_state import HERE, ReviewApp, redirect, review_app


class Sessions(BaseHTTPMiddleware):
    """Looks the session up, times the app (Server-Timing) and sets the security headers."""

    def __init__(self, app: ASGIApp, review: ReviewApp) -> None:
        super().__init__(app)
        self.review = review

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        request.state.session = auth.current_session(request, self.review.catalog, self.review.idle)
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        response.headers["Cache-Control"] = "no-store"  # no page or picture in the browser's disk cache
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
        return response


async def on_login_required(request: Request, exc: Exception) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return redirect("/login")


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/media/") or request.headers.get("hx-request"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code)
    return review_app(request).page(request, "error.html", status=exc.status_code, message=exc.detail, back="/")


def create_app(installation: Installation) -> Starlette:
    """The review app over ``installation`` (its catalog, evidence store and settings)."""
    app_state = ReviewApp(installation)
    catalog = app_state.catalog
    page = app_state.page

    # -- the queue ----------------------------------------------------------------------
    async def queue_page(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        offset = max(0, int(request.query_params.get("offset", "0") or 0))
        shown = catalog.queue_clusters(priority=app_state.config.priority, limit=50, offset=offset)
        catalog.audit(session.user.name, "queue.view", None, clusters=[c.id for c in shown], blurred=True)
        return page(request, "queue.html", clusters=shown, counts=catalog.queue_counts(), offset=offset,
                    priority=app_state.config.priority)

    async def queue_next(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        cluster_id = claim_next(catalog, app_state.config, session.user.name)
        return redirect(f"/cluster/{cluster_id}" if cluster_id else "/queue?empty=1")

    async def queue_previous(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        claims = [e.subject for e in catalog.audit_entries(action="cluster.claim", limit=200)
                  if e.actor == session.user.name]
        current = request.query_params.get("from")
        for subject in claims:
            if subject and subject != current and claim_next(catalog, app_state.config, session.user.name,
                                                             int(subject)):
                return redirect(f"/cluster/{subject}")
        return redirect(f"/cluster/{current}" if current else "/queue")

    routes = [
        *account_routes.ROUTES,
        Route("/queue", queue_page),
        Route("/queue/next", queue_next, methods=["POST"]),
        Route("/queue/previous", queue_previous, methods=["POST"]),
        *cluster_routes.ROUTES,
        *media_routes.ROUTES,
        *item_routes.ROUTES,
        *confirmation_routes.ROUTES,
        *overview_routes.ROUTES,
        *admin_routes.ROUTES,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    cluster_queue(catalog, app_state.config.clustering)  # items queued before the app existed
    if profiles_changed(catalog, app_state.config):  # a law profile was edited: its verdicts follow
        recompute(catalog, app_state.config)
    app = Starlette(routes=routes, middleware=[Middleware(Sessions, review=app_state)],
                    exception_handlers={auth.LoginRequired: on_login_required, HTTPException: on_http_error})
    app.state.review = app_state
    return app

