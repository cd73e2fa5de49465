"""The HTTP edge, before any route runs: the request-body limit and the browser security headers."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem_response

# Every page and API response: no framing by other sites (clickjacking), no MIME sniffing, and no
# dashboard URL (with its store ids) in the Referer sent to a store opened from the dashboard.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# HTML the dashboard renders loads only its own files: vendored htmx, one stylesheet, no inline
# script (the CSRF header rides on an hx-headers attribute, not a script).
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
# Everything else (JSON, static files, FastAPI's /docs page that loads Swagger UI from its CDN):
# only the framing rule.
DEFAULT_CSP = "frame-ancestors 'none'"
# FastAPI's interactive docs pages: their HTML is FastAPI's, with inline script.
_DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Adds SECURITY_HEADERS and a Content-Security-Policy to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(_DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault(
                    "Content-Security-Policy", DASHBOARD_CSP if html and not docs else DEFAULT_CSP
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes, the most this API accepts.")


class BodyLimit:
    """Refuses a request body over `limit` bytes with 413 before anything parses it or asks who sent
    it: at once when Content-Length says so, else as soon as the streamed body passes the limit
    (raised from `receive`, so the route's own error handling turns it into problem+json and the
    audit entry records the 413)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            refused = BodyTooLarge(self.limit)
            await problem_response(413, "body-too-large", refused.detail)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, receive_within_limit, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11/httptools) refuses a malformed length itself
    return None
