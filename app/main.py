"""The FastAPI application factory. `serve` also runs the workers and the reconciler in-process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import problems
from app.api.cluster_info import ClusterInfo, kube_simulated
from app.api.router import api_router
from app.api.routes import health
from app.auth import wiring as users_wiring
from app.db.engine import is_sqlite, make_engine, make_sessionmaker
from app.db.migrate import upgrade_to_head
from app.jobs.worker import Worker
from app.logging import RequestIdMiddleware
from app.reconciler import Reconciler
from app.settings import Settings, get_settings

log = logging.getLogger("storeplane.main")


def create_app(
    settings: Settings | None = None,
    *,
    run_workers: bool | None = None,
    cluster_ping: Callable[[], Awaitable[None]] | None = None,
    cluster_simulated: Callable[[], Awaitable[bool]] | None = None,
) -> FastAPI:
    """`run_workers` defaults to settings.embedded_workers; `cluster_ping` to app.kube's ping;
    `cluster_simulated` (is this the simulated cluster? for the dashboard's banner) to app.kube's."""
    settings = settings or get_settings()
    workers = settings.embedded_workers if run_workers is None else run_workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.effective_database_url)
        if is_sqlite(engine):
            # One process owns a SQLite file, so it may migrate it; PostgreSQL is migrated once,
            # by `python -m app migrate`, before replicas start.
            await asyncio.to_thread(upgrade_to_head, settings.effective_database_url)
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = make_sessionmaker(engine)
        app.state.cluster_ping = cluster_ping or _kube_ping(settings)
        app.state.cluster_info = ClusterInfo(cluster_simulated or kube_simulated(settings))
        stop = asyncio.Event()
        background: list[asyncio.Task[None]] = [asyncio.create_task(app.state.cluster_info.learn(stop))]
        if workers:
            worker = Worker(app.state.session_factory, settings)
            reconciler = Reconciler(app.state.session_factory, settings)
            background += [asyncio.create_task(worker.run(stop)), asyncio.create_task(reconciler.run(stop))]
            app.state.worker = worker
        try:
            async with users_wiring.runtime(app, settings):  # first admin, metrics (issue 5)
                yield
        finally:
            stop.set()  # uvicorn got SIGTERM/SIGINT: stop claiming, let running jobs finish or hand back
            if background:
                await asyncio.gather(*background, return_exceptions=True)
            engine.dispose()

    app = FastAPI(
        title="Storeplane",
        version="1",
        summary="Provision complete e-commerce stores on Kubernetes, one Helm release per store.",
        lifespan=lifespan,
    )
    users_wiring.install(app, settings)  # before RequestIdMiddleware, so audit runs inside its request id
    app.add_middleware(RequestIdMiddleware)
    problems.install(app)
    app.include_router(api_router)
    app.include_router(health.router)  # also at / for probes
    return app


def _kube_ping(settings: Settings) -> Callable[[], Awaitable[None]]:
    async def ping() -> None:
        from app.kube import get_kube

        await get_kube(settings).ping()

    return ping
