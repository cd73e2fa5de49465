"""Admission: at most as many requests use the database at once as the pool has connections; the
rest wait their turn without holding a thread or a connection, and are refused with 503 and
Retry-After if the turn does not come in time. A burst is answered or refused, never a 500.

Why a gate in front of the pool, not only the pool: FastAPI runs a sync route and its yield
dependency's exit on separate trips to the thread pool. A request that holds a connection (and on
SQLite the write lock) needs a free thread to commit and give it back; if every thread is blocked
waiting for a connection, none is ever given back until the pool's timeout fails them all (80
concurrent GETs gave 40 to 57 answers of 500 that way). With no more requests inside than
connections, no thread ever waits for a connection, and the thread pool is sized above the gate
so commits always find one.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import problem_response

log = logging.getLogger("storeplane.admission")

# Paths that never touch the database: liveness, static files and the API documentation.
EXEMPT_PREFIXES = ("/static/", "/docs", "/redoc", "/openapi.json")
EXEMPT_PATHS = frozenset({"/healthz", "/api/v1/healthz"})
# How many requests may wait per connection before newcomers are refused at once: the queue is
# bounded so a flood costs memory in proportion to the pool, not to the flood.
WAITING_PER_CONNECTION = 10
# Seconds a refused client is asked to wait: long enough for a burst to drain.
RETRY_AFTER = 2
# Threads beyond the gate: static files, /healthz and the docs run in threads without a turn.
SPARE_THREADS = 16


class BusyResponse:
    """503 problem+json with Retry-After."""

    def __init__(self, detail: str) -> None:
        self.response = problem_response(
            503, "busy", detail, headers={"Retry-After": str(RETRY_AFTER)}, retry_after=RETRY_AFTER
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.response(scope, receive, send)


class Admission:
    """ASGI middleware: `capacity` requests inside at once, up to `wait_seconds` in line for a turn."""

    def __init__(self, app: ASGIApp, *, capacity: int, wait_seconds: float) -> None:
        self.app = app
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.max_waiting = capacity * WAITING_PER_CONNECTION
        # Per event loop: a server has one, but an in-process test client may run each request on
        # its own loop, and an asyncio.Semaphore belongs to the loop that first waited on it.
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._waiting = 0

    def _turns_here(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(self.capacity)
            # The default thread limiter is per loop too: size it above the gate, once.
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(int(limiter.total_tokens), self.capacity + SPARE_THREADS)
        return turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        turns = self._turns_here()
        if self._waiting >= self.max_waiting:
            log.warning("request refused: %d already waiting for a database connection", self._waiting)
            await BusyResponse("The server is busy; try again in a moment.")(scope, receive, send)
            return
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait_seconds):
                await turns.acquire()
        except TimeoutError:
            log.warning("request refused: no database connection free within %s s", self.wait_seconds)
            await BusyResponse("The server is busy; try again in a moment.")(scope, receive, send)
            return
        finally:
            self._waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            turns.release()
