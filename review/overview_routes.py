"""The overview: queue and verdict counts, no media; the page every role may see (the home
of operators and statisticians)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from review import auth
from review.app_state import review_app


async def overview(request: Request) -> Response:
    auth.require(request)
    app_state = review_app(request)
    return app_state.page(request, "overview.html", counts=app_state.catalog.queue_counts(),
                          verdicts=app_state.catalog.verdict_counts())


ROUTES: list[BaseRoute] = [
    Route("/overview", overview),
]
