"""Structured JSON log lines that carry the request id, also into job logs.

The request id lives in a ContextVar: the HTTP middleware sets it for a request, and the job runner
sets it (from the job row) around a job, so every line a store action logs can be traced back to the
request that caused it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.tokens import redact_tokens

REQUEST_ID_HEADER = "x-request-id"
# An inbound id is echoed into logs and headers, so only a short, plain token is accepted.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

request_id_var: ContextVar[str | None] = ContextVar("storeplane_request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and belongs in the line.
# uvicorn adds "color_message" (ANSI-coloured duplicate of the message) for its own console handler.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}

access_log = logging.getLogger("storeplane.access")


def new_request_id() -> str:
    return secrets.token_hex(8)


def current_request_id() -> str | None:
    return request_id_var.get()


def accept_request_id(value: str | None) -> str:
    """The caller's id if it is a plain short token, else a fresh one."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[str]:
    """Run a block (a request, a job) with this request id on every log line; a fresh id if None."""
    rid = request_id or new_request_id()
    token = request_id_var.set(rid)
    try:
        yield rid
    finally:
        request_id_var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # Last line of defence: an API token that reached a log line anyway (a URL someone logged,
        # an exception message) is redacted; the prefix is kept so the leak can be traced.
        return redact_tokens(json.dumps(line, default=str, separators=(",", ":")))


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's records to `stream` (stderr) as JSON lines; idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_storeplane", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._storeplane = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The HTTP clients under lightkube log every request at INFO: one line per Kubernetes API call
    # (every few seconds per waiting store) drowns what a person needs to read. DEBUG keeps them.
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    return handler


QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2")


class RequestIdMiddleware:
    """Give each HTTP request an id (the caller's `X-Request-ID` if sane), echo it, log one access line.

    A pure ASGI middleware so the ContextVar is set in the same context the endpoint runs in.
    The access line has the path without the query string: query strings are where secrets leak.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = None
        for name, value in scope.get("headers", []):
            if name == REQUEST_ID_HEADER.encode():
                inbound = value.decode("latin-1")
                break
        status = 500
        started = time.perf_counter()
        with bound_request_id(accept_request_id(inbound)) as rid:
            scope.setdefault("state", {})["request_id"] = rid

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (REQUEST_ID_HEADER.encode(), rid.encode()),
                    ]
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            finally:
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
