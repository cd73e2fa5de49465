"""Small helpers shared by the core unit tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from app.db.engine import transaction
from app.db.models import Job, Store, User
from app.db.stores import create_store
from app.db.users import get_or_create_user
from app.jobs.worker import Worker
from app.settings import Settings
from tests.fixtures_db import Db
from tests.lifted_limits import LIMITS_LIFTED


def fast_settings(db: Db, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db.url,
        "poll_seconds": 0.02,
        "retry_base_seconds": 0.01,
        "retry_max_seconds": 0.05,
        "lease_seconds": 5,
        "shutdown_grace_seconds": 0.2,
        "job_max_attempts": 3,
        # These tests are about jobs and the API, not abuse prevention.
        **LIMITS_LIFTED,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def unreachable_kubeconfig(path: Path) -> Path:
    """A kubeconfig whose API server is a closed loopback port: for a process that needs one to start
    (the sweep of `serve` with workers) in a test that is not about the cluster."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


def new_store(
    db: Db, settings: Settings, name: str, *, owner: str = "alice", engine: str = "woocommerce"
) -> str:
    with transaction(db.factory) as session:
        user = get_or_create_user(session, owner)
        store, _ = create_store(session, owner=user, name=name, engine=engine, settings=settings)
        return store.id


def store(db: Db, store_id: str) -> Store:
    with transaction(db.factory) as session:
        found = session.get(Store, store_id)
        assert found is not None
        return found


def jobs_of(db: Db, store_id: str) -> list[Job]:
    with transaction(db.factory) as session:
        return list(session.execute(select(Job).where(Job.store_id == store_id).order_by(Job.id)).scalars())


def user_id(db: Db, name: str) -> int:
    with transaction(db.factory) as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one()
        assert user.id is not None
        return user.id


async def eventually(check: Callable[[], bool], *, limit: float = 20.0) -> None:
    """Wait until `check()` holds; it reads the database, so it runs off the event loop."""
    async with asyncio.timeout(limit):
        while not await asyncio.to_thread(check):  # noqa: ASYNC110 - polling the database, not an event
            await asyncio.sleep(0.02)


async def run_worker_until(worker: Worker, done: Callable[[], bool], *, limit: float = 20.0) -> None:
    """Run `worker` until `done()` holds (checked off the event loop: it reads the database)."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(limit):
            while not await asyncio.to_thread(done):
                if task.done():
                    task.result()
                    raise AssertionError("worker stopped on its own")
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
