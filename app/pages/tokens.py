"""/account/tokens: a user's API tokens; create (shown once) and revoke, HTMX or plain forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from app.api.deps import RowId
from app.audit import Outcome
from app.auth import accounts
from app.db.engine import read_transaction, transaction
from app.db.models import ApiToken, User
from app.pages.render import render
from app.pages.session import PageSession, actor, viewer

router = APIRouter(prefix="/account/tokens", include_in_schema=False)


def _tokens(factory: sessionmaker[Session], user: User) -> list[ApiToken]:
    with read_transaction(factory) as session:
        return accounts.list_tokens(session, user)


async def _page(request: Request, page: PageSession, **extra: Any) -> HTMLResponse:
    tokens = await run_in_threadpool(_tokens, request.app.state.session_factory, page.user)
    context = {"user": page.user, "csrf_token": page.csrf, "tokens": tokens, **extra}
    # no-store: a freshly created token must not linger in a cache.
    return render(
        request,
        "pages/tokens.html",
        context,
        fragment="partials/tokens.html",
        headers={"Cache-Control": "no-store"},
    )


@router.get("", response_class=HTMLResponse)
async def tokens_page(request: Request) -> HTMLResponse:
    return await _page(request, await viewer(request))


@router.post("", response_class=HTMLResponse)
async def create(request: Request, name: Annotated[str, Form()] = "") -> HTMLResponse:
    page = await actor(request, "/account/tokens")

    def create_token() -> tuple[ApiToken, str]:
        with transaction(request.app.state.session_factory) as session:
            owner = session.get(User, page.user.id)
            assert owner is not None
            return accounts.create_token(session, owner, name)

    try:
        row, plaintext = await run_in_threadpool(create_token)
    except accounts.AccountError as exc:
        request.state.audit_outcome = Outcome.FAILURE
        return await _page(request, page, error=str(exc))
    request.state.audit_target = f"token:{row.id}"
    return await _page(request, page, created=row, created_token=plaintext)


@router.post("/{token_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, token_id: RowId) -> HTMLResponse:
    page = await actor(request, "/account/tokens")

    def revoke_token() -> ApiToken | None:
        with transaction(request.app.state.session_factory) as session:
            return accounts.revoke_token(session, page.user, token_id)

    if await run_in_threadpool(revoke_token) is None:
        request.state.audit_outcome = Outcome.FAILURE
        return await _page(request, page, error=f"You have no token with id {token_id}.")
    return await _page(request, page)
