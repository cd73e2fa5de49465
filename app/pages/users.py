"""/admin/users: admins create users (password shown once), set store limits, disable and enable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from app.api import store_service
from app.api.deps import RowId
from app.api.problems import Problem
from app.audit import Action, Outcome
from app.auth import accounts
from app.auth.passwords import generate_password
from app.db.engine import read_transaction, transaction
from app.db.models import User
from app.pages.render import render
from app.pages.session import PageSession, actor, viewer

router = APIRouter(prefix="/admin/users", include_in_schema=False)


@dataclass(frozen=True)
class UserRow:
    user: User
    stores: int


def _rows(factory: sessionmaker[Session]) -> list[UserRow]:
    with read_transaction(factory) as session:
        counts = store_service.live_counts_by_owner(session)
        return [UserRow(user, counts.get(user.id, 0)) for user in accounts.list_users(session)]


def _admin_only(page: PageSession) -> None:
    if not page.user.is_admin:
        raise Problem(403, "admin-only", "Only an admin may manage users.")


async def _page(request: Request, page: PageSession, **extra: Any) -> HTMLResponse:
    rows = await run_in_threadpool(_rows, request.app.state.session_factory)
    context = {
        "user": page.user,
        "csrf_token": page.csrf,
        "rows": rows,
        "default_max_stores": request.app.state.settings.max_stores_per_user,
        **extra,
    }
    return render(
        request,
        "pages/users.html",
        context,
        fragment="partials/users.html",
        headers={"Cache-Control": "no-store"},
    )


@router.get("", response_class=HTMLResponse)
async def users_page(request: Request) -> HTMLResponse:
    page = await viewer(request)
    _admin_only(page)
    return await _page(request, page)


@router.post("", response_class=HTMLResponse)
async def create(
    request: Request, name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "user"
) -> HTMLResponse:
    page = await actor(request, "/admin/users")
    _admin_only(page)
    password = generate_password()

    def create_user() -> User:
        with transaction(request.app.state.session_factory) as session:
            return accounts.create_user(
                session, name=name.strip(), password=password, is_admin=role == "admin"
            )

    try:
        user = await run_in_threadpool(create_user)
    except accounts.AccountError as exc:
        request.state.audit_outcome = Outcome.FAILURE
        return await _page(request, page, error=str(exc))
    request.state.audit_target = f"user:{user.id}"
    request.state.audit_detail = {"role": "admin" if user.is_admin else "user"}
    return await _page(request, page, created=user, created_password=password)


@router.post("/{user_id}", response_class=HTMLResponse)
async def update(
    request: Request,
    user_id: RowId,
    change: Annotated[str, Form()] = "",
    max_stores: Annotated[str, Form()] = "",
) -> HTMLResponse:
    page = await actor(request, "/admin/users")
    _admin_only(page)
    actions = {"disable": Action.USER_DISABLE, "enable": Action.USER_ENABLE, "limit": Action.USER_LIMITS}
    if change not in actions:
        request.state.audit_outcome = Outcome.FAILURE
        return await _page(request, page, error="Choose disable, enable or a store limit.")
    request.state.audit_action = actions[change]

    def apply() -> dict[str, object]:
        with transaction(request.app.state.session_factory) as session:
            user = session.get(User, user_id)
            if user is None:
                raise accounts.AccountError(f"there is no user with id {user_id}")
            if change == "limit":
                new_limit = int(max_stores) if max_stores.strip() else None
                detail: dict[str, object] = {"max_stores_from": user.max_stores, "max_stores_to": new_limit}
                accounts.set_max_stores(session, user, new_limit)
                return detail
            if user.id == page.user.id:
                raise accounts.AccountError("you cannot disable yourself")
            revoked = accounts.set_disabled(session, user, change == "disable")
            if change == "disable":
                return {"disabled": True, "revoked_token_count": revoked}
            return {"disabled": False}

    try:
        detail = await run_in_threadpool(apply)
    except ValueError as exc:  # AccountError, or a limit that is not a whole number
        request.state.audit_outcome = Outcome.FAILURE
        message = (
            str(exc) if isinstance(exc, accounts.AccountError) else "The store limit must be a whole number."
        )
        return await _page(request, page, error=message)
    request.state.audit_detail = detail
    return await _page(request, page)
