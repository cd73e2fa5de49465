"""The dashboard's view of the session: who is logged in, or a redirect to /login."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from app.api.problems import Problem
from app.auth.deps import authenticate, read_session, session_user
from app.auth.sessions import SessionData
from app.db.models import User


class LoginRequired(Exception):
    """No valid session: the browser is sent to /login and back here afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute URL or a scheme-relative '//host'."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def login_redirect(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    response = RedirectResponse(f"/login?next={quote(safe_next(exc.next_path))}", status_code=303)
    if request.headers.get("hx-request") == "true":
        response.headers["HX-Redirect"] = response.headers["location"]  # HTMX follows this, not 303
    return response


@dataclass(frozen=True)
class PageSession:
    user: User
    csrf: str


async def viewer(request: Request) -> PageSession:
    """For GET pages: the logged-in, enabled user and their CSRF token, else LoginRequired."""
    data: SessionData | None = read_session(request)
    if data is None or data.user_id is None:
        raise LoginRequired(request.url.path)
    user = await run_in_threadpool(session_user, request.app.state.session_factory, data)
    if user is None:
        raise LoginRequired(request.url.path)
    request.state.user = user
    request.app.state.rate_limiter.check_read_user(str(user.id))  # the API's read budget, shared
    return PageSession(user, data.csrf)


async def actor(request: Request, back_to: str) -> PageSession:
    """For form posts: session auth with CSRF and rate limits (as the API), else LoginRequired."""
    try:
        user = await authenticate(request, None)
    except Problem as exc:
        if exc.status == 401:
            raise LoginRequired(back_to) from exc
        raise
    data = read_session(request)
    assert data is not None  # authenticate() succeeded through the cookie
    return PageSession(user, data.csrf)
