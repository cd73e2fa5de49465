"""The worker drives the store actions and records outcomes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from app.db.engine import transaction
from app.db.models import Store
from app.db.stores import request_action
from app.errors import ClusterUnreachable, StoreNotReady
from app.jobs.worker import Worker
from app.lifecycle import Action
from tests.fixtures_db import Db
from tests.unit.core.fakes import FakeActions, same_snapshot
from tests.unit.core.helpers import eventually, fast_settings, jobs_of, new_store, run_worker_until
from tests.unit.core.helpers import store as store_row


def worker_for(db: Db, actions: FakeActions, **overrides: object) -> Worker:
    return Worker(db.factory, fast_settings(db, **overrides), actions=actions, make_target=same_snapshot)


def act(db: Db, store_id: str, action: Action, **args: int) -> None:
    with transaction(db.factory) as session:
        found = session.get_one(Store, store_id)
        request_action(session, found, action, settings=fast_settings(db), args=args or None)


async def test_a_provisioned_store_becomes_ready_with_its_revision(db: Db) -> None:
    actions = FakeActions()
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "ready")
    ready = store_row(db, sid)
    assert (ready.helm_revision, ready.status_reason) == (1, None)
    assert ready.ready_at is not None
    assert [j.status for j in jobs_of(db, sid)] == ["succeeded"]


async def test_a_retryable_error_is_retried_until_the_action_succeeds(db: Db) -> None:
    actions = FakeActions().then(
        "shop", "provision", ClusterUnreachable("api down"), ClusterUnreachable("api down")
    )
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "ready")
    assert actions.calls == [("shop", "provision")] * 3
    assert jobs_of(db, sid)[0].attempts == 3


async def test_retries_stop_at_the_maximum_and_the_store_fails_with_the_last_error(db: Db) -> None:
    actions = FakeActions().then("shop", "provision", *[ClusterUnreachable("api down")] * 5)
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "failed")
    failed = store_row(db, sid)
    assert failed.status_reason == "gave up after 3 attempts: api down"
    assert len(actions.calls) == 3


async def test_a_permanent_error_fails_the_store_at_once_with_its_reason(db: Db) -> None:
    reason = "pod web-0: ImagePullBackOff (image example/none:1 not found)"
    actions = FakeActions().then("shop", "provision", StoreNotReady(reason))
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "failed")
    assert store_row(db, sid).status_reason == reason
    assert len(actions.calls) == 1


async def test_an_unexpected_exception_fails_the_job_and_names_the_error(db: Db) -> None:
    actions = FakeActions().then("shop", "provision", KeyError("values"))
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "failed")
    assert store_row(db, sid).status_reason == "internal error: KeyError: 'values'"


async def test_a_store_past_its_provisioning_deadline_fails_with_the_deadline_and_the_last_error(
    db: Db,
) -> None:
    # Every retry is due later than the deadline, so the first retryable error ends the job.
    settings = dict(provision_deadline=30, retry_base_seconds=60, retry_max_seconds=60)
    actions = FakeActions().then("shop", "provision", ClusterUnreachable("api down"))
    sid = new_store(db, fast_settings(db, **settings), "shop")
    await run_worker_until(worker_for(db, actions, **settings), lambda: store_row(db, sid).status == "failed")
    assert store_row(db, sid).status_reason == (
        "the store did not become ready within the provisioning deadline (30s); last error: api down"
    )


async def test_the_action_gets_no_more_time_than_is_left_before_the_deadline(db: Db) -> None:
    settings = dict(provision_deadline=40, helm_timeout=600)
    actions = FakeActions()
    sid = new_store(db, fast_settings(db, **settings), "shop")
    await run_worker_until(worker_for(db, actions, **settings), lambda: store_row(db, sid).status == "ready")
    assert 0 < actions.timeouts[0] <= 40


async def test_upgrade_rollback_and_verify_run_in_turn_and_keep_the_revision(db: Db) -> None:
    actions = FakeActions()
    sid = new_store(db, fast_settings(db), "shop")
    worker = worker_for(db, actions)
    await run_worker_until(worker, lambda: store_row(db, sid).status == "ready")
    act(db, sid, Action.UPGRADE)
    assert store_row(db, sid).status == "upgrading"
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).helm_revision == 2)
    act(db, sid, Action.ROLLBACK, revision=1)
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).helm_revision == 3)
    act(db, sid, Action.VERIFY)
    await run_worker_until(worker_for(db, actions), lambda: jobs_of(db, sid)[-1].status == "succeeded")
    assert store_row(db, sid).status == "ready"
    assert [kind for _, kind in actions.calls] == ["provision", "upgrade", "rollback", "verify"]


async def test_a_failed_verification_fails_the_store(db: Db) -> None:
    actions = FakeActions().then("shop", "verify", StoreNotReady("helm test: order was not created"))
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "ready")
    act(db, sid, Action.VERIFY)
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "failed")
    assert store_row(db, sid).status_reason == "helm test: order was not created"


async def test_deleting_a_store_while_it_provisions_cancels_the_install_then_deletes(db: Db) -> None:
    actions = FakeActions().then("shop", "provision", "block")
    sid = new_store(db, fast_settings(db), "shop")
    worker = worker_for(db, actions, lease_seconds=5)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(10):
            await actions.started.wait()
            act(db, sid, Action.DELETE)
            assert store_row(db, sid).status == "deleting"
            await eventually(lambda: store_row(db, sid).status == "deleted")
    finally:
        stop.set()
        await task
    assert actions.cancelled == [("shop", "provision")]
    assert [(j.kind, j.status) for j in jobs_of(db, sid)] == [
        ("provision", "cancelled"),
        ("delete", "succeeded"),
    ]
    assert store_row(db, sid).deleted_at is not None


async def test_deleting_a_store_whose_job_still_waits_drops_that_job(db: Db) -> None:
    actions = FakeActions()
    sid = new_store(db, fast_settings(db), "shop")
    act(db, sid, Action.DELETE)
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "deleted")
    assert actions.calls == [("shop", "delete")]
    assert [(j.kind, j.status) for j in jobs_of(db, sid)] == [
        ("provision", "cancelled"),
        ("delete", "succeeded"),
    ]


async def test_a_worker_never_runs_more_actions_at_once_than_its_limit(db: Db) -> None:
    settings = fast_settings(db)
    ids = [new_store(db, settings, f"shop-{i}") for i in range(7)]
    actions = FakeActions(delay=0.5)  # long enough that all slots fill even on a loaded machine
    worker = worker_for(db, actions, worker_concurrency=3)
    await run_worker_until(worker, lambda: all(store_row(db, i).status == "ready" for i in ids))
    assert actions.max_active == 3


async def test_the_global_limit_caps_actions_across_workers(db: Db) -> None:
    settings = fast_settings(db)
    ids = [new_store(db, settings, f"shop-{i}") for i in range(6)]
    actions = FakeActions(delay=0.5)
    overrides = dict(worker_concurrency=2, global_concurrency=2)
    a, b = worker_for(db, actions, **overrides), worker_for(db, actions, **overrides)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
    try:
        await eventually(lambda: all(store_row(db, i).status == "ready" for i in ids))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert actions.max_active == 2


async def test_on_shutdown_a_running_job_is_interrupted_and_handed_back_without_counting(db: Db) -> None:
    actions = FakeActions().then("shop", "provision", "block")
    sid = new_store(db, fast_settings(db), "shop")
    worker = worker_for(db, actions, shutdown_grace_seconds=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    async with asyncio.timeout(10):
        await actions.started.wait()
    stop.set()
    await task
    job = jobs_of(db, sid)[0]
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)
    assert actions.cancelled == [("shop", "provision")]
    # The next worker picks it up and finishes it.
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "ready")


async def test_a_job_that_finishes_within_the_grace_period_completes_on_shutdown(db: Db) -> None:
    actions = FakeActions(delay=0.3)
    sid = new_store(db, fast_settings(db), "shop")
    worker = worker_for(db, actions, shutdown_grace_seconds=5)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    async with asyncio.timeout(10):
        await actions.started.wait()
    stop.set()
    await task
    assert store_row(db, sid).status == "ready"
    assert actions.cancelled == []


async def test_every_step_lands_in_the_activity_log(db: Db) -> None:
    from app.db.events import list_events

    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, FakeActions()), lambda: store_row(db, sid).status == "ready")
    with transaction(db.factory) as session:
        log = [(e.step, e.message) for e in list_events(session, sid)]
    assert log == [
        ("create", "woocommerce store 'shop' requested"),
        ("provision", "started"),
        ("provision", "fake provision of shop"),
        ("provision", "ready at revision 1"),
    ]


async def test_a_worker_that_cannot_renew_its_lease_for_a_whole_lease_stops_the_action(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database becomes unreachable for heartbeats only (a fault injected at the DB call): after
    # one lease without renewal another worker may own the job, so this one must stop acting.
    from sqlalchemy.exc import OperationalError

    from app.jobs import queue

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("UPDATE jobs", {}, Exception("connection refused"))

    actions = FakeActions().then("shop", "provision", "block")
    sid = new_store(db, fast_settings(db), "shop")
    monkeypatch.setattr(queue, "heartbeat", unreachable)
    worker = worker_for(db, actions, lease_seconds=5)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await eventually(lambda: actions.cancelled == [("shop", "provision")], limit=20)
    finally:
        stop.set()
        await task
    job = jobs_of(db, sid)[0]
    assert job.status == "running"  # untouched: whoever holds the lease now decides
    assert store_row(db, sid).status == "provisioning"
