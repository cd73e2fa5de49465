"""The FastAPI application factory. `serve` also runs the workers, the sweep and the rollout
controller in-process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import problems
from app.api.admission import Admission
from app.api.cluster_info import ClusterInfo, kube_simulated
from app.api.edge import BodyLimit, SecurityHeaders
from app.api.router import api_router
from app.api.routes import health
from app.auth import wiring as users_wiring
from app.cluster_status import ClusterStatus, container_loopback_hint, kube_ping
from app.db.engine import is_sqlite, make_engine, make_sessionmaker
from app.db.migrate import SchemaBehind, SchemaTooNew, upgrade_to_head, verify_schema
from app.fleet.controller import RolloutController
from app.jobs.worker import Worker
from app.logging import RequestIdMiddleware
from app.settings import Settings, get_settings
from app.sweep import Sweeper

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
        engine = make_engine(settings.effective_database_url, settings)
        # One process owns a SQLite file, so it may migrate it; PostgreSQL is migrated by
        # `python -m app migrate` (init container, Compose service) and only checked here. Either
        # way a schema this image cannot run on stops the start with the reason (app/db/migrate.py).
        prepare = upgrade_to_head if is_sqlite(engine) else verify_schema
        try:
            await asyncio.to_thread(prepare, settings.effective_database_url)
        except (SchemaTooNew, SchemaBehind) as exc:
            log.critical("cannot start: %s", exc.message)
            engine.dispose()
            raise
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = make_sessionmaker(engine)
        app.state.cluster_status = ClusterStatus(
            cluster_ping or kube_ping(settings), hint=container_loopback_hint(settings)
        )
        app.state.cluster_info = ClusterInfo(cluster_simulated or kube_simulated(settings))
        stop = asyncio.Event()
        # The first check before serving, so /readyz reports the cluster from the first request on.
        await app.state.cluster_status.check()
        background: list[asyncio.Task[None]] = [
            asyncio.create_task(app.state.cluster_status.run(stop)),
            asyncio.create_task(app.state.cluster_info.learn(stop)),
        ]
        engines = [engine]
        if workers:
            # Their own pool: a burst of requests never makes a job wait for a connection (a job's
            # status write failing on a pool timeout), and jobs never take the requests' turns.
            engines.append(make_engine(settings.effective_database_url, settings))
            jobs_factory = make_sessionmaker(engines[-1])
            worker = Worker(jobs_factory, settings)
            sweeper = Sweeper(jobs_factory, settings)
            rollouts = RolloutController(jobs_factory, settings)
            background += [
                asyncio.create_task(worker.run(stop)),
                asyncio.create_task(sweeper.run(stop)),
                asyncio.create_task(rollouts.run(stop)),
            ]
            app.state.worker = worker
        try:
            async with users_wiring.runtime(app, settings):  # first admin, metrics (issue 5)
                yield
        finally:
            stop.set()  # uvicorn got SIGTERM/SIGINT: stop claiming, let running jobs finish or hand back
            if background:
                await asyncio.gather(*background, return_exceptions=True)
            for each in engines:
                each.dispose()

    app = FastAPI(
        title="Storeplane",
        version="1",
        summary="Provision complete e-commerce stores on Kubernetes, one Helm release per store.",
        lifespan=lifespan,
    )
    users_wiring.install(app, settings)  # before RequestIdMiddleware, so audit runs inside its request id
    # Outermost last: request id → security headers → body limit → admission → audit → routes. A body
    # too large or a request refused for want of a connection never reaches a route (nor the audit:
    # it did nothing), but is logged with its request id and carries the security headers.
    app.add_middleware(
        Admission,
        capacity=settings.db_pool_size + settings.db_max_overflow,
        wait_seconds=settings.db_pool_timeout,
    )
    app.add_middleware(BodyLimit, limit=settings.max_request_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIdMiddleware)
    problems.install(app)
    app.include_router(api_router)
    app.include_router(health.router)  # also at / for probes
    return app
