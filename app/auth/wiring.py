"""Plugs accounts and abuse prevention into the application: state, error handlers, middleware,
routers and pages (`install`), and what runs for the app's lifetime (`runtime`): the first-admin
bootstrap, the database-backed metric gauges and the separate /metrics listener.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from wsgiref.simple_server import WSGIServer

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.api.problems import problem_response
from app.audit import AuditMiddleware
from app.auth import accounts
from app.auth.bootstrap import Bootstrap, BootstrapError, ensure_first_admin
from app.auth.sessions import SessionCodec, load_session_secret
from app.db.engine import read_transaction, transaction
from app.db.models import Job, Store
from app.lifecycle import StoreStatus
from app.limits import LimitExceeded
from app.pages.session import LoginRequired, login_redirect
from app.ratelimit import RateLimited, RateLimiter
from app.settings import REPO_ROOT, Settings

log = logging.getLogger("storeplane.auth")

STATIC_DIR = REPO_ROOT / "app" / "static"


def install(app: FastAPI, settings: Settings) -> None:
    """Call once from create_app, after the other middleware (this one then runs outside them)."""
    from app.pages import router as pages_router  # pages import templates; keep API-only imports light

    app.state.rate_limiter = RateLimiter(settings)
    app.state.session_codec = SessionCodec(
        load_session_secret(settings, settings.data_dir), settings.session_max_age_seconds
    )
    app.add_exception_handler(RateLimited, rate_limited_handler)
    app.add_exception_handler(LimitExceeded, limit_exceeded_handler)
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_middleware(AuditMiddleware)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


async def rate_limited_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    request.state.audit_detail = {"rate_limit": str(exc.limit), "scope": exc.scope}
    return problem_response(
        429,
        "rate-limited",
        str(exc),
        headers={"Retry-After": str(exc.retry_after)},
        limit=str(exc.limit),
        scope=exc.scope,
        retry_after=exc.retry_after,
    )


async def limit_exceeded_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LimitExceeded)
    request.state.audit_outcome = "denied"
    request.state.audit_detail = {"limit": exc.limit, "value": exc.value, "usage": exc.usage}
    return problem_response(
        exc.status_code, "limit-reached", str(exc), limit=exc.limit, value=exc.value, usage=exc.usage
    )


def bootstrap_admin(factory: sessionmaker[Session], settings: Settings) -> Bootstrap:
    with transaction(factory) as session:

        def create_admin(name: str, password: str) -> None:
            try:
                accounts.create_user(session, name=name, password=password, is_admin=True)
            except accounts.UserExists as exc:
                raise BootstrapError(
                    f"no admin exists, but a user named {name!r} does and is not one; set "
                    "STOREPLANE_ADMIN_USERNAME to a free name for the first admin"
                ) from exc

        return ensure_first_admin(
            settings, admin_exists=lambda: accounts.admin_exists(session), create_admin=create_admin
        )


def state_counts(factory: sessionmaker[Session]) -> metrics.StateCounts:
    with read_transaction(factory) as session:
        stores = session.execute(select(Store.status, func.count()).group_by(Store.status)).all()
        jobs = session.execute(
            select(Job.status, func.count())
            .where(Job.status.in_(("queued", "running")))  # type: ignore[attr-defined]
            .group_by(Job.status)
        ).all()
        drifted = session.execute(
            select(func.count()).select_from(Store).where(Store.drifted.is_(True), Store.status != "deleted")  # type: ignore[union-attr]
        ).scalar_one()
    # Every status appears, zeros included, so a graph does not break when a status empties.
    by_status = {str(status): 0 for status in StoreStatus} | dict(stores)  # type: ignore[arg-type]
    return metrics.StateCounts(by_status, dict(jobs), drifted=drifted)  # type: ignore[arg-type]


_metrics_listener: tuple[WSGIServer, threading.Thread] | None = None
_metrics_lock = threading.Lock()


def start_metrics_listener(settings: Settings) -> None:
    """The /metrics port, once per process (the registry is per process too); 0 disables it."""
    global _metrics_listener
    if settings.metrics_port == 0:
        return
    with _metrics_lock:
        if _metrics_listener is not None:
            return
        try:
            _metrics_listener = metrics.serve(settings.metrics_host, settings.metrics_port)
        except OSError as exc:
            log.error(
                "the /metrics listener could not start on %s:%s: %s",
                settings.metrics_host,
                settings.metrics_port,
                exc.strerror,
            )
            return
    log.info("metrics at http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)


@asynccontextmanager
async def runtime(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Enter inside the app's lifespan once app.state.session_factory exists (and the schema)."""
    factory: sessionmaker[Session] = app.state.session_factory
    await asyncio.to_thread(bootstrap_admin, factory, settings)
    metrics.set_state_source(lambda: state_counts(factory))
    start_metrics_listener(settings)
    try:
        yield
    finally:
        metrics.set_state_source(None)
