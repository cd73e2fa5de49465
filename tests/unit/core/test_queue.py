"""The job queue's SQL on SQLite and PostgreSQL: enqueue, claim, lease, heartbeat, reclaim."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.db.engine import transaction, utcnow
from app.db.models import Job
from app.jobs import outcome, queue
from app.jobs.queue import ActiveJobExists, claim, heartbeat, retry_delay
from app.lifecycle import Action
from tests.fixtures_db import Db
from tests.unit.core.helpers import fast_settings, jobs_of, new_store, store


def _claim(db: Db, worker: str = "w1", limit: int = 10):
    return claim(db.factory, worker_id=worker, lease_seconds=30, global_limit=limit)


def test_a_store_and_its_job_are_written_in_one_transaction_or_not_at_all(db: Db) -> None:
    settings = fast_settings(db)
    with pytest.raises(RuntimeError), transaction(db.factory) as session:
        from app.db.stores import create_store
        from app.db.users import get_or_create_user

        create_store(
            session,
            owner=get_or_create_user(session, "alice"),
            name="shop",
            engine="medusa",
            settings=settings,
        )
        raise RuntimeError("the request failed after the insert")
    with transaction(db.factory) as session:
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


def test_the_database_refuses_a_second_active_job_for_a_store(db: Db) -> None:
    sid = new_store(db, fast_settings(db), "shop")
    with transaction(db.factory) as session, pytest.raises(ActiveJobExists, match="already has an action"):
        queue.enqueue(session, store_id=sid, kind=Action.VERIFY, max_attempts=3)
    # Not only the function: a raw insert is refused by the partial unique index itself.
    with pytest.raises(IntegrityError), transaction(db.factory) as session:
        session.add(Job(store_id=sid, kind="verify", status="running", max_attempts=3))
        session.flush()


def test_finished_jobs_do_not_count_as_active(db: Db) -> None:
    sid = new_store(db, fast_settings(db), "shop")
    with transaction(db.factory) as session:
        session.execute(update(Job).values(status="succeeded"))
        queue.enqueue(session, store_id=sid, kind=Action.VERIFY, max_attempts=3)
    assert [j.status for j in jobs_of(db, sid)] == ["succeeded", "queued"]


def test_claim_takes_the_oldest_due_job_and_leases_it(db: Db) -> None:
    settings = fast_settings(db)
    first, second = new_store(db, settings, "one"), new_store(db, settings, "two")
    job = _claim(db)
    assert job is not None
    assert (job.store_id, job.kind, job.attempts, job.lease_owner) == (first, Action.PROVISION, 1, "w1")
    row = jobs_of(db, first)[0]
    assert row.status == "running" and row.lease_expires_at > utcnow()
    assert _claim(db, "w2").store_id == second
    assert _claim(db, "w3") is None


def test_a_job_due_later_is_not_claimed_yet(db: Db) -> None:
    sid = new_store(db, fast_settings(db), "shop")
    with transaction(db.factory) as session:
        session.execute(update(Job).values(run_after=utcnow() + timedelta(minutes=5)))
    assert _claim(db) is None
    assert jobs_of(db, sid)[0].status == "queued"


def test_claim_respects_the_global_limit_of_running_jobs(db: Db) -> None:
    settings = fast_settings(db)
    for name in ("a", "b", "c"):
        new_store(db, settings, name)
    assert _claim(db, "w1", limit=2) is not None
    assert _claim(db, "w2", limit=2) is not None
    assert _claim(db, "w3", limit=2) is None


def test_jobs_with_expired_leases_do_not_hold_global_slots(db: Db) -> None:
    settings = fast_settings(db)
    new_store(db, settings, "a")
    new_store(db, settings, "b")
    assert _claim(db, "dead", limit=1) is not None
    with transaction(db.factory) as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert _claim(db, "alive", limit=1) is not None


def test_heartbeat_renews_the_lease_and_reports_a_requested_cancel(db: Db) -> None:
    sid = new_store(db, fast_settings(db), "shop")
    job = _claim(db)
    before = jobs_of(db, sid)[0].lease_expires_at
    beat = heartbeat(db.factory, job_id=job.id, worker_id="w1", lease_seconds=120)
    assert (beat.alive, beat.cancel_requested) == (True, False)
    assert jobs_of(db, sid)[0].lease_expires_at > before
    with transaction(db.factory) as session:
        session.execute(update(Job).values(cancel_requested=True))
    assert heartbeat(db.factory, job_id=job.id, worker_id="w1", lease_seconds=30).cancel_requested


def test_a_worker_that_lost_its_lease_can_neither_heartbeat_nor_record_an_outcome(db: Db) -> None:
    sid = new_store(db, fast_settings(db), "shop")
    job = _claim(db, "slow")
    with transaction(db.factory) as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert outcome.reclaim_expired(db.factory) == [job.id]
    taken = _claim(db, "fast")
    assert taken is not None and taken.attempts == 2
    assert not heartbeat(db.factory, job_id=job.id, worker_id="slow", lease_seconds=30).alive
    assert not outcome.succeed(db.factory, job, revision=1, took=1.0, max_attempts=3)
    assert store(db, sid).status == "pending"
    assert outcome.start(db.factory, taken) is not None
    assert outcome.succeed(db.factory, taken, revision=1, took=1.0, max_attempts=3)
    assert store(db, sid).status == "ready"


def test_a_job_whose_worker_keeps_dying_fails_when_out_of_attempts(db: Db) -> None:
    sid = new_store(db, fast_settings(db, job_max_attempts=2), "shop")
    for _ in range(2):
        assert _claim(db) is not None
        with transaction(db.factory) as session:
            session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        outcome.reclaim_expired(db.factory)
    failed = store(db, sid)
    assert failed.status == "failed"
    assert failed.status_reason == "the worker running it stopped responding 2 times; giving up"
    assert jobs_of(db, sid)[0].status == "failed"


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (10, 60.0)])
def test_retry_delay_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: float) -> None:
    delays = [retry_delay(attempt, base=2.0, cap=60.0) for _ in range(50)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
