"""Media URLs: the blurred greyscale thumbnail, the reveal (audited, counted against the
daily budget, answered with a short grant for that user and item) and the clear picture
behind the grant. Only analysts and seniors reach them; errors here are plain text, never a
page (see ``on_http_error`` in app.py)."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from catalog.users.store import MEDIA_ROLES
from evidence.errors import EvidenceError
from review import auth
from review.app_state import review_app
from review.thumbnails import MediaUnavailable, placeholder, render

REVEAL_GRANT_SECONDS = 120


async def thumb(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
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
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    sha256 = request.path_params["sha256"]
    app_state.item_kind(sha256)
    if not app_state.may_reveal(session.user, sha256):
        raise HTTPException(403, "claim the item's cluster before revealing it")
    count = app_state.catalog.record_reveal(session.user.name, sha256, cluster=app_state.catalog.cluster_of(sha256))
    grant = app_state.grants.dumps([session.user.name, sha256])
    return app_state.page(request, "_revealed.html", sha256=sha256, grant=grant, reveals=count)


async def clear(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
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


ROUTES: list[BaseRoute] = [
    Route("/media/{sha256}/thumb", thumb),
    Route("/media/{sha256}/reveal", reveal, methods=["POST"]),
    Route("/media/{sha256}/clear", clear),
]
