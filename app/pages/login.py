"""/login and /logout: the dashboard session. Failures are rate limited and audited; logout ends the
user's sessions on the server (every device), not only the cookie in this browser."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from app.audit import Action, Outcome
from app.auth import accounts
from app.auth.csrf import CsrfError, verify_csrf
from app.auth.deps import rate_limiter, read_session, session_codec, session_user
from app.auth.sessions import SessionData, clear_session_cookie, cookie_secure, set_session_cookie
from app.db.engine import transaction
from app.db.models import User
from app.pages.render import render
from app.pages.session import safe_next
from app.ratelimit import RateLimited

router = APIRouter(include_in_schema=False)


def _set_session(request: Request, response: Response, data: SessionData) -> None:
    settings = request.app.state.settings
    set_session_cookie(
        response,
        session_codec(request).encode(data),
        max_age=settings.session_max_age_seconds,
        secure=cookie_secure(request, settings, rate_limiter(request).trusted),
    )


def _form(
    request: Request,
    data: SessionData,
    *,
    next_path: str,
    error: str = "",
    username: str = "",
    status: int = 200,
) -> HTMLResponse:
    headers = {"Cache-Control": "no-store"}
    context = {"csrf_token": data.csrf, "next": next_path, "error": error, "username": username, "user": None}
    response = render(request, "pages/login.html", context, status_code=status, headers=headers)
    _set_session(request, response, data)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    data = read_session(request)
    if data is not None and data.user_id is not None:
        user = await run_in_threadpool(session_user, request.app.state.session_factory, data)
        if user is not None:
            return RedirectResponse(safe_next(next), status_code=303)
    # An anonymous session exists only to carry the login form's CSRF token.
    return _form(
        request,
        data if data is not None and data.user_id is None else SessionData(),
        next_path=safe_next(next),
    )


def _check_password(
    factory: sessionmaker[Session], name: str, password: str
) -> tuple[User | None, int | None]:
    """(user if the login is good, id of the user of that name if one exists)."""
    with transaction(factory) as session:
        user = accounts.authenticate(session, name, password)
        named = user or accounts.find_user(session, name)
        return user, named.id if named is not None else None


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    request.state.audit_action = Action.LOGIN
    # Never the typed name as such: people type passwords into the user-name field.
    request.state.audit_target = "user:unknown"
    name, next_path = username.strip().lower(), safe_next(next)
    data = read_session(request)
    if data is None or not hmac.compare_digest(csrf_token.encode(), data.csrf.encode()):
        request.state.audit_detail = {"reason": "csrf"}
        return _form(
            request, SessionData(), next_path=next_path, status=403,
            error="This login form had expired. Please try again.",
        )  # fmt: skip
    try:
        attempt = rate_limiter(request).check_login_attempt(request, name)
    except RateLimited as exc:
        request.state.audit_detail = {"reason": "rate_limited", "scope": exc.scope}
        response = _form(
            request, data, next_path=next_path, username=username, status=429,
            error=f"Too many login attempts. Try again in {exc.retry_after} seconds.",
        )  # fmt: skip
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    user: User | None = None
    try:
        user, user_id = await run_in_threadpool(
            _check_password, request.app.state.session_factory, name, password
        )
    finally:
        attempt.finish(failed=user is None)  # also when the check itself failed: it was tried
    if user_id is not None:
        request.state.audit_target = f"user:{user_id}"
    if user is None:
        request.state.audit_outcome = Outcome.FAILURE
        return _form(
            request, data, next_path=next_path, username=username, status=401,
            error="Wrong user name or password, or the account is disabled.",
        )  # fmt: skip
    request.state.user = user
    assert user.id is not None
    response = RedirectResponse(next_path, status_code=303)
    _set_session(request, response, data.logged_in_as(user.id, user.session_generation))
    return response


def _end_sessions(factory: sessionmaker[Session], user_id: int | None) -> None:
    with transaction(factory) as session:
        user = session.get(User, user_id)
        if user is not None:
            accounts.end_sessions(session, user)


@router.post("/logout")
async def logout(request: Request) -> Response:
    request.state.audit_action = Action.LOGOUT
    data = read_session(request)
    response = RedirectResponse("/login", status_code=303)
    if data is None or data.user_id is None:
        return response
    try:
        await verify_csrf(request, data.csrf)
    except CsrfError:
        request.state.audit_outcome = Outcome.DENIED
        return RedirectResponse("/", status_code=303)
    factory = request.app.state.session_factory
    user = await run_in_threadpool(session_user, factory, data)
    if user is not None:
        request.state.user = user
        request.state.audit_target = f"user:{user.id}"
        # The server-side end: this cookie, and any copy of it, is refused from now on.
        await run_in_threadpool(_end_sessions, factory, user.id)
    settings = request.app.state.settings
    clear_session_cookie(response, secure=cookie_secure(request, settings, rate_limiter(request).trusted))
    return response
