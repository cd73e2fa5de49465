"""CSRF protection for cookie-authenticated requests: a per-session token that every form post
carries as a hidden `csrf_token` field and every HTMX request as the `X-CSRF-Token` header.

Requests authenticated with a bearer token need none: a browser never attaches that header on its
own, so a forged cross-site request cannot carry it.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(Exception):
    """Missing or wrong CSRF token: reload the page and try again."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


async def submitted_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        # Starlette caches the parsed form on the request, so the endpoint can still read it.
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def verify_csrf(request: Request, expected: str) -> None:
    """Raise CsrfError unless an unsafe request carries the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    token = await submitted_token(request)
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise CsrfError()
