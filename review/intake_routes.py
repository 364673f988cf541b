"""The HTTP intake: ``POST /api/reports`` files reports for a public report form or a
partner's system, ``GET /api/openapi.json`` describes it (docs/intake.md).

A client is a user with the intake role; it sends ``Authorization: Bearer <token>`` (a token
from ``hotline user client NAME``), and its reports carry its name as their source. The
reports go through ``hotline.services.intake`` as a file's do (checked, linked to an earlier
report of the same URL, audited). An ``Idempotency-Key`` makes a retry safe: the same key
with the same body gets the first answer again, with another body HTTP 409. Bodies over
``intake_max_body_bytes`` or with more than ``intake_max_reports`` reports get 413; more
than ``intake_rate_per_minute`` requests a minute, 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from catalog.users.records import User
from hotline.services.intake import IntakeEntry, IntakeSummary, file_reports
from review import auth
from review.app_state import review_app

MAX_KEY = 200


class ReportIn(BaseModel):
    """One reported URL, and how the reporter reached it."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=8192, description="The reported URL (http or https).")
    pathway: list[str] = Field(default_factory=list, max_length=10,
                               description="Pages the reporter went through before the URL, in order (replayed).")
    referer: str | None = Field(None, description="Where the reporter found the URL.")
    user_agent: str | None = Field(None, max_length=1000, description="The reporter's browser (replayed).")
    reporter_ref: str | None = Field(None, max_length=200, description="The client's own reference for the report.")
    received_at: str | None = Field(None, description="When the client received it, ISO 8601 (default: now).")


class ReportsIn(BaseModel):
    """A request: one or more reports."""

    model_config = ConfigDict(extra="forbid")
    reports: list[ReportIn] = Field(min_length=1)


class ResultOut(BaseModel):
    """What became of ``reports[index]``: added (to be crawled), linked (its URL was reported
    within the duplicate window: ``linked_to`` is that report) or refused (``reason``)."""

    index: int
    status: str = Field(description="added | linked | refused")
    id: int | None = None
    linked_to: int | None = None
    reason: str | None = None


class AnswerOut(BaseModel):
    added: int
    linked: int
    refused: int
    reports: list[ResultOut]


class ErrorOut(BaseModel):
    error: str


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _client(request: Request) -> User | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return review_app(request).catalog.cli_user(auth.token_hash(token.strip()))


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is longer than ``limit`` (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def post_reports(request: Request) -> Response:
    app_state = review_app(request)
    settings = app_state.settings
    client = await run_in_threadpool(_client, request)
    if client is None:
        return _error(401, "send Authorization: Bearer <token> (hotline user client NAME)",
                      **{"WWW-Authenticate": "Bearer"})
    if client.role != "intake":
        return _error(403, f"{client.name!r} is no intake client")
    if wait := app_state.intake_rate.wait(client.name):
        return _error(429, f"more than {settings.intake_rate_per_minute} requests a minute; retry later",
                      **{"Retry-After": str(wait)})
    body = await _body(request, settings.intake_max_body_bytes)
    if body is None:
        return _error(413, f"a request is at most {settings.intake_max_body_bytes} bytes; send fewer reports at once")
    try:
        sent = ReportsIn.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        return _error(422, problems[:2000])
    if len(sent.reports) > settings.intake_max_reports:
        return _error(413, f"at most {settings.intake_max_reports} reports a request, not {len(sent.reports)}")
    key = request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= MAX_KEY and key.isprintable()):
        return _error(400, f"an Idempotency-Key is 1 to {MAX_KEY} printable characters")
    if key is None:
        status, answer = await run_in_threadpool(_file, app_state, client, sent)
        return JSONResponse(answer, status_code=status)
    digest = hashlib.sha256(json.dumps(sent.model_dump(), sort_keys=True).encode()).hexdigest()
    catalog = app_state.catalog
    prior = await run_in_threadpool(catalog.take_intake_key, client.name, key, digest)
    if prior is not None:
        if prior.body_sha256 != digest:
            return _error(409, "this Idempotency-Key was used with another body; use a new key for a new request")
        if prior.status_code == 0:
            return _error(409, "a request with this Idempotency-Key is being filed; retry shortly",
                          **{"Retry-After": "1"})
        return JSONResponse(prior.response, status_code=prior.status_code, headers={"Idempotent-Replayed": "true"})
    try:
        status, answer = await run_in_threadpool(_file, app_state, client, sent)
    except BaseException:
        await run_in_threadpool(catalog.release_intake_key, client.name, key)
        raise
    await run_in_threadpool(catalog.answer_intake_key, client.name, key, status, answer)
    return JSONResponse(answer, status_code=status)


def _file(app_state: Any, client: User, sent: ReportsIn) -> tuple[int, dict[str, Any]]:
    entries = [IntakeEntry(line=i, url=r.url, pathway=tuple(r.pathway), user_agent=r.user_agent,
                           reporter_ref=r.reporter_ref, received_at=r.received_at, referer=r.referer)
               for i, r in enumerate(sent.reports)]
    summary: IntakeSummary = file_reports(app_state.catalog, entries, app_state.settings, actor=client.name,
                                          source=client.name, via="http", keep_results=True)
    results = [ResultOut(index=r.line, status=r.status, id=r.id, linked_to=r.linked_to, reason=r.reason)
               for r in summary.results]
    answer = AnswerOut(**summary.counts(), reports=results).model_dump(exclude_none=True)
    return (422 if summary.refused and len(summary.refused) == len(results) else 201), answer


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the intake, its schemas taken from the models above."""
    _, schema = models_json_schema([(ReportsIn, "validation"), (AnswerOut, "serialization"),
                                    (ErrorOut, "serialization")], ref_template="#/components/schemas/{model}")
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    answer = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnswerOut"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline intake", "version": "1",
                 "description": "File reports of URLs. A URL reported within the installation's duplicate window "
                                "is linked to the earlier report instead of being crawled again."},
        "paths": {"/api/reports": {"post": {
            "summary": "File reports",
            "security": [{"token": []}],
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": MAX_KEY},
                            "description": "The same key with the same body gets the first answer again "
                                           "(header Idempotent-Replayed: true); with another body, 409."}],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportsIn"}}}},
            "responses": {
                "201": {"description": "Filed: each report added, linked or refused.", **answer},
                "400": {"description": "A malformed Idempotency-Key.", **error},
                "401": {"description": "No token, or not a live one.", **error},
                "403": {"description": "The token is not an intake client's.", **error},
                "409": {"description": "The Idempotency-Key was used with another body, or is being filed.",
                        **error},
                "413": {"description": "The body or the number of reports is over the limit.", **error},
                "422": {"description": "The body is not a valid request, or every report was refused.",
                        "content": {"application/json": {"schema": {"oneOf": [
                            {"$ref": "#/components/schemas/ErrorOut"},
                            {"$ref": "#/components/schemas/AnswerOut"}]}}}},
                "429": {"description": "Too many requests; the Retry-After header says when to retry.", **error},
            }}}},
        "components": {"schemas": schema.get("$defs", {}),
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi())


ROUTES: list[BaseRoute] = [
    Route("/api/reports", post_reports, methods=["POST"]),
    Route("/api/openapi.json", openapi_json, methods=["GET"]),
]
