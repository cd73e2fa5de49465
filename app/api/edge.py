"""The HTTP edge, before any route runs: the request-body limit and the browser security headers."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
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


def body_too_large(limit: int) -> JSONResponse:
    return problem_response(
        413, "body-too-large", f"The request body is larger than {limit} bytes, the most this API accepts."
    )


class BodyLimit:
    """Reads a request's body, at most `limit` bytes, before the request goes any further: a larger
    one is refused with 413 before anything parses it or checks who sent it — at once when
    Content-Length says so, else as soon as the streamed body passes the limit.

    Reading it here, outside the admission gate, also means a client that sends its body slowly
    holds no turn at the database while it does (a few such clients could otherwise hold them all).
    The route then reads the body from memory.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await body_too_large(self.limit)(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.limit:
                await body_too_large(self.limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()  # after the body: a disconnect, when it comes

        await self.app(scope, replay, send)


def _has_body(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11/httptools) refuses a malformed length itself
    return None
