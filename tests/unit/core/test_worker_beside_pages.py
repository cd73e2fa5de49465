"""The embedded worker (`serve` with workers) cannot starve behind page traffic: with every request
turn taken and the request pool's only connection held, so that no dashboard request can finish, a
job is still claimed, run and recorded. The worker shares neither the admission gate, nor the
request pool, nor the request threads; what it does share (the event loop, the interpreter, SQLite's
file) is measured in bench/dashboard.py, not asserted as timing here.

The store actions are the unit tests' stand-in (tests/unit/core/fakes.py), put in at the job runner's
boundary: this test is about the platform process, not about a cluster."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.api.admission import Admission
from app.auth import accounts
from app.db.engine import transaction
from app.jobs import worker as worker_module
from app.main import create_app
from tests.fixtures_db import Db
from tests.served import served
from tests.unit.core.fakes import FakeActions, same_snapshot
from tests.unit.core.helpers import fast_settings, jobs_of, new_store, store, unreachable_kubeconfig

PASSWORD = "Orchard-Lantern-7-passw0rd"
PAGE_REQUESTS = 30  # 1 inside the gate, 10 waiting for a turn, the rest refused at once (503)


async def _cluster_is_up() -> None:
    return None


def _logged_in(base: str) -> httpx.Cookies:
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        r = client.post(
            "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf.group(1)}
        )
        assert r.status_code == 303, r.text
        return client.cookies


def _page_burst(base: str, cookies: httpx.Cookies, answers: list[httpx.Response]) -> threading.Thread:
    """PAGE_REQUESTS dashboard requests at once, in a thread; their answers land in `answers`."""

    async def burst() -> None:
        limits = httpx.Limits(max_connections=PAGE_REQUESTS)
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120, limits=limits) as client:
            paths = ["/", "/stores/changes?wait=2", "/?status=pending"]
            gets = [client.get(paths[i % len(paths)]) for i in range(PAGE_REQUESTS)]
            answers.extend(await asyncio.gather(*gets))

    thread = threading.Thread(target=asyncio.run, args=(burst(),), daemon=True)
    thread.start()
    return thread


def test_a_job_is_claimed_run_and_recorded_while_page_traffic_holds_every_request_turn(
    db: Db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    actions = FakeActions(delay=0.2)
    monkeypatch.setattr(worker_module, "reconcile_actions", lambda settings: (actions, same_snapshot))
    # One request turn and one request connection: a single waiting page request jams them both.
    settings = fast_settings(
        db,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=30,
        kubeconfig=str(unreachable_kubeconfig(tmp_path / "kubeconfig")),  # the sweep's: not used here
    )
    with transaction(db.factory) as session:
        accounts.create_user(session, name="alice", password=PASSWORD)
    app = create_app(settings, run_workers=True, cluster_ping=_cluster_is_up)
    with served(app) as base:
        cookies = _logged_in(base)
        answers: list[httpx.Response] = []
        held = app.state.engine.connect()  # the request pool's only connection: no page can be answered
        try:
            burst = _page_burst(base, cookies, answers)
            gate = _admission(app)
            asyncio.run(_until(lambda: gate._waiting == gate.max_waiting, "the page burst to fill the gate"))
            store_id = new_store(db, settings, "shop")  # what POST /stores writes: the store and its job
            deadline = asyncio.run(_until_ready(db, store_id))
            assert deadline, f"the job did not finish while pages were jammed: {jobs_of(db, store_id)}"
            assert answers == [], "a page was answered, so the request side was not jammed"
            assert actions.calls == [("shop", "provision")]
            [job] = jobs_of(db, store_id)
            assert (job.status, job.attempts, store(db, store_id).status) == ("succeeded", 1, "ready")
        finally:
            held.close()
        burst.join(timeout=90)
    codes = Counter(r.status_code for r in answers)
    assert set(codes) <= {200, 503} and codes[200] >= 1, codes  # released: the jam clears, no 500


def _admission(app: FastAPI) -> Admission:
    layer = app.middleware_stack
    while not isinstance(layer, Admission):
        layer = layer.app  # type: ignore[union-attr]
    return layer


async def _until(check: Callable[[], bool], what: str, limit: float = 30) -> None:
    try:
        async with asyncio.timeout(limit):
            while not check():  # noqa: ASYNC110 - a counter of the server's thread, not an event of ours
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {limit} s") from None


async def _until_ready(db: Db, store_id: str, limit: float = 30) -> bool:
    """True once the store is Ready (read off the event loop); False after `limit` seconds."""
    try:
        async with asyncio.timeout(limit):
            while (await asyncio.to_thread(store, db, store_id)).status != "ready":  # noqa: ASYNC110 - the database
                await asyncio.sleep(0.05)
    except TimeoutError:
        return False
    return True
