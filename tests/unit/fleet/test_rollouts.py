"""Rollouts over the real job queue and worker, on SQLite and PostgreSQL, with the store actions
faked at the job-runner boundary (tests/unit/core/fakes.py): canary then waves, parallelism,
halting at the threshold with the rest untouched, resume, pause, abort, helm test and its rollback,
pins, refusals, and a controller that starts again from the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select

from app.api import store_service
from app.db.engine import read_transaction, transaction
from app.db.models import AuditEntry, Job, Rollout, RolloutStep, Store, User
from app.errors import StoreNotReady
from app.fleet import rollouts
from app.fleet.controller import RolloutController
from app.fleet.rollouts import Plan, RolloutRefused, StoreInRollout
from app.fleet.target import current_target
from app.fleet.versions import RunningVersion
from app.jobs.worker import Worker
from app.lifecycle import Action
from app.settings import Settings
from tests.fixtures_db import Db
from tests.unit.core.fakes import FakeActions, same_snapshot
from tests.unit.core.helpers import fast_settings, new_store, store

OLD = RunningVersion("0.1.0", "10.0.0", "0" * 12)


def settings_for(db: Db) -> Settings:
    return fast_settings(db, rollout_tick_seconds=0.02, worker_concurrency=8, global_concurrency=8)


def fleet_of(db: Db, count: int, actions: FakeActions) -> list[str]:
    """`count` Ready stores on the old chart (as if provisioned before the new one shipped)."""
    settings = settings_for(db)
    ids = [new_store(db, settings, f"shop-{i:02d}") for i in range(count)]
    with transaction(db.factory) as session:
        for sid in ids:
            row = session.get_one(Store, sid)
            row.status, row.helm_revision = "ready", 1
            row.chart_version, row.app_version, row.values_digest = (
                OLD.chart_version,
                OLD.app_version,
                OLD.values_digest,
            )
            for job in session.execute(select(Job).where(Job.store_id == sid)).scalars():
                job.status = "succeeded"
            actions.revisions[row.name] = 1
    return ids


def ship_new_chart(db: Db, actions: FakeActions) -> None:
    """Upgrades from now on deploy what the platform's chart and defaults say (the real chart)."""
    target = current_target(settings_for(db))
    actions.version = RunningVersion(target.chart_version, "11.0.1", target.engines["woocommerce"].defaults)


def admin(db: Db) -> User:
    with transaction(db.factory) as session:
        user = User(name="root", is_admin=True)
        session.add(user)
        session.flush()
        session.expunge(user)
        return user


def start(db: Db, plan: Plan) -> int:
    settings = settings_for(db)
    with transaction(db.factory) as session:
        user = session.execute(select(User).where(User.name == "root")).scalar_one_or_none()
        if user is None:
            user = User(name="root", is_admin=True)
            session.add(user)
            session.flush()
        rollout, _ = rollouts.start(session, user, plan, settings, current_target(settings))
        assert rollout.id is not None
        return rollout.id


def rollout_row(db: Db, rollout_id: int) -> Rollout:
    with read_transaction(db.factory) as session:
        return session.get_one(Rollout, rollout_id)


def steps(db: Db, rollout_id: int) -> list[RolloutStep]:
    with read_transaction(db.factory) as session:
        query = select(RolloutStep).where(RolloutStep.rollout_id == rollout_id).order_by(RolloutStep.position)
        return list(session.execute(query).scalars())


async def run_until(db: Db, actions: FakeActions, done: Callable[[], bool], *, limit: float = 30.0) -> None:
    """A worker and a rollout controller, both on this database, until `done()` holds."""
    settings = settings_for(db)
    worker = Worker(db.factory, settings, actions=actions, make_target=same_snapshot)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(worker.run(stop)),
        asyncio.create_task(RolloutController(db.factory, settings).run(stop)),
    ]
    try:
        async with asyncio.timeout(limit):
            while not await asyncio.to_thread(done):
                for task in tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def status_is(db: Db, rollout_id: int, *statuses: str) -> Callable[[], bool]:
    return lambda: rollout_row(db, rollout_id).status in statuses


