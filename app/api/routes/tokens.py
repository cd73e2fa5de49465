"""/api/v1/tokens: create (the token is shown once), list, revoke. Each user manages their own."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.api.deps import CurrentUser, RowId, SessionDep
from app.api.problems import Problem
from app.auth import accounts
from app.auth.schemas import TokenCreate, TokenCreated, TokenPublic
from app.db.models import User

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
def create(body: TokenCreate, user: CurrentUser, session: SessionDep, request: Request) -> TokenCreated:
    """A new API token for yourself. The response is the only time the token is shown."""
    owner = session.get(User, user.id)
    assert owner is not None
    try:
        row, plaintext = accounts.create_token(session, owner, body.name)
    except accounts.AccountError as exc:
        raise Problem(409, "token-limit", str(exc)) from exc
    request.state.audit_target = f"token:{row.id}"
    return TokenCreated(**TokenPublic.of(row).model_dump(), token=plaintext)


@router.get("", response_model=list[TokenPublic])
def list_(user: CurrentUser, session: SessionDep) -> list[TokenPublic]:
    """Your tokens, live first; never the tokens themselves."""
    return [TokenPublic.of(row) for row in accounts.list_tokens(session, user)]


@router.delete("/{token_id}", response_model=TokenPublic)
def revoke(token_id: RowId, user: CurrentUser, session: SessionDep) -> TokenPublic:
    """Revoke a token: it stops working with the next request. Revoking twice is harmless."""
    row = accounts.revoke_token(session, user, token_id)
    if row is None:
        raise Problem(404, "token-not-found", f"You have no token with id {token_id}.")
    return TokenPublic.of(row)
