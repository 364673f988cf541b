"""One's account: log in (a double-submit CSRF cookie, as there is no session yet), log out,
the home page each role lands on, and one's own settings (the blur strength)."""

from __future__ import annotations

import secrets

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from review import auth
from review.app_state import redirect, review_app

HOME_BY_ROLE = {"analyst": "/queue", "senior": "/queue", "operator": "/overview", "statistician": "/overview",
                "admin": "/admin/users", "intake": "/me"}


async def login_form(request: Request) -> Response:
    app_state = review_app(request)
    nonce = secrets.token_urlsafe(24)
    response = app_state.page(request, "login.html", login_csrf=nonce, error=request.query_params.get("error"))
    auth.set_cookie(response, auth.LOGIN_COOKIE, nonce, secure=app_state.settings.review_secure_cookies)
    return response


async def login_submit(request: Request) -> Response:
    app_state = review_app(request)
    form = await request.form()
    sent, expected = str(form.get("csrf", "")), request.cookies.get(auth.LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    token = auth.login(app_state.catalog, name, password, app_state.lifetime)
    if token is None:
        return redirect("/login?error=1")
    response = redirect("/")
    auth.set_cookie(response, auth.SESSION_COOKIE, token, secure=app_state.settings.review_secure_cookies,
                    max_age=int(app_state.lifetime.total_seconds()))
    response.delete_cookie(auth.LOGIN_COOKIE, path="/")
    return response


async def logout(request: Request) -> Response:
    session = auth.require(request)
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    app_state.catalog.end_session(auth.token_hash(request.cookies[auth.SESSION_COOKIE]))
    response = redirect("/login")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


async def home(request: Request) -> Response:
    return redirect(HOME_BY_ROLE[auth.require(request).user.role])


async def me_page(request: Request) -> Response:
    auth.require(request)
    app_state = review_app(request)
    return app_state.page(request, "me.html", default_blur=app_state.settings.review_blur)


async def me_submit(request: Request) -> Response:
    session = auth.require(request)
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    try:
        app_state.catalog.update_user(session.user.name, actor=session.user.name, blur=int(form.get("blur", "")))
    except ValueError as exc:
        return app_state.page(request, "error.html", status=400, message=str(exc), back="/me")
    return redirect("/me")


ROUTES: list[BaseRoute] = [
    Route("/", home),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/me", me_page, methods=["GET"]),
    Route("/me", me_submit, methods=["POST"]),
]