async def test_a_canary_goes_first_then_waves_within_the_parallelism_and_every_store_ends_current(db: Db):
    actions = FakeActions(delay=0.05)
    ids = fleet_of(db, 7, actions)
    ship_new_chart(db, actions)
    rid = start(db, Plan({"all": True}, canary=1, wave_size=3, parallelism=2))
    await run_until(db, actions, status_is(db, rid, "completed"))

    done = steps(db, rid)
    assert [s.wave for s in done] == [0, 1, 1, 1, 2, 2, 2]
    assert {s.state for s in done} == {"succeeded"}
    assert actions.max_active <= 2  # never more upgrades at once than the parallelism
    for earlier, later in ((0, 1), (1, 2)):  # a wave starts only when the one before it has finished
        ended = max(s.finished_at for s in done if s.wave == earlier)  # type: ignore[type-var]
        began = min(s.started_at for s in done if s.wave == later)  # type: ignore[type-var]
        assert ended <= began
    assert sorted(actions.calls) == sorted(
        (store(db, sid).name, "upgrade") for sid in ids
    )  # one upgrade each
    for sid in ids:
        row = store(db, sid)
        assert (row.status, row.helm_revision, row.chart_version) == (
            "ready",
            2,
            actions.version.chart_version,
        )
    assert rollout_row(db, rid).status_reason == "completed: 7 upgraded, 0 failed, 0 skipped"
    with read_transaction(db.factory) as session:  # every step is audited, in the admin's name
        entries = list(
            session.execute(select(AuditEntry).where(AuditEntry.action == "rollout.step")).scalars()
        )
    assert len(entries) == 14 and {e.actor for e in entries} == {"root"}


async def test_failures_past_the_threshold_halt_the_rollout_and_leave_the_rest_untouched_until_resumed(
    db: Db,
):
    actions = FakeActions()
    ids = fleet_of(db, 6, actions)
    names = [store(db, sid).name for sid in ids]
    ship_new_chart(db, actions)
    # The fourth store cannot become ready on the new chart; its upgrade rolls it back by itself.
    actions.then(
        names[3],
        "upgrade",
        StoreNotReady("setup Job failed (rolled back: revision 3 runs revision 1's configuration)"),
    )
    rid = start(db, Plan({"all": True}, canary=1, wave_size=2, parallelism=1, max_failures=0))
    await run_until(db, actions, status_is(db, rid, "halted"))

    row = rollout_row(db, rid)
    assert row.status_reason == "halted: 1 store(s) failed, none tolerated"
    states = {s.store_id: s.state for s in steps(db, rid)}
    assert states[ids[3]] == "failed"
    assert [states[sid] for sid in ids[4:]] == ["pending", "pending"]  # never started
    assert [n for n, _ in actions.calls] == names[:4]
    failed_step = next(s for s in steps(db, rid) if s.store_id == ids[3])
    assert failed_step.error is not None and "rolled back: revision 3" in failed_step.error
    assert store(db, ids[5]).chart_version == OLD.chart_version

    # Fixed (the fake no longer fails): resume retries the failed store and finishes the rest.
    with transaction(db.factory) as session:
        rollouts.resume(session, rid)
    await run_until(db, actions, status_is(db, rid, "completed"))
    assert {s.state for s in steps(db, rid)} == {"succeeded"}
    assert [n for n, _ in actions.calls].count(names[3]) == 2


async def test_a_failed_canary_halts_even_when_failures_are_tolerated(db: Db):
    actions = FakeActions()
    ids = fleet_of(db, 3, actions)
    ship_new_chart(db, actions)
    actions.then(store(db, ids[0]).name, "upgrade", StoreNotReady("not ready"))
    rid = start(db, Plan({"all": True}, canary=1, wave_size=2, parallelism=2, max_failures=5))
    await run_until(db, actions, status_is(db, rid, "halted"))
    assert rollout_row(db, rid).status_reason == "halted: the canary failed"
    assert len(actions.calls) == 1


async def test_pause_stops_new_steps_and_abort_skips_what_has_not_started(db: Db):
    actions = FakeActions()
    ids = fleet_of(db, 4, actions)
    ship_new_chart(db, actions)
    first = store(db, ids[0]).name
    actions.then(first, "upgrade", "wait")  # the canary waits on its pods
    rid = start(db, Plan({"all": True}, canary=1, wave_size=3, parallelism=3))

    def canary_waits() -> bool:
        return any(s.state == "upgrading" for s in steps(db, rid)) and actions.active == 1

    run = asyncio.create_task(run_until(db, actions, status_is(db, rid, "aborted")))
    await asyncio.wait_for(_until(canary_waits), 10)
    with transaction(db.factory) as session:
        rollouts.pause(session, rid)
    with transaction(db.factory) as session:
        rollouts.abort(session, rid)
    actions.release.set()  # the upgrade in flight finishes
    await run
    await run_until(db, actions, lambda: rollout_row(db, rid).finished_at is not None)
    states = [s.state for s in steps(db, rid)]
    assert states == ["succeeded", "skipped", "skipped", "skipped"]
    assert rollout_row(db, rid).status_reason == "aborted: 1 upgraded, 0 failed, 3 skipped"
    assert actions.calls == [(first, "upgrade")]


async def _until(check: Callable[[], bool]) -> None:
    while not await asyncio.to_thread(check):  # noqa: ASYNC110 - polls the database
        await asyncio.sleep(0.02)


