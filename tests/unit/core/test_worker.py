"""The worker drives the store actions and records outcomes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db.engine import transaction, utcnow
from app.db.models import Job, Store
from app.db.stores import request_action
from app.errors import ClusterUnreachable, StillProgressing, StoreNotReady
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
    actions = FakeActions().then("shop", "provision", *[StillProgressing("pods not ready")] * 5)
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "failed")
    failed = store_row(db, sid)
    assert failed.status_reason == "gave up after 3 attempts: pods not ready"
    assert len(actions.calls) == 3


async def test_an_api_server_outage_spends_no_attempts_and_is_outlasted_until_the_deadline(db: Db) -> None:
    # Six transient failures in a row (an outage longer than the 3 attempts allow) still end Ready.
    actions = FakeActions().then("shop", "provision", *[ClusterUnreachable("api down")] * 6)
    sid = new_store(db, fast_settings(db), "shop")
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "ready")
    assert len(actions.calls) == 7
    assert jobs_of(db, sid)[0].attempts == 7


async def test_a_store_whose_deadline_passes_during_an_outage_fails_naming_the_outage(db: Db) -> None:
    settings = dict(provision_deadline=30, retry_base_seconds=20, retry_max_seconds=20)
    actions = FakeActions().then("shop", "provision", *[ClusterUnreachable("api down")] * 9)
    sid = new_store(db, fast_settings(db, **settings), "shop")
    with transaction(db.factory) as session:  # the first retry is due in 10-20 s; then the deadline
        session.execute(update(Job).values(deadline_at=utcnow() + timedelta(seconds=25)))
    worker = worker_for(db, actions, **settings)
    await run_worker_until(worker, lambda: jobs_of(db, sid)[0].attempts == 1)
    with transaction(db.factory) as session:  # the outage lasts: make the retry due at once
        session.execute(update(Job).values(run_after=utcnow(), deadline_at=utcnow() + timedelta(seconds=5)))
    await run_worker_until(worker_for(db, actions, **settings), lambda: store_row(db, sid).status == "failed")
    assert store_row(db, sid).status_reason == (
        "the store did not become ready within the provisioning deadline (30s); last error: api down"
    )


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


async def test_the_deadline_starts_when_a_worker_first_picks_the_job_up_not_at_the_request(db: Db) -> None:
    settings = dict(provision_deadline=60)
    sid = new_store(db, fast_settings(db, **settings), "shop")
    with transaction(db.factory) as session:  # queued 50 s ago, behind other work
        session.execute(update(Job).values(created_at=utcnow() - timedelta(seconds=50)))
    actions = FakeActions()
    await run_worker_until(worker_for(db, actions, **settings), lambda: store_row(db, sid).status == "ready")
    job = jobs_of(db, sid)[0]
    assert job.started_at is not None and job.deadline_at is not None
    assert abs((job.deadline_at - job.started_at).total_seconds() - 60) < 1
    assert actions.timeouts[0] > 55


async def test_a_job_that_waited_in_the_queue_beyond_its_bound_fails_saying_so(db: Db) -> None:
    settings = dict(max_queue_seconds=60)
    sid = new_store(db, fast_settings(db, **settings), "shop")
    with transaction(db.factory) as session:
        session.execute(update(Job).values(created_at=utcnow() - timedelta(seconds=300)))
    actions = FakeActions()
    await run_worker_until(worker_for(db, actions, **settings), lambda: store_row(db, sid).status == "failed")
    reason = store_row(db, sid).status_reason or ""
    assert reason.startswith("waited 300s in the queue, longer than the bound of 60s"), reason
    assert actions.calls == []


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


async def test_stores_that_only_wait_give_their_slot_back_so_more_progress_than_there_are_slots(
    db: Db,
) -> None:
    settings = fast_settings(db)
    ids = [new_store(db, settings, f"shop-{i}") for i in range(6)]
    actions = FakeActions()
    for i in range(6):
        actions.then(f"shop-{i}", "provision", "wait")
    worker = worker_for(db, actions, worker_concurrency=2)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await eventually(lambda: worker.waiting_jobs == 6)
        assert actions.max_working <= 2
        waiting = [j.waiting_for for i in ids for j in jobs_of(db, i)]
        assert waiting == [f"fake provision of shop-{i}" for i in range(6)]
        actions.release.set()
        await eventually(lambda: all(store_row(db, i).status == "ready" for i in ids))
    finally:
        stop.set()
        await task
    assert actions.max_working <= 2


async def test_the_global_limit_counts_only_jobs_that_work(db: Db) -> None:
    settings = fast_settings(db)
    waiters = [new_store(db, settings, f"wait-{i}") for i in range(3)]
    actions = FakeActions()
    for i in range(3):
        actions.then(f"wait-{i}", "provision", "wait")
    overrides = dict(worker_concurrency=1, global_concurrency=1)
    a, b = worker_for(db, actions, **overrides), worker_for(db, actions, **overrides)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
    try:
        await eventually(lambda: actions.active == 3)  # three waiting jobs fit a global limit of 1
        late = new_store(db, settings, "late")
        await eventually(lambda: store_row(db, late).status == "ready")
        actions.release.set()
        await eventually(lambda: all(store_row(db, i).status == "ready" for i in waiters))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert actions.max_working == 1


async def test_on_shutdown_a_waiting_job_is_handed_back_at_once(db: Db) -> None:
    actions = FakeActions().then("shop", "provision", "wait")
    sid = new_store(db, fast_settings(db), "shop")
    worker = worker_for(db, actions, shutdown_grace_seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await eventually(lambda: worker.waiting_jobs == 1)
    stop.set()
    async with asyncio.timeout(5):  # not the 30 s grace: nothing is left to finish
        await task
    job = jobs_of(db, sid)[0]
    assert (job.status, job.attempts) == ("queued", 0)
    assert actions.cancelled == [("shop", "provision")]


async def test_a_restarted_worker_takes_over_the_jobs_of_its_dead_predecessor_without_waiting_out_the_lease(
    db: Db,
) -> None:
    from app.jobs.liveness import this_process

    sid = new_store(db, fast_settings(db), "shop")
    me = this_process()
    # A predecessor on this host whose process is gone: PID 2**22 + 1 is above any Linux pid_max.
    dead = f"{me.host}/{me.pid_namespace}/{2**22 + 1}/123/abcdef"
    assert _claim_as(db, dead) is not None
    with transaction(db.factory) as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() + timedelta(hours=1)))
    actions = FakeActions()
    await run_worker_until(worker_for(db, actions), lambda: store_row(db, sid).status == "ready", limit=10)
    assert jobs_of(db, sid)[0].attempts == 2


async def test_a_job_of_a_live_worker_is_left_alone_until_its_lease_expires(db: Db) -> None:
    from app.jobs.liveness import this_process

    sid = new_store(db, fast_settings(db), "shop")
    me = this_process()
    alive = me.render("other")  # another Worker in this very process: alive
    assert _claim_as(db, alive) is not None
    with transaction(db.factory) as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() + timedelta(hours=1)))
    worker = worker_for(db, FakeActions())
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await task
    assert (jobs_of(db, sid)[0].lease_owner, store_row(db, sid).status) == (alive, "pending")


def _claim_as(db: Db, worker_id: str) -> object:
    from app.jobs import queue

    return queue.claim(db.factory, worker_id=worker_id, lease_seconds=30, global_limit=10)


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
    monkeypatch.setattr(queue, "heartbeat_all", unreachable)
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
