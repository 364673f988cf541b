"""The admin's pages: users (add, change role, activity, reveal budget, password) and the
recompute of every verdict after the law profiles changed. Admins reach no media."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from catalog.errors import CatalogError
from classification.review import recompute
from hotline.passwords import hash_password
from review import auth
from review.app_state import redirect, review_app


async def users_page(request: Request) -> Response:
    auth.require(request, {"admin"})
    app_state = review_app(request)
    return app_state.page(request, "users.html", users=app_state.catalog.users(), profiles=app_state.config.profiles,
                          summary=request.query_params.get("recomputed"))


async def users_submit(request: Request) -> Response:
    session = auth.require(request, {"admin"})
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    try:
        if form.get("action") == "add":
            app_state.catalog.add_user(form.get("name", ""), form.get("role", ""),
                                       hash_password(form.get("password", "")), actor=session.user.name)
        else:
            app_state.catalog.update_user(
                form.get("name", ""), actor=session.user.name, role=form.get("role") or None,
                active={"yes": True, "no": False}.get(form.get("active", "")),
                reveal_budget=int(form["reveal_budget"]) if form.get("reveal_budget") else None,
                password_hash=hash_password(form["password"]) if form.get("password") else None)
    except (ValueError, CatalogError) as exc:
        return app_state.page(request, "error.html", status=400, message=str(exc), back="/admin/users")
    return redirect("/admin/users")


async def recompute_submit(request: Request) -> Response:
    session = auth.require(request, {"admin"})
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    summary = recompute(app_state.catalog, app_state.config, requested_by=session.user.name)
    return redirect(f"/admin/users?recomputed={summary.verdict_changes}+verdicts,+"
                    f"{summary.kept_exported}+kept+as+exported")


ROUTES: list[BaseRoute] = [
    Route("/admin/users", users_page, methods=["GET"]),
    Route("/admin/users", users_submit, methods=["POST"]),
    Route("/admin/recompute", recompute_submit, methods=["POST"]),
]
