"""The queue: clusters waiting for review in the installation's priority order (the list is
audited as viewed, thumbnails blurred), claiming the next free cluster, and going back to
the cluster one claimed before."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from catalog.users.store import MEDIA_ROLES
from classification import claim_next
from review import auth
from review.app_state import redirect, review_app


async def queue_page(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    offset = max(0, int(request.query_params.get("offset", "0") or 0))
    shown = app_state.catalog.queue_clusters(priority=app_state.config.priority, limit=50, offset=offset)
    app_state.catalog.audit(session.user.name, "queue.view", None, clusters=[c.id for c in shown], blurred=True)
    return app_state.page(request, "queue.html", clusters=shown, counts=app_state.catalog.queue_counts(),
                          offset=offset, priority=app_state.config.priority)


async def queue_next(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    cluster_id = claim_next(app_state.catalog, app_state.config, session.user.name)
    return redirect(f"/cluster/{cluster_id}" if cluster_id else "/queue?empty=1")


async def queue_previous(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    claims = [e.subject for e in app_state.catalog.audit_entries(action="cluster.claim", limit=200)
              if e.actor == session.user.name]
    current = request.query_params.get("from")
    for subject in claims:
        if subject and subject != current and claim_next(app_state.catalog, app_state.config,
                                                         session.user.name, int(subject)):
            return redirect(f"/cluster/{subject}")
    return redirect(f"/cluster/{current}" if current else "/queue")


ROUTES: list[BaseRoute] = [
    Route("/queue", queue_page),
    Route("/queue/next", queue_next, methods=["POST"]),
    Route("/queue/previous", queue_previous, methods=["POST"]),
]
