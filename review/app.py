"""The review app: server-rendered pages (Starlette + Jinja2, a little htmx) over the
classification functions and the catalog. ``create_app`` builds it from one route module
per area (``account_routes``, ``queue_routes``, ``cluster_routes``, ``media_routes``,
``item_routes``, ``confirmation_routes``, ``overview_routes``, ``admin_routes``, and
``intake_routes``: the HTTP intake API) and adds
what every request goes through: the session lookup with the security headers, and the
error answers. ``hotline serve`` runs it.

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
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from classification import cluster_queue
from classification.review import profiles_changed, recompute
from hotline.installation import Installation
from review import (
    account_routes,
    admin_routes,
    auth,
    cluster_routes,
    confirmation_routes,
    intake_routes,
    item_routes,
    media_routes,
    overview_routes,
    queue_routes,
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
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    if request.url.path.startswith("/media/") or request.headers.get("hx-request"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code)
    return review_app(request).page(request, "error.html", status=exc.status_code, message=exc.detail, back="/")


def create_app(installation: Installation) -> Starlette:
    """The review app over ``installation`` (its catalog, evidence store and settings): each
    area's routes, the session middleware and the error pages, sharing one ``ReviewApp``
    that handlers find in ``app.state`` (``review_app(request)``)."""
    app_state = ReviewApp(installation)
    routes = [
        *account_routes.ROUTES,
        *queue_routes.ROUTES,
        *cluster_routes.ROUTES,
        *media_routes.ROUTES,
        *item_routes.ROUTES,
        *confirmation_routes.ROUTES,
        *overview_routes.ROUTES,
        *admin_routes.ROUTES,
        *intake_routes.ROUTES,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    cluster_queue(app_state.catalog, app_state.config.clustering)  # items queued before the app existed
    if profiles_changed(app_state.catalog, app_state.config):  # a law profile was edited: its verdicts follow
        recompute(app_state.catalog, app_state.config)
    app = Starlette(routes=routes, middleware=[Middleware(Sessions, review=app_state)],
                    exception_handlers={auth.LoginRequired: on_login_required, HTTPException: on_http_error})
    app.state.review = app_state
    return app
