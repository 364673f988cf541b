"""One's account: log in (a double-submit CSRF cookie, as there is no session yet), log out,
the home page each role lands on, and one's own settings (the blur strength, the password)."""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hotline.passwords import MIN_LENGTH, hash_password, verify_password
from review import auth
from review.app_state import redirect, review_app

HOME_BY_ROLE = {"analyst": "/queue", "senior": "/queue", "operator": "/overview", "statistician": "/overview",
                "admin": "/admin/users", "intake": "/me"}


async def login_form(request: Request) -> Response:
    app_state = review_app(request)
    nonce = secrets.token_urlsafe(24)
    response = app_state.page(request, "login.html", login_csrf=nonce, error=request.query_params.get("error"))
    auth.set_cookie(response, auth.LOGIN_COOKIE, nonce, secure=auth.is_https(request, app_state.settings))
    return response


async def login_submit(request: Request) -> Response:
    app_state = review_app(request)
    form = await request.form()
    sent, expected = str(form.get("csrf", "")), request.cookies.get(auth.LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    keys = [f"user:{name.lower()}", f"address:{auth.client_address(request, app_state.settings)}"]
    if wait := app_state.logins.wait(keys):
        app_state.catalog.audit(name[:128] or "?", "user.login_throttled", name[:128], wait_s=wait)
        response = app_state.page(request, "login.html", status=429, login_csrf=expected, error="wait",
                                  wait=wait)
        response.headers["Retry-After"] = str(wait)
        return response
    # argon2 takes ~0.1 s of CPU and 64 MiB: in a worker thread, the event loop keeps serving others
    token = await run_in_threadpool(auth.login, app_state.catalog, name, password, app_state.lifetime)
    if token is None:
        app_state.logins.failed(keys)
        return redirect("/login?error=1")
    app_state.logins.succeeded(keys[0])
    response = redirect("/")
    auth.set_cookie(response, auth.SESSION_COOKIE, token, secure=auth.is_https(request, app_state.settings),
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
    return app_state.page(request, "me.html", default_blur=app_state.settings.review_blur, min_length=MIN_LENGTH)


async def me_submit(request: Request) -> Response:
    session = auth.require(request)
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    try:
        app_state.catalog.update_user(session.user.name, actor=session.user.name, blur=int(form.get("blur", "")))
    except ValueError as exc:
        return app_state.page(request, "error.html", status=400, message=str(exc), back="/me")
    return redirect("/me")


async def password_submit(request: Request) -> Response:
    """One's own password: the current one first (a wrong one counts as a failed login), then
    the new one twice. Every session and command-line login of the user ends with the change."""
    session = auth.require(request)
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    name = session.user.name
    keys = [f"user:{name.lower()}", f"address:{auth.client_address(request, app_state.settings)}"]
    if wait := app_state.logins.wait(keys):
        return app_state.page(request, "error.html", status=429, back="/me",
                              message=f"Too many wrong passwords: try again in {wait} seconds.")
    ok = await run_in_threadpool(verify_password, app_state.catalog.password_hash(name), form.get("current", ""))
    if not ok:
        app_state.logins.failed(keys)
        app_state.catalog.audit(name, "user.password_refused", name)
        return app_state.page(request, "error.html", status=400, back="/me", message="The current password is wrong.")
    if form.get("new", "") != form.get("confirm", ""):
        return app_state.page(request, "error.html", status=400, back="/me", message="The new passwords differ.")
    try:
        new_hash = await run_in_threadpool(hash_password, form.get("new", ""))
    except ValueError as exc:
        return app_state.page(request, "error.html", status=400, back="/me", message=str(exc))
    app_state.catalog.update_user(name, actor=name, password_hash=new_hash)
    response = redirect("/login?error=changed")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


ROUTES: list[BaseRoute] = [
    Route("/", home),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/me", me_page, methods=["GET"]),
    Route("/me", me_submit, methods=["POST"]),
    Route("/me/password", password_submit, methods=["POST"]),
]
