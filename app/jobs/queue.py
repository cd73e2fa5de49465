"""Enqueue, claim, heartbeat and reclaim: the SQL of the job queue, kept small and in one place.

Claiming is one UPDATE … WHERE id = (SELECT … LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING statement.
- PostgreSQL: SKIP LOCKED lets many workers claim at once without waiting on each other's rows; a
  transaction-scoped advisory lock taken just before the statement serialises claimers so that the
  global limit (a count of running jobs inside the same statement) cannot be overshot by two
  claimers that each saw one free slot.
- SQLite: the engine begins every transaction with BEGIN IMMEDIATE, so the claim runs as the single
  writer; the same statement without FOR UPDATE (SQLite has no row locks) is enough.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import transaction, utcnow
from app.db.models import ACTIVE_JOB_STATES, Job
from app.lifecycle import Action

# Any constant works; it only has to be the same in every worker.
_CLAIM_LOCK_KEY = 0x53544F52  # "STOR"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ActiveJobExists(Exception):
    """Another action on this store is already queued or running; wait until it finishes."""

    def __init__(self, store_id: str) -> None:
        super().__init__(
            f"Store {store_id} already has an action queued or running; try again when it has finished."
        )
        self.store_id = store_id


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs from a claimed row; a plain value, safe to pass between threads."""

    id: int
    store_id: str
    kind: Action
    args: dict[str, Any]
    attempts: int
    max_attempts: int
    deadline_at: datetime | None
    cancel_requested: bool
    request_id: str | None
    lease_owner: str

    @classmethod
    def from_row(cls, row: Job) -> ClaimedJob:
        assert row.id is not None and row.lease_owner is not None
        return cls(
            id=row.id,
            store_id=row.store_id,
            kind=Action(row.kind),
            args=dict(row.args or {}),
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            deadline_at=row.deadline_at,
            cancel_requested=row.cancel_requested,
            request_id=row.request_id,
            lease_owner=row.lease_owner,
        )


def enqueue(
    session: Session,
    *,
    store_id: str,
    kind: Action,
    max_attempts: int,
    args: dict[str, Any] | None = None,
    deadline_at: datetime | None = None,
    request_id: str | None = None,
) -> Job:
    """Add a job in the caller's transaction (the same one that changes the store).

    Raises ActiveJobExists when the store already has a queued or running job: the partial unique
    index refuses the row, inside a savepoint so the caller's transaction stays usable.
    """
    job = Job(
        store_id=store_id,
        kind=kind.value,
        status=JobStatus.QUEUED,
        args=args or {},
        max_attempts=max_attempts,
        deadline_at=deadline_at,
        request_id=request_id,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError as exc:
        raise ActiveJobExists(store_id) from exc
    return job


def active_job(session: Session, store_id: str) -> Job | None:
    query = select(Job).where(Job.store_id == store_id, Job.status.in_(ACTIVE_JOB_STATES))
    return session.execute(query).scalar_one_or_none()


def claim(
    factory: sessionmaker[Session], *, worker_id: str, lease_seconds: float, global_limit: int
) -> ClaimedJob | None:
    """Claim the next due job for `worker_id`, unless `global_limit` jobs already run everywhere."""
    with transaction(factory) as session:
        now = utcnow()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY})
        running = (
            select(func.count())
            .select_from(Job)
            .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at > now)
            .scalar_subquery()
        )
        next_id = (
            select(Job.id)
            .where(Job.status == JobStatus.QUEUED, Job.run_after <= now, running < global_limit)
            .order_by(Job.run_after, Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        row = session.execute(
            update(Job)
            .where(Job.id == next_id)
            .values(
                status=JobStatus.RUNNING,
                lease_owner=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1,
                started_at=func.coalesce(Job.started_at, now),
            )
            .returning(Job)
        ).scalar_one_or_none()
        return None if row is None else ClaimedJob.from_row(row)


@dataclass(frozen=True)
class Heartbeat:
    alive: bool  # False: the lease was lost (expired and reclaimed), stop working on the job now
    cancel_requested: bool


def heartbeat(
    factory: sessionmaker[Session], *, job_id: int, worker_id: str, lease_seconds: float
) -> Heartbeat:
    """Renew the lease; tells the worker whether it still owns the job and whether to cancel it."""
    with transaction(factory) as session:
        now = utcnow()
        cancel = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == worker_id, Job.status == JobStatus.RUNNING)
            .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(Job.cancel_requested)
        ).scalar_one_or_none()
        return Heartbeat(alive=cancel is not None, cancel_requested=bool(cancel))


def expired_jobs(session: Session, now: datetime) -> list[Job]:
    """Running jobs whose worker stopped heartbeating (it died, or lost the database)."""
    query = (
        select(Job)
        .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now)
        .order_by(Job.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(query).scalars())


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter in its upper half: base·2^(attempt-1), at most `cap`."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret
