"""The review app: server-rendered pages (Starlette + Jinja2, a little htmx) over the
classification functions and the catalog. ``create_app`` builds it; ``hotline serve`` runs it.

Pages show as little as possible: thumbnails are blurred and greyscale, made on the server,
so the browser never holds a clear picture until the analyst reveals one (audited, counted
against a daily budget). Only analysts and senior analysts reach media; every other role
gets HTTP 403 on every media URL.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from catalog import Verdict
from catalog.errors import CatalogError, NotFound
from catalog.users import MEDIA_ROLES, ROLES
from classification import claim_next, cluster_queue, decide_cluster, decide_item, grading_from_form, parse_verdict
from classification.attributes import ATTRIBUTE_VALUES, SEVERITY
from classification.derive import explain, main_verdict
from classification.errors import ClassificationError
from classification.known import contest_match
from classification.review import confirm, profiles_changed, recompute, set_by_hand, split_item
from evidence.errors import EvidenceError
from hotline.installation import Installation, review_config
from review import auth
from review.media import MediaUnavailable, ThumbnailCache, placeholder, render
from review.passwords import hash_password

HERE = Path(__file__).resolve().parent
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
REVEAL_GRANT_SECONDS = 120
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
HAND_VERDICTS = [v.value for v in Verdict if v is not Verdict.UNDETERMINED]  # undetermined is derived, never typed
HOME_BY_ROLE = {"analyst": "/queue", "senior": "/queue", "operator": "/overview", "statistician": "/overview",
                "admin": "/admin/users"}


class ReviewApp:
    """The state one app instance shares between requests."""

    def __init__(self, installation: Installation) -> None:
        self.inst = installation
        self.settings = installation.settings
        self.catalog = installation.catalog
        self.config = review_config(self.settings)
        self.thumbs = ThumbnailCache()
        self.grants = URLSafeTimedSerializer(secrets.token_bytes(32), salt="hotline-reveal")
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.idle = timedelta(minutes=self.settings.review_idle_minutes)
        self.lifetime = timedelta(hours=self.settings.review_session_hours)

    # -- helpers ------------------------------------------------------------------------
    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        session = request.state.session
        context.update(request=request, session=session, user=session.user if session else None,
                       csrf=session.csrf if session else "", roles=ROLES)
        if session is not None and session.user.role in MEDIA_ROLES:
            context.setdefault("reveals", self.catalog.reveals_today(session.user.name))
            context.setdefault("budget", self.budget(session.user))
        return self.templates.TemplateResponse(request, name, context, status_code=status)

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


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def create_app(installation: Installation) -> Starlette:
    """The review app over ``installation`` (its catalog, evidence store and settings)."""
    app_state = ReviewApp(installation)
    catalog = app_state.catalog
    page = app_state.page

    # -- login ------------------------------------------------------------------------
    async def login_form(request: Request) -> Response:
        nonce = secrets.token_urlsafe(24)
        response = page(request, "login.html", login_csrf=nonce, error=request.query_params.get("error"))
        auth.set_cookie(response, auth.LOGIN_COOKIE, nonce, secure=app_state.settings.review_secure_cookies)
        return response

    async def login_submit(request: Request) -> Response:
        form = await request.form()
        sent, expected = str(form.get("csrf", "")), request.cookies.get(auth.LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(sent, expected):
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        token = auth.login(catalog, name, password, app_state.lifetime)
        if token is None:
            return _redirect("/login?error=1")
        response = _redirect("/")
        auth.set_cookie(response, auth.SESSION_COOKIE, token, secure=app_state.settings.review_secure_cookies,
                        max_age=int(app_state.lifetime.total_seconds()))
        response.delete_cookie(auth.LOGIN_COOKIE, path="/")
        return response

    async def logout(request: Request) -> Response:
        session = auth.require(request)
        await auth.check_csrf(request, session.csrf)
        catalog.end_session(auth.token_hash(request.cookies[auth.SESSION_COOKIE]))
        response = _redirect("/login")
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    async def home(request: Request) -> Response:
        return _redirect(HOME_BY_ROLE[auth.require(request).user.role])

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
        return _redirect(f"/cluster/{cluster_id}" if cluster_id else "/queue?empty=1")

    async def queue_previous(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        claims = [e.subject for e in catalog.audit_entries(action="cluster.claim", limit=200)
                  if e.actor == session.user.name]
        current = request.query_params.get("from")
        for subject in claims:
            if subject and subject != current and claim_next(catalog, app_state.config, session.user.name,
                                                             int(subject)):
                return _redirect(f"/cluster/{subject}")
        return _redirect(f"/cluster/{current}" if current else "/queue")

    async def cluster_claim(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        cluster_id = int(request.path_params["cluster_id"])
        claim_next(catalog, app_state.config, session.user.name, cluster_id)
        return _redirect(f"/cluster/{cluster_id}")

    async def cluster_release(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        catalog.release_cluster(int(request.path_params["cluster_id"]), session.user.name)
        return _redirect("/queue")

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
        return _redirect(f"/cluster/{next_id}" if next_id else "/queue?done=1")

    async def cluster_split(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        form = await auth.check_csrf(request, session.csrf)
        cluster_id = int(request.path_params["cluster_id"])
        try:
            split_item(catalog, cluster_id, form.get("sha256", ""), session.user.name)
        except (ClassificationError, CatalogError) as exc:
            return page(request, "error.html", status=409, message=str(exc), back=f"/cluster/{cluster_id}")
        return _redirect(f"/cluster/{cluster_id}")

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

    # -- media --------------------------------------------------------------------------
    async def thumb(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        sha256 = request.path_params["sha256"]
        kind = app_state.item_kind(sha256)
        blur = app_state.blur(session.user)

        def make() -> bytes:
            try:
                return render(app_state.inst.evidence.get(sha256), kind, clear=False, blur=blur)
            except (MediaUnavailable, EvidenceError) as exc:
                return placeholder(str(exc) or "unavailable")

        return Response(app_state.thumbs.get((sha256, blur), make), media_type="image/jpeg")

    async def reveal(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        await auth.check_csrf(request, session.csrf)
        sha256 = request.path_params["sha256"]
        app_state.item_kind(sha256)
        if not app_state.may_reveal(session.user, sha256):
            raise HTTPException(403, "claim the item's cluster before revealing it")
        count = catalog.record_reveal(session.user.name, sha256, cluster=catalog.cluster_of(sha256))
        grant = app_state.grants.dumps([session.user.name, sha256])
        return page(request, "_revealed.html", sha256=sha256, grant=grant, reveals=count)

    async def clear(request: Request) -> Response:
        session = auth.require(request, MEDIA_ROLES)
        sha256 = request.path_params["sha256"]
        kind = app_state.item_kind(sha256)
        try:
            who, what = app_state.grants.loads(request.query_params.get("grant", ""), max_age=REVEAL_GRANT_SECONDS)
        except (BadSignature, SignatureExpired):
            raise HTTPException(403, "reveal the item first") from None
        if who != session.user.name or what != sha256:
            raise HTTPException(403, "reveal the item first")
        try:
            data = render(app_state.inst.evidence.get(sha256), kind, clear=True, blur=0)
        except (MediaUnavailable, EvidenceError) as exc:
            data = placeholder(str(exc) or "unavailable")
        return Response(data, media_type="image/jpeg")

    # -- item, four eyes, overrides -----------------------------------------------------------
    async def item_page(request: Request) -> Response:
        auth.require(request, MEDIA_ROLES)
        sha256 = request.path_params["sha256"]
        kind = app_state.item_kind(sha256)
        contested = {h.set_name for h in catalog.known_holds(kind="contested") if h.sha256 == sha256}
        return page(request, "item.html", sha256=sha256, kind=kind, history=catalog.item_decisions(sha256),
                    verdicts=HAND_VERDICTS, cluster_id=catalog.cluster_of(sha256), values=ATTRIBUTE_VALUES,
                    severity=SEVERITY, matches=catalog.matches_of(sha256), contested=contested)

    async def item_contest(request: Request) -> Response:
        session = auth.require(request, {"senior"})
        form = await auth.check_csrf(request, session.csrf)
        sha256 = request.path_params["sha256"]
        app_state.item_kind(sha256)
        try:
            contest_match(catalog, sha256, str(form.get("set", "")), actor=session.user.name,
                          reason=str(form.get("reason", "")), match_type=str(form.get("match_type", "")) or None)
        except (ValueError, CatalogError) as exc:
            return page(request, "error.html", status=409, message=str(exc), back=f"/item/{sha256}")
        return _redirect(f"/item/{sha256}")

    async def senior_item_action(request: Request, act: Callable[[str, str, dict[str, str]], object]) -> Response:
        """A senior's decision on one item (``act(sha256, name, form)``), then back to its page."""
        session = auth.require(request, {"senior"})
        form = await auth.check_csrf(request, session.csrf)
        sha256 = request.path_params["sha256"]
        app_state.item_kind(sha256)
        try:
            act(sha256, session.user.name, form)
        except (ClassificationError, ValueError, CatalogError) as exc:
            return page(request, "error.html", status=409, message=str(exc), back=f"/item/{sha256}")
        return _redirect(f"/item/{sha256}")

    async def item_grade(request: Request) -> Response:
        """A senior grades an item again: an undetermined one, or one they see otherwise."""
        return await senior_item_action(request, lambda sha256, name, form: decide_item(
            catalog, app_state.config, sha256, name, grading_from_form(form), reason=form.get("reason") or None))

    async def item_override(request: Request) -> Response:
        return await senior_item_action(request, lambda sha256, name, form: set_by_hand(
            catalog, app_state.config, sha256, parse_verdict(form.get("verdict", "")), name, form.get("reason", "")))

    async def confirmations_page(request: Request) -> Response:
        session = auth.require(request, {"senior"})
        pending = [p for p in catalog.pending_confirmations() if p.actor != session.user.name]
        return page(request, "confirmations.html", pending=pending, escalated=catalog.escalated_items())

    async def confirm_submit(request: Request) -> Response:
        session = auth.require(request, {"senior"})
        await auth.check_csrf(request, session.csrf)
        try:
            confirm(catalog, int(request.path_params["verdict_id"]), session.user.name)
        except (ClassificationError, CatalogError) as exc:
            return page(request, "error.html", status=409, message=str(exc), back="/confirmations")
        return _redirect("/confirmations")

    # -- everyone: figures without media; one's own settings ---------------------------------
    async def overview(request: Request) -> Response:
        auth.require(request)
        return page(request, "overview.html", counts=catalog.queue_counts(), verdicts=catalog.verdict_counts())

    async def me_page(request: Request) -> Response:
        auth.require(request)
        return page(request, "me.html", default_blur=app_state.settings.review_blur)

    async def me_submit(request: Request) -> Response:
        session = auth.require(request)
        form = await auth.check_csrf(request, session.csrf)
        try:
            catalog.update_user(session.user.name, actor=session.user.name, blur=int(form.get("blur", "")))
        except ValueError as exc:
            return page(request, "error.html", status=400, message=str(exc), back="/me")
        return _redirect("/me")

    # -- admin ----------------------------------------------------------------------------
    async def users_page(request: Request) -> Response:
        auth.require(request, {"admin"})
        return page(request, "users.html", users=catalog.users(), profiles=app_state.config.profiles,
                    summary=request.query_params.get("recomputed"))

    async def users_submit(request: Request) -> Response:
        session = auth.require(request, {"admin"})
        form = await auth.check_csrf(request, session.csrf)
        try:
            if form.get("action") == "add":
                catalog.add_user(form.get("name", ""), form.get("role", ""), hash_password(form.get("password", "")),
                                 actor=session.user.name)
            else:
                catalog.update_user(
                    form.get("name", ""), actor=session.user.name, role=form.get("role") or None,
                    active={"yes": True, "no": False}.get(form.get("active", "")),
                    reveal_budget=int(form["reveal_budget"]) if form.get("reveal_budget") else None,
                    password_hash=hash_password(form["password"]) if form.get("password") else None)
        except (ValueError, CatalogError) as exc:
            return page(request, "error.html", status=400, message=str(exc), back="/admin/users")
        return _redirect("/admin/users")

    async def recompute_submit(request: Request) -> Response:
        session = auth.require(request, {"admin"})
        await auth.check_csrf(request, session.csrf)
        summary = recompute(catalog, app_state.config, requested_by=session.user.name)
        return _redirect(f"/admin/users?recomputed={summary.verdict_changes}+verdicts,+"
                         f"{summary.kept_exported}+kept+as+exported")

    # -- plumbing -----------------------------------------------------------------------
    async def on_login_required(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return _redirect("/login")

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/media/") or request.headers.get("hx-request"):
            return PlainTextResponse(exc.detail, status_code=exc.status_code)
        return page(request, "error.html", status=exc.status_code, message=exc.detail, back="/")

    class Sessions(BaseHTTPMiddleware):
        """Looks the session up, times the app (Server-Timing) and sets the security headers."""

        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            started = time.perf_counter()
            request.state.session = auth.current_session(request, catalog, app_state.idle)
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

    routes = [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/queue", queue_page),
        Route("/queue/next", queue_next, methods=["POST"]),
        Route("/queue/previous", queue_previous, methods=["POST"]),
        Route("/cluster/{cluster_id:int}", cluster_page),
        Route("/cluster/{cluster_id:int}/claim", cluster_claim, methods=["POST"]),
        Route("/cluster/{cluster_id:int}/release", cluster_release, methods=["POST"]),
        Route("/cluster/{cluster_id:int}/decide", cluster_decide, methods=["POST"]),
        Route("/cluster/{cluster_id:int}/split", cluster_split, methods=["POST"]),
        Route("/preview", preview, methods=["POST"]),
        Route("/media/{sha256}/thumb", thumb),
        Route("/media/{sha256}/reveal", reveal, methods=["POST"]),
        Route("/media/{sha256}/clear", clear),
        Route("/item/{sha256}", item_page),
        Route("/item/{sha256}/grade", item_grade, methods=["POST"]),
        Route("/item/{sha256}/override", item_override, methods=["POST"]),
        Route("/item/{sha256}/contest", item_contest, methods=["POST"]),
        Route("/confirmations", confirmations_page),
        Route("/confirmations/{verdict_id:int}", confirm_submit, methods=["POST"]),
        Route("/overview", overview),
        Route("/me", me_page, methods=["GET"]),
        Route("/me", me_submit, methods=["POST"]),
        Route("/admin/users", users_page, methods=["GET"]),
        Route("/admin/users", users_submit, methods=["POST"]),
        Route("/admin/recompute", recompute_submit, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    cluster_queue(catalog, app_state.config.clustering)  # items queued before the app existed
    if profiles_changed(catalog, app_state.config):  # a law profile was edited: its verdicts follow
        recompute(catalog, app_state.config)
    app = Starlette(routes=routes, middleware=[Middleware(Sessions)],
                    exception_handlers={auth.LoginRequired: on_login_required, HTTPException: on_http_error})
    app.state.review = app_state
    return app

