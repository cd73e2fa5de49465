"""The store page's Domains section: link a domain, check it now, make it primary, remove it.

Thin routes over app.api.domain_service (the API's own functions: same rules, the store action in
the same transaction, audit entries by route, CSRF and rate limits through `actor`). Each answers
with the store's detail fragment (or redirects a plain form back to the store page), with a refused
request's sentence next to the Domains form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.api import domain_service
from app.audit import Outcome
from app.db.engine import transaction
from app.domains.errors import DomainError, DomainLimit
from app.jobs.queue import ActiveJobExists
from app.lifecycle import IllegalTransition
from app.pages.session import PageSession, actor
from app.pages.stores import after_action

router = APIRouter(include_in_schema=False)


async def _page(request: Request, store_id: str, domain: str) -> PageSession:
    page = await actor(request, f"/stores/{store_id}")
    request.state.audit_detail = {"domain": domain[:253]}
    return page


def _refused(request: Request, exc: Exception) -> tuple[str, int]:
    """The sentence and status (for a plain form) of a refused request; the audit entry says so."""
    request.state.audit_outcome = Outcome.DENIED if isinstance(exc, DomainLimit) else Outcome.FAILURE
    if isinstance(exc, DomainError):
        return exc.message, exc.status
    return str(exc), 409


@router.post("/stores/{store_id}/domains")
async def add(request: Request, store_id: str, domain: Annotated[str, Form()] = "") -> Response:
    page = await _page(request, store_id, domain)
    state = request.app.state

    def add() -> None:
        with transaction(state.session_factory) as session:
            domain_service.add(session, page.user, state.settings, store_id, domain)

    error, status = "", 409
    try:
        await run_in_threadpool(add)
    except DomainError as exc:
        error, status = _refused(request, exc)
    return await after_action(request, page, store_id, error, status_code=status, domain=True)


@router.post("/stores/{store_id}/domains/{domain}/check")
async def check(request: Request, store_id: str, domain: str) -> Response:
    page = await _page(request, store_id, domain)
    state = request.app.state
    error, status = "", 409
    try:
        await domain_service.check_now(state.session_factory, page.user, state.settings, store_id, domain)
    except DomainError as exc:
        error, status = _refused(request, exc)
    return await after_action(request, page, store_id, error, status_code=status, domain=True)


@router.post("/stores/{store_id}/domains/{domain}/primary")
async def make_primary(request: Request, store_id: str, domain: str) -> Response:
    page = await _page(request, store_id, domain)
    state = request.app.state

    def act() -> None:
        with transaction(state.session_factory) as session:
            domain_service.make_primary(session, page.user, state.settings, store_id, domain)

    error, status = "", 409
    try:
        await run_in_threadpool(act)
    except (DomainError, ActiveJobExists, IllegalTransition) as exc:
        error, status = _refused(request, exc)
    return await after_action(request, page, store_id, error, status_code=status, domain=True)


@router.post("/stores/{store_id}/domains/{domain}/remove")
async def remove(request: Request, store_id: str, domain: str) -> Response:
    page = await _page(request, store_id, domain)
    state = request.app.state

    def act() -> None:
        with transaction(state.session_factory) as session:
            domain_service.remove(session, page.user, state.settings, store_id, domain)

    error, status = "", 409
    try:
        await run_in_threadpool(act)
    except (DomainError, ActiveJobExists, IllegalTransition) as exc:
        error, status = _refused(request, exc)
    return await after_action(request, page, store_id, error, status_code=status, domain=True)
