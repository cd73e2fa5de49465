"""Who is asking: an API token (Authorization: Bearer) or the dashboard's session cookie.

Both are checked against the database on every request, so revoking a token or disabling a user
takes effect at once. Mutating requests also pass the rate limits here (the client IP before
authentication, so bad credentials cost budget too; the user after), and cookie-authenticated ones
must carry the session's CSRF token. One dependency, so no route can forget any of it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from app.api.problems import Problem
from app.auth.csrf import CsrfError, verify_csrf
from app.auth.sessions import SESSION_COOKIE, SessionCodec, SessionData, password_fingerprint
from app.db.engine import transaction
from app.db.models import User
from app.db.users import user_for_token
from app.ratelimit import MUTATING_METHODS, RateLimiter

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token: create one on the dashboard's Tokens page or with POST /api/v1/tokens.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


def session_codec(request: Request) -> SessionCodec:
    return request.app.state.session_codec


def read_session(request: Request) -> SessionData | None:
    return session_codec(request).decode(request.cookies.get(SESSION_COOKIE))


def _token_user(factory: sessionmaker[Session], token: str) -> User | None:
    # A short transaction of its own: on SQLite each one holds the write lock.
    with transaction(factory) as session:
        return user_for_token(session, token)


def session_user(factory: sessionmaker[Session], data: SessionData) -> User | None:
    """The session's user if still enabled and the password is unchanged since this login."""
    if data.user_id is None:
        return None
    with transaction(factory) as session:
        user = session.get(User, data.user_id)
    if user is None or user.disabled or data.password_fp != password_fingerprint(user.password_hash):
        return None
    return user


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> User:
    """The user behind this request, after rate limits and CSRF; raises Problem (401/403/429)."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    limiter = rate_limiter(request)
    mutating = request.method in MUTATING_METHODS
    if mutating:
        limiter.check_mutation_ip(request)
    if credentials is not None:
        user = await run_in_threadpool(_token_user, factory, credentials.credentials)
        if user is None:
            raise Problem(
                401,
                "unauthenticated",
                "This API token is unknown or revoked, or its user is disabled.",
                headers=_CHALLENGE,
            )
        request.state.auth_via = "token"
    else:
        data = read_session(request)
        if data is None or data.user_id is None:
            raise Problem(
                401,
                "unauthenticated",
                "Send an API token as 'Authorization: Bearer <token>', or log in at /login.",
                headers=_CHALLENGE,
            )
        user = await run_in_threadpool(session_user, factory, data)
        if user is None:
            raise Problem(401, "unauthenticated", "Your session has ended; log in again at /login.")
        if mutating:
            try:
                await verify_csrf(request, data.csrf)
            except CsrfError as exc:
                raise Problem(403, "csrf", str(exc)) from exc
        request.state.auth_via = "session"
    request.state.user = user
    if mutating:
        limiter.check_mutation_user(str(user.id))
    return user


async def get_current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> User:
    return await authenticate(request, credentials)


def require_admin(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_admin:
        raise Problem(403, "admin-only", "Only an admin may do this.")
    return user


AdminUser = Annotated[User, Depends(require_admin)]
