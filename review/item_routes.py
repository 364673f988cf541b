"""One item's page (its decisions, matches and contested known-set rows, corrections sent,
each URL's re-check history) and a senior's
decisions on it: grade it again, set its verdict by hand, contest a known-set match."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from catalog.decisions.records import SeenState
from catalog.errors import CatalogError, ChangedMeanwhile
from catalog.users.store import MEDIA_ROLES
from classification import decide_item, grading_from_form, parse_verdict
from classification.attributes import ATTRIBUTE_VALUES, SEVERITY
from classification.errors import ClassificationError
from classification.known import contest_match
from classification.review import set_by_hand
from review import auth
from review.app_state import HAND_VERDICTS, redirect, review_app


def _seen(form: dict[str, str]) -> SeenState | None:
    """The item's decisions as the page showed them (``seen``), which a decision is made on."""
    return SeenState.from_token(form["seen"]) if form.get("seen") else None


async def item_page(request: Request) -> Response:
    auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    sha256 = request.path_params["sha256"]
    kind = app_state.item_kind(sha256)
    contested = {h.set_name for h in app_state.catalog.known_holds(kind="contested") if h.sha256 == sha256}
    history = app_state.catalog.item_decisions(sha256)
    return app_state.page(request, "item.html", sha256=sha256, kind=kind, history=history,
                          seen=history["seen"].token, verdicts=HAND_VERDICTS,
                          cluster_id=app_state.catalog.cluster_of(sha256), values=ATTRIBUTE_VALUES,
                          severity=SEVERITY, matches=app_state.catalog.matches_of(sha256), contested=contested,
                          partners=app_state.catalog.partner_handling(sha256=sha256),
                          takedowns=app_state.catalog.takedown_history(sha256=sha256),
                          corrections=app_state.catalog.corrections_of(sha256),
                          notices=app_state.catalog.notices(sha256s=[sha256]),
                          abuse_notices=app_state.catalog.abuse_notices([sha256]),
                          unadopted=app_state.catalog.audit_entries("verdict.ambiguous", 10, subject=sha256))


async def item_contest(request: Request) -> Response:
    session = auth.require(request, {"senior"})
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    sha256 = request.path_params["sha256"]
    app_state.item_kind(sha256)
    try:
        contest_match(app_state.catalog, sha256, str(form.get("set", "")), actor=session.user.name,
                      reason=str(form.get("reason", "")), match_type=str(form.get("match_type", "")) or None)
    except (ValueError, CatalogError) as exc:
        return app_state.page(request, "error.html", status=409, message=str(exc), back=f"/item/{sha256}")
    return redirect(f"/item/{sha256}")


async def senior_item_action(request: Request, act: Callable[[str, str, dict[str, str]], object]) -> Response:
    """A senior's decision on one item (``act(sha256, name, form)``), then back to its page."""
    session = auth.require(request, {"senior"})
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    sha256 = request.path_params["sha256"]
    app_state.item_kind(sha256)
    try:
        act(sha256, session.user.name, form)
    except ChangedMeanwhile as exc:
        return app_state.meanwhile(request, exc, f"/item/{sha256}")
    except (ClassificationError, ValueError, CatalogError) as exc:
        return app_state.page(request, "error.html", status=409, message=str(exc), back=f"/item/{sha256}")
    return redirect(f"/item/{sha256}")


async def item_grade(request: Request) -> Response:
    """A senior grades an item again: an undetermined one, or one they see otherwise."""
    app_state = review_app(request)
    return await senior_item_action(request, lambda sha256, name, form: decide_item(
        app_state.catalog, app_state.config, sha256, name, grading_from_form(form),
        reason=form.get("reason") or None, expected=_seen(form)))


async def item_override(request: Request) -> Response:
    app_state = review_app(request)
    return await senior_item_action(request, lambda sha256, name, form: set_by_hand(
        app_state.catalog, app_state.config, sha256, parse_verdict(form.get("verdict", "")), name,
        form.get("reason", ""), expected=_seen(form)))


ROUTES: list[BaseRoute] = [
    Route("/item/{sha256}", item_page),
    Route("/item/{sha256}/grade", item_grade, methods=["POST"]),
    Route("/item/{sha256}/override", item_override, methods=["POST"]),
    Route("/item/{sha256}/contest", item_contest, methods=["POST"]),
]
