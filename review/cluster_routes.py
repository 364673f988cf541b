"""A cluster of near-duplicates: its page (audited as viewed, blurred), claiming and
releasing its lease, deciding it with one grading (then on to the next free cluster),
splitting an item off, and the live preview of the verdicts a grading derives in every
jurisdiction."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from catalog.errors import CatalogError, ChangedMeanwhile, NotFound
from catalog.users.store import MEDIA_ROLES
from classification import claim_next, decide_cluster, grading_from_form, parse_verdict
from classification.attributes import ATTRIBUTE_VALUES, SEVERITY
from classification.derive import explain, main_verdict
from classification.errors import ClassificationError
from classification.review import split_item
from review import auth
from review.app_state import HAND_VERDICTS, redirect, review_app

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


async def cluster_claim(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    cluster_id = int(request.path_params["cluster_id"])
    claim_next(app_state.catalog, app_state.config, session.user.name, cluster_id)
    return redirect(f"/cluster/{cluster_id}")


async def cluster_release(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    await auth.check_csrf(request, session.csrf)
    app_state.catalog.release_cluster(int(request.path_params["cluster_id"]), session.user.name)
    return redirect("/queue")


def describe_evidence(evidence: dict[str, object] | None) -> str:
    """Why an item was grouped, in words: the stage and its measure, and the item it matched."""
    if not evidence:
        return ""
    matched = str(evidence.get("matched") or "")[:12]
    if evidence.get("stage") == "local":
        mirrored = " mirrored" if evidence.get("variant") == "mirror" else ""
        how = f"same picture{mirrored} by local features ({evidence.get('inliers')} matching keypoints in one geometry)"
    elif evidence.get("stage") == "vpdq":
        how = f"same video by frame hashes (vPDQ distance {evidence.get('distance')})"
    else:
        variant = evidence.get("variant")
        turned = f" of its {variant} variant" if variant and variant != "original" else ""
        how = f"PDQ distance {evidence.get('distance')}{turned}"
    return f"{how}, to {matched}"


async def cluster_page(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    cluster_id = int(request.path_params["cluster_id"])
    try:
        cluster = app_state.catalog.cluster(cluster_id)
    except NotFound:
        raise HTTPException(404, f"no cluster {cluster_id}") from None
    members = app_state.catalog.cluster_members(cluster_id)
    app_state.catalog.audit(session.user.name, "cluster.view", str(cluster_id), items=[m.sha256 for m in members],
                            blurred=True)
    mine = cluster.holder == session.user.name
    partners = {m.sha256: app_state.catalog.partner_handling(sha256=m.sha256) for m in members}
    why = app_state.catalog.member_evidence(cluster_id)  # why each item was grouped (never the picture)
    prior: dict[str, Any] = {}  # pre-decided: the decided picture's grading, filled in for one key (Enter)
    if cluster.similar_to and cluster.similar_evidence:
        graded = app_state.catalog.item_decisions(cluster.similar_to)["gradings"]
        prior = graded[-1] if graded else {}
    return app_state.page(request, "cluster.html", cluster=cluster, members=members, mine=mine, why=why,
                          describe=describe_evidence, prior=prior, presets=PRESETS, partners=partners,
                          values=ATTRIBUTE_VALUES, severity=SEVERITY, verdicts=HAND_VERDICTS,
                          profiles=app_state.config.profiles, four_eyes=app_state.catalog.review_rules().four_eyes,
                          error=request.query_params.get("error"))


async def cluster_decide(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    cluster_id = int(request.path_params["cluster_id"])
    try:
        grading = grading_from_form(form, genders=[g for g in form.get("genders", "").split(",") if g])
        verdict = parse_verdict(form["verdict"]) if form.get("verdict") else None
        shown = [s for s in form.get("items", "").split(",") if s] or None  # the items the page showed
        decide_cluster(app_state.catalog, app_state.config, cluster_id, session.user.name, grading,
                       verdict=verdict, reason=form.get("reason") or None, items=shown)
    except ChangedMeanwhile as exc:
        return app_state.meanwhile(request, exc, f"/cluster/{cluster_id}")
    except (ClassificationError, ValueError, CatalogError) as exc:
        return app_state.page(request, "error.html", status=409, message=str(exc), back=f"/cluster/{cluster_id}")
    next_id = claim_next(app_state.catalog, app_state.config, session.user.name)
    return redirect(f"/cluster/{next_id}" if next_id else "/queue?done=1")


async def cluster_split(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    cluster_id = int(request.path_params["cluster_id"])
    try:
        split_item(app_state.catalog, cluster_id, form.get("sha256", ""), session.user.name)
    except (ClassificationError, CatalogError) as exc:
        return app_state.page(request, "error.html", status=409, message=str(exc), back=f"/cluster/{cluster_id}")
    return redirect(f"/cluster/{cluster_id}")


async def preview(request: Request) -> Response:
    session = auth.require(request, MEDIA_ROLES)
    app_state = review_app(request)
    form = await auth.check_csrf(request, session.csrf)
    try:
        grading = grading_from_form(form, genders=[g for g in form.get("genders", "").split(",") if g])
    except (ClassificationError, ValueError) as exc:
        return app_state.page(request, "_derived.html", problem=str(exc))
    found = app_state.config.profiles.evaluate(grading)
    return app_state.page(request, "_derived.html", rows=explain(grading, app_state.config.profiles),
                          verdict=main_verdict(found, app_state.config.profiles.home.jurisdiction).value)


ROUTES: list[BaseRoute] = [
    Route("/cluster/{cluster_id:int}", cluster_page),
    Route("/cluster/{cluster_id:int}/claim", cluster_claim, methods=["POST"]),
    Route("/cluster/{cluster_id:int}/release", cluster_release, methods=["POST"]),
    Route("/cluster/{cluster_id:int}/decide", cluster_decide, methods=["POST"]),
    Route("/cluster/{cluster_id:int}/split", cluster_split, methods=["POST"]),
    Route("/preview", preview, methods=["POST"]),
]
