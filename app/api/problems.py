"""Errors as RFC 9457 `application/problem+json`, each with a sentence a person understands."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.db.stores import IdempotencyMismatch, NameReserved, NameTaken
from app.domains.errors import DomainError
from app.fleet.rollouts import RolloutRefused, StoreInRollout
from app.jobs.queue import ActiveJobExists
from app.lifecycle import IllegalTransition

PROBLEM_JSON = "application/problem+json"
# Seconds a client is asked to wait when the database is busy or briefly unreachable.
DATABASE_RETRY_AFTER = 2

log = logging.getLogger("storeplane.api")


class ProblemDetail(BaseModel):
    """How every error looks (RFC 9457), for the OpenAPI document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries saying that these status codes answer with problem+json."""
    schema = ProblemDetail.model_json_schema()
    return {
        code: {"description": HTTPStatus(code).phrase, "content": {PROBLEM_JSON: {"schema": schema}}}
        for code in codes
    }


class Problem(Exception):
    """An error response: `slug` names the kind of problem, `detail` says what to do about it."""

    def __init__(
        self, status: int, slug: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.headers, self.extra = status, slug, detail, headers, extra


def problem_response(
    status: int, slug: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:storeplane:problem:{slug}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# Fields whose constraints read badly as pydantic states them: one sentence for any error on them.
_FIELD_RULES = {
    "Idempotency-Key": "must be 1 to 255 printable ASCII characters without spaces (a UUID is a good key)",
}


def _sentence(error: dict[str, Any]) -> str:
    """One readable sentence for one pydantic error."""
    field, kind, message = _field(tuple(error.get("loc", ()))), error.get("type", ""), error.get("msg", "")
    if field in _FIELD_RULES and kind != "missing":
        return f"'{field}' {_FIELD_RULES[field]}."
    if kind == "missing":
        return f"'{field}' is required."
    if kind == "extra_forbidden":
        return f"'{field}' is not a field this endpoint accepts."
    if kind == "json_invalid":
        return "The request body is not valid JSON."
    if kind in ("model_attributes_type", "dict_type") and field == "body":
        return "The request body must be a JSON object."
    message = message.removeprefix("Value error, ")
    return f"'{field}': {message[0].lower() + message[1:] if message else kind}" + (
        "" if message.endswith(".") else "."
    )


def validation_detail(errors: Sequence[Any]) -> str:
    """The sentence an invalid request gets (the API's 422 `detail`; the dashboard shows it too)."""
    return " ".join(dict.fromkeys(_sentence(e) for e in errors))


def database_unavailable(exc: OperationalError) -> tuple[str, str] | None:
    """(slug, sentence) when the database is busy or unreachable for now; None for any other
    OperationalError (a bug, such as a missing table, stays a 500)."""
    message = str(exc.orig).lower()
    if "database is locked" in message or "database is busy" in message:  # SQLite's busy timeout
        return "busy", "The server is busy; try again in a moment."
    sqlstate = getattr(exc.orig, "sqlstate", None)
    # PostgreSQL: no SQLSTATE (the connection failed), 08 connection exception, 53 insufficient
    # resources (too many connections), 57P admin shutdown / cannot connect now.
    if exc.orig.__class__.__module__.startswith("psycopg") and (
        sqlstate is None or sqlstate.startswith(("08", "53", "57P"))
    ):
        return "database-unavailable", "The database cannot be reached now; try again in a moment."
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(PoolTimeout)
    async def _no_connection(_: Request, exc: PoolTimeout) -> JSONResponse:
        # Every connection is in use past STOREPLANE_DB_POOL_TIMEOUT: refuse, the client retries.
        log.warning("no database connection free in time: %s", exc)
        return problem_response(
            503,
            "busy",
            "The server is busy; try again in a moment.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
            retry_after=DATABASE_RETRY_AFTER,
        )

    @app.exception_handler(OperationalError)
    async def _database(_: Request, exc: OperationalError) -> JSONResponse:
        known = database_unavailable(exc)
        if known is None:
            raise exc
        log.warning("database unavailable: %s", exc.orig)
        return problem_response(
            503,
            known[0],
            known[1],
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
            retry_after=DATABASE_RETRY_AFTER,
        )

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.detail, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e.get("loc", ()))), "message": _sentence(e)} for e in exc.errors()]
        return problem_response(422, "invalid-request", validation_detail(exc.errors()), errors=errors)

    @app.exception_handler(IllegalTransition)
    async def _illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
        return problem_response(409, "illegal-transition", exc.message)

    @app.exception_handler(ActiveJobExists)
    async def _busy(_: Request, exc: ActiveJobExists) -> JSONResponse:
        return problem_response(409, "store-busy", str(exc))

    @app.exception_handler(StoreInRollout)
    async def _in_rollout(_: Request, exc: StoreInRollout) -> JSONResponse:
        return problem_response(409, "store-in-rollout", str(exc), rollout=exc.rollout_id)

    @app.exception_handler(RolloutRefused)
    async def _rollout_refused(_: Request, exc: RolloutRefused) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.message)

    @app.exception_handler(NameTaken)
    async def _taken(_: Request, exc: NameTaken) -> JSONResponse:
        return problem_response(409, "name-taken", str(exc))

    @app.exception_handler(NameReserved)
    async def _reserved(_: Request, exc: NameReserved) -> JSONResponse:
        return problem_response(422, "name-reserved", str(exc))

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.message)

    @app.exception_handler(IdempotencyMismatch)
    async def _mismatch(_: Request, exc: IdempotencyMismatch) -> JSONResponse:
        return problem_response(422, "idempotency-key-reused", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
        headers = getattr(exc, "headers", None)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this address."
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's words for a body json/form parsing raised on (not a JSON syntax error, which
            # is a 422): e.g. a number of more than 4300 digits, which Python refuses to convert.
            detail = (
                "The request body could not be parsed: "
                "send UTF-8 JSON whose numbers have at most 4300 digits."
            )
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            detail = f"This address accepts {', '.join(allowed)}, not {request.method}."
            headers = {"Allow": ", ".join(allowed)}
        return problem_response(exc.status_code, "http-error", detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own Allow names only one route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)
