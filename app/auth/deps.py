"""Who is asking: an API token (Authorization: Bearer) or the dashboard's session cookie.

Both are checked against the database on every request, so revoking a token, disabling a user or
ending their sessions takes effect at once. Mutating requests also pass the rate limits here (the
client IP before authentication, so bad credentials cost budget too; the user after), and
cookie-authenticated ones must carry the session's CSRF token; reads pass the per-user read limit.
One dependency, so no route can forget any of it. The lookups are read transactions (on SQLite they
never wait for the write lock); a token's last-used hint is written apart, at most once a minute.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.api.problems import Problem
from app.auth.csrf import CsrfError, verify_csrf
from app.auth.sessions import SESSION_COOKIE, SessionCodec, SessionData
from app.db.engine import read_transaction, transaction, utcnow
from app.db.models import User
from app.db.users import needs_touch, token_owner, touch_token
from app.ratelimit import MUTATING_METHODS, RateLimiter

log = logging.getLogger("storeplane.auth")

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


# Tokens whose last-used hint this process is writing or wrote within the minute: a burst of
# requests with one token makes one write, not one per request.
_touching: dict[int, datetime] = {}
_touching_lock = threading.Lock()


def _claim_touch(token_id: int, now: datetime) -> bool:
    with _touching_lock:
        last = _touching.get(token_id)
        if last is not None and (now - last).total_seconds() < 60:
            return False
        if len(_touching) > 10_000:  # forget old entries; the database keeps the truth
            _touching.clear()
        _touching[token_id] = now
        return True


def _token_user(factory: sessionmaker[Session], token: str) -> User | None:
    with read_transaction(factory) as session:
        found = token_owner(session, token)
    if found is None:
        return None
    user, row = found
    now = utcnow()
    if row.id is not None and needs_touch(row, now) and _claim_touch(row.id, now):
        try:
            with transaction(factory) as session:
                touch_token(session, row.id, now)
        except SQLAlchemyError as exc:  # a hint for people, not worth failing the request over
            log.warning("could not record that token %s was used: %s", row.id, exc)
    return user


def session_user(factory: sessionmaker[Session], data: SessionData) -> User | None:
    """The session's user if still enabled and their sessions were not ended since this login."""
    if data.user_id is None or data.generation is None:
        return None
    with read_transaction(factory) as session:
        user = session.get(User, data.user_id)
    if user is None or user.disabled or user.session_generation != data.generation:
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
    else:
        limiter.check_read_user(str(user.id))
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
