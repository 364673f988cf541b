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

from catalog.errors import CatalogError, NotFound
from catalog.users import MEDIA_ROLES
from classification import claim_next, cluster_queue, decide_cluster, grading_from_form, parse_verdict
from classification.attributes import ATTRIBUTE_VALUES, SEVERITY
from classification.derive import explain, main_verdict
from classification.errors import ClassificationError
from classification.review import profiles_changed, recompute, split_item
from hotline.installation import Installation
from review import account_routes, admin_routes, auth, confirmation_routes, item_routes, media_routes, overview_routes
from review.app_state import HAND_VERDICTS, HERE, ReviewApp, redirect, review_app

PRESETS = [  # key, label, attributes: the common verdicts, one key each
    ("1", "Baseline: real child, prepubescent, sexual activity",
     dict(age_group="prepubescent", depiction="real", sexual_activity="1", severity="2")),
    ("2", "Baseline: real child, prepubescent, genital/anal focus",
     dict(age_group="prepubescent", depiction="real", genital_focus="1", severity="2")),
    ("3", "Real child, pubescent, sexual activity",
     dict(age_group="pubescent", depiction="real", sexual_activity="1", severity="2")),
    ("4", "Drawn child, sexual activity",
     dict(age_group="prepubescent", depiction="drawn", sexual_activity="1", severity="2")),
    ("5", "AI-generated child, sexual activity",
     dict(age_group="prepubescent", depiction="ai-generated", sexual_activity="1", severity="2")),
    ("9", "Child, nothing sexual: not illegal",
     dict(age_group="prepubescent", depiction="real", severity="0")),
    ("0", "Adult, nothing sexual: not illegal",
     dict(age_group="adult", depiction="real", severity="0")),
]


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

    async def cluster_claim(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        cluster_id = int(request.path_params["cluster_id"])
        claim_next(catalog, app_state.config, session.user.name, cluster_id)
        return redirect(f"/cluster/{cluster_id}")

    async def cluster_release(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        catalog.release_cluster(int(request.path_params["cluster_id"]), session.user.name)
        return redirect("/queue")

    async def cluster_page(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        cluster_id = int(request.path_params["cluster_id"])
        try:
            cluster = catalog.cluster(cluster_id)
        except NotFound:
            raise HTTPException(404, f"no cluster {cluster_id}") from None
        members = catalog.cluster_members(cluster_id)
        catalog.audit(session.user.name, "cluster.view", str(cluster_id), items=[m.sha256 for m in members],
                      blurred=True)
        mine = cluster.holder == session.user.name
        return page(request, "cluster.html", cluster=cluster, members=members, mine=mine, presets=PRESETS,
                    values=ATTRIBUTE_VALUES, severity=SEVERITY, verdicts=HAND_VERDICTS,
                    profiles=app_state.config.profiles, four_eyes=catalog.review_rules().four_eyes,
                    error=request.query_params.get("error"))

    async def cluster_decide(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        form = await auth.check_csrf(request, session.csrf)
        cluster_id = int(request.path_params["cluster_id"])
        try:
            grading = grading_from_form(form, genders=[g for g in form.get("genders", "").split(",") if g])
            verdict = parse_verdict(form["verdict"]) if form.get("verdict") else None
            decide_cluster(catalog, app_state.config, cluster_id, session.user.name, grading, verdict=verdict,
                           reason=form.get("reason") or None)
        except (ClassificationError, ValueError, CatalogError) as exc:
            return page(request, "error.html", status=409, message=str(exc), back=f"/cluster/{cluster_id}")
        next_id = claim_next(catalog, app_state.config, session.user.name)
        return redirect(f"/cluster/{next_id}" if next_id else "/queue?done=1")

    async def cluster_split(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        form = await auth.check_csrf(request, session.csrf)
        cluster_id = int(request.path_params["cluster_id"])
        try:
            split_item(catalog, cluster_id, form.get("sha256", ""), session.user.name)
        except (ClassificationError, CatalogError) as exc:
            return page(request, "error.html", status=409, message=str(exc), back=f"/cluster/{cluster_id}")
        return redirect(f"/cluster/{cluster_id}")

    async def preview(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        form = await auth.check_csrf(request, session.csrf)
        try:
            grading = grading_from_form(form, genders=[g for g in form.get("genders", "").split(",") if g])
        except (ClassificationError, ValueError) as exc:
            return page(request, "_derived.html", problem=str(exc))
        found = app_state.config.profiles.evaluate(grading)
        return page(request, "_derived.html", rows=explain(grading, app_state.config.profiles),
                    verdict=main_verdict(found, app_state.config.profiles.home.jurisdiction).value)

    routes = [
        *account_routes.ROUTES,
        Route("/queue", queue_page),
        Route("/queue/next", queue_next, methods=["POST"]),
        Route("/queue/previous", queue_previous, methods=["POST"]),
        Route("/cluster/{cluster_id:int}", cluster_page),
        Route("/cluster/{cluster_id:int}/claim", cluster_claim, methods=["POST"]),
        Route("/cluster/{cluster_id:int}/release", cluster_release, methods=["POST"]),
        Route("/cluster/{cluster_id:int}/decide", cluster_decide, methods=["POST"]),
        Route("/cluster/{cluster_id:int}/split", cluster_split, methods=["POST"]),
        Route("/preview", preview, methods=["POST"]),
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

