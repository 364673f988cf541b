"""The four-eyes list for seniors: verdicts waiting for a second senior (never one's own) and
escalated items, and the confirmation of one verdict."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from catalog.errors import CatalogError, ChangedMeanwhile
from classification.errors import ClassificationError
from classification.review import confirm
from review import auth
from review.app_state import redirect, review_app


async def confirmations_page(request: Request) -> Response:
    session = auth.require(request, {"senior"})
    app_state = review_app(request)
    pending = [p for p in app_state.catalog.pending_confirmations() if p.actor != session.user.name]
    return app_state.page(request, "confirmations.html", pending=pending,
                          escalated=app_state.catalog.escalated_items())


async def confirm_submit(request: Request) -> Response:
    session = auth.require(request, {"senior"})
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    try:
        confirm(app_state.catalog, int(request.path_params["verdict_id"]), session.user.name)
    except ChangedMeanwhile as exc:
        return app_state.meanwhile(request, exc, "/confirmations")
    except (ClassificationError, CatalogError) as exc:
        return app_state.page(request, "error.html", status=409, message=str(exc), back="/confirmations")
    return redirect("/confirmations")


ROUTES: list[BaseRoute] = [
    Route("/confirmations", confirmations_page),
    Route("/confirmations/{verdict_id:int}", confirm_submit, methods=["POST"]),
]