async def test_a_store_in_flight_refuses_the_owners_actions_with_the_reason_and_a_delete_skips_it(db: Db):
    actions = FakeActions()
    ids = fleet_of(db, 2, actions)
    ship_new_chart(db, actions)
    actions.then(store(db, ids[0]).name, "upgrade", "wait")
    rid = start(db, Plan({"all": True}, canary=1, wave_size=1, parallelism=1))
    run = asyncio.create_task(run_until(db, actions, status_is(db, rid, "completed")))
    await asyncio.wait_for(_until(lambda: actions.active == 1), 10)
    settings = settings_for(db)
    with transaction(db.factory) as session:
        owner = session.execute(select(User).where(User.name == "alice")).scalar_one()
        with pytest.raises(StoreInRollout) as refused:
            store_service.act(session, owner, settings, ids[0], Action.VERIFY)
    assert str(refused.value).startswith(
        f"Store shop-00 is being upgraded by rollout {rid} (the canary, upgrading)"
    )
    with transaction(db.factory) as session:  # but the second store, not started yet, is free
        store_service.act(session, owner, settings, ids[1], Action.VERIFY)
    actions.release.set()
    await run
    assert [s.state for s in steps(db, rid)] == ["succeeded", "succeeded"]


async def test_helm_test_after_the_upgrade_and_a_failed_test_rolls_the_store_back(db: Db):
    actions = FakeActions()
    ids = fleet_of(db, 2, actions)
    ship_new_chart(db, actions)
    second = store(db, ids[1]).name
    actions.then(second, "verify", StoreNotReady("the order test failed"))
    rid = start(db, Plan({"all": True}, canary=1, wave_size=1, parallelism=1, max_failures=1, helm_test=True))
    await run_until(db, actions, status_is(db, rid, "completed"))
    done = steps(db, rid)
    assert [s.state for s in done] == ["succeeded", "failed"]
    assert done[1].error == (
        "helm test failed: the order test failed; rolled back to revision 1's configuration"
    )
    assert [c for c in actions.calls if c[0] == second] == [
        (second, "upgrade"),
        (second, "verify"),
        (second, "rollback"),
    ]
    with read_transaction(db.factory) as session:
        rollback = session.execute(
            select(Job).where(Job.store_id == ids[1], Job.kind == "rollback")
        ).scalar_one()
    assert rollback.args == {"revision": 1, "rollout": rid}


async def test_a_new_controller_carries_on_from_the_database_without_a_second_upgrade_job(db: Db):
    actions = FakeActions()
    ids = fleet_of(db, 3, actions)
    ship_new_chart(db, actions)
    actions.then(store(db, ids[0]).name, "upgrade", "wait")
    rid = start(db, Plan({"all": True}, canary=1, wave_size=2, parallelism=2))
    await run_until(db, actions, lambda: actions.active == 1)  # then everything stops (shutdown)
    actions.release.set()
    await run_until(db, actions, status_is(db, rid, "completed"))  # a fresh worker and controller
    with read_transaction(db.factory) as session:
        upgrades = session.execute(select(Job.store_id).where(Job.kind == "upgrade")).scalars().all()
    assert sorted(upgrades) == sorted(ids)  # one upgrade job per store, the interrupted one resumed


def test_pinned_and_current_stores_stay_out_and_nothing_to_do_is_refused_with_the_count(db: Db):
    actions = FakeActions()
    ids = fleet_of(db, 3, actions)
    settings = settings_for(db)
    with transaction(db.factory) as session:
        session.get_one(Store, ids[0]).pinned = True
    ship_new_chart(db, actions)
    with transaction(db.factory) as session:  # the second store already runs the new chart
        row = session.get_one(Store, ids[1])
        row.chart_version, row.values_digest = actions.version.chart_version, actions.version.values_digest
    rid = start(db, Plan({"stores": ["shop-00", "shop-01", ids[2]]}))
    assert [s.store_id for s in steps(db, rid)] == [ids[2]]
    with transaction(db.factory) as session:
        rollouts.abort(session, rid)
    with pytest.raises(RolloutRefused) as refused:
        start(db, Plan({"stores": ["shop-00", "shop-01"]}))
    assert refused.value.message == (
        "Nothing to roll out: of the selected stores, "
        "1 already run store 0.2.0 with the current defaults; 1 pinned."
    )
    with pytest.raises(RolloutRefused) as unknown:
        start(db, Plan({"stores": ["nope"]}))
    assert (unknown.value.status, unknown.value.message) == (422, "No live store has the id or name 'nope'.")
    del settings


def test_only_one_rollout_is_open_at_a_time(db: Db):
    actions = FakeActions()
    fleet_of(db, 2, actions)
    first = start(db, Plan({"all": True}))
    with pytest.raises(RolloutRefused) as refused:
        start(db, Plan({"all": True}))
    assert (refused.value.status, refused.value.message) == (
        409,
        f"Rollout {first} is still running; resume it or abort it before starting another.",
    )
    with pytest.raises(RolloutRefused) as illegal, transaction(db.factory) as session:
        rollouts.resume(session, first)
    assert illegal.value.message == (
        f"Cannot resume rollout {first}: it is running; resume is possible when it is paused or halted."
    )
