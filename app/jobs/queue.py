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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, select, text, update
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
    created_at: datetime | None = None
    started_at: datetime | None = None

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
            created_at=row.created_at,
            started_at=row.started_at,
        )

    @property
    def queued_for(self) -> float:
        """Seconds between the request and the first pick-up (0 when unknown)."""
        if self.created_at is None or self.started_at is None:
            return 0.0
        return max((self.started_at - self.created_at).total_seconds(), 0.0)


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


def _working(now: datetime) -> Any:
    """Jobs that hold a slot somewhere: running, lease alive, and not merely waiting on the cluster."""
    return (
        select(func.count())
        .select_from(Job)
        .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at > now, Job.waiting_for.is_(None))
        .scalar_subquery()
    )


def _serialise_claimers(session: Session) -> None:
    # SQLite: BEGIN IMMEDIATE already made us the only writer. PostgreSQL: see the module docstring.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY})


def claim(
    factory: sessionmaker[Session],
    *,
    worker_id: str,
    lease_seconds: float,
    global_limit: int,
    deadlines: dict[str, float] | None = None,
) -> ClaimedJob | None:
    """Claim the next due job for `worker_id`, unless `global_limit` jobs already work everywhere.

    `deadlines` (seconds per job kind) starts a job's deadline at its first pick-up, so time spent
    queued behind other work never counts against it (the queue has its own bound, in the worker).
    """
    with transaction(factory) as session:
        now = utcnow()
        _serialise_claimers(session)
        next_id = (
            select(Job.id)
            .where(Job.status == JobStatus.QUEUED, Job.run_after <= now, _working(now) < global_limit)
            .order_by(Job.run_after, Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        deadline: Any = Job.deadline_at
        if deadlines:
            first = case(
                *((Job.kind == kind, now + timedelta(seconds=s)) for kind, s in deadlines.items()),
                else_=None,
            )
            deadline = case((Job.started_at.is_(None), first), else_=Job.deadline_at)
        row = session.execute(
            update(Job)
            .where(Job.id == next_id)
            .values(
                status=JobStatus.RUNNING,
                lease_owner=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1,
                started_at=func.coalesce(Job.started_at, now),
                deadline_at=deadline,
                waiting_for=None,
            )
            .returning(Job)
        ).scalar_one_or_none()
        return None if row is None else ClaimedJob.from_row(row)


def start_waiting(factory: sessionmaker[Session], *, job_id: int, worker_id: str, what: str) -> bool:
    """The job gives its slot back while it only waits on the cluster (`what` is shown to people)."""
    with transaction(factory) as session:
        done = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == worker_id, Job.status == JobStatus.RUNNING)
            .values(waiting_for=what[:200])
        )
        return bool(done.rowcount)


def resume_work(
    factory: sessionmaker[Session], *, job_id: int, worker_id: str, global_limit: int
) -> bool | None:
    """Take a slot back for a waiting job, within the global limit. True: taken; False: the limit
    is reached, try again later; None: the job is no longer ours (lease lost)."""
    with transaction(factory) as session:
        now = utcnow()
        _serialise_claimers(session)
        mine = (Job.id == job_id, Job.lease_owner == worker_id, Job.status == JobStatus.RUNNING)
        if session.execute(select(Job.id).where(*mine)).first() is None:
            return None
        done = session.execute(
            update(Job).where(*mine, _working(now) < global_limit).values(waiting_for=None)
        )
        return bool(done.rowcount)


@dataclass(frozen=True)
class Heartbeat:
    alive: bool  # False: the lease was lost (expired and reclaimed), stop working on the job now
    cancel_requested: bool


def heartbeat(
    factory: sessionmaker[Session], *, job_id: int, worker_id: str, lease_seconds: float
) -> Heartbeat:
    """Renew one job's lease; tells the worker whether it still owns it and whether to cancel it."""
    beats = heartbeat_all(factory, worker_id=worker_id, job_ids=[job_id], lease_seconds=lease_seconds)
    return beats[job_id]


def heartbeat_all(
    factory: sessionmaker[Session], *, worker_id: str, job_ids: list[int], lease_seconds: float
) -> dict[int, Heartbeat]:
    """Renew the leases of all of a worker's jobs in one statement (a worker may hold many waiting
    jobs); for each id, whether it is still ours and whether a cancel was requested."""
    if not job_ids:
        return {}
    with transaction(factory) as session:
        now = utcnow()
        renewed = session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.lease_owner == worker_id, Job.status == JobStatus.RUNNING)  # type: ignore[union-attr]
            .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(Job.id, Job.cancel_requested)
        ).all()
    alive = {row.id: bool(row.cancel_requested) for row in renewed}
    return {
        job_id: Heartbeat(alive=job_id in alive, cancel_requested=alive.get(job_id, False))
        for job_id in job_ids
    }


def expired_jobs(session: Session, now: datetime, dead: Callable[[str], bool] | None = None) -> list[Job]:
    """Running jobs whose worker stopped heartbeating (it died, or lost the database), and — with
    `dead` — those whose worker is provably dead although its lease has not expired yet."""
    orphaned = Job.lease_expires_at < now
    if dead is not None:
        holders = session.execute(
            select(Job.lease_owner).where(Job.status == JobStatus.RUNNING, Job.lease_expires_at >= now)
        ).scalars()
        gone = sorted({h for h in holders if h and dead(h)})
        if gone:
            orphaned = orphaned | Job.lease_owner.in_(gone)  # type: ignore[union-attr,assignment]
    query = (
        select(Job)
        .where(Job.status == JobStatus.RUNNING, orphaned)
        .order_by(Job.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(query).scalars())


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter in its upper half: base·2^(attempt-1), at most `cap`."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret
