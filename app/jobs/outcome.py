"""What a job's start and end do to its row, its store and the activity log — one transaction each.

Every write is guarded by the lease: a worker that lost its job (lease expired and reclaimed by
another worker) gets False back and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.db import domains
from app.db.engine import transaction, utcnow
from app.db.events import append_event
from app.db.models import Job, Store, User
from app.fleet.versions import RunningVersion
from app.jobs.queue import ClaimedJob, JobStatus, active_job, enqueue
from app.lifecycle import FAILED, RUNNING, SUCCEEDED, Action, StoreStatus, can_move, transition


@dataclass(frozen=True)
class StoreSnapshot:
    """The store as the job found it when it started."""

    id: str
    name: str
    owner: str
    engine: str
    namespace: str
    host: str
    status: StoreStatus
    chart_values: dict[str, Any]
    helm_revision: int | None
    # Linked domains the action serves besides `host`, and the primary host ("" = `host`).
    extra_hosts: tuple[str, ...] = ()
    primary_host: str = ""

    @classmethod
    def of(cls, store: Store, *, owner: str, domains: dict[str, Any] | None = None) -> StoreSnapshot:
        served = domains or {"hosts": [], "primary": store.primary_host or ""}
        return cls(
            id=store.id,
            name=store.name,
            owner=owner,
            engine=store.engine,
            namespace=store.namespace,
            host=store.host,
            status=StoreStatus(store.status),
            chart_values=dict(store.chart_values or {}),
            helm_revision=store.helm_revision,
            extra_hosts=tuple(served["hosts"]),
            primary_host=served["primary"],
        )


def _owned_job(session: Session, job: ClaimedJob) -> Job | None:
    row = session.get(Job, job.id, with_for_update=True)
    if row is None or row.status != JobStatus.RUNNING or row.lease_owner != job.lease_owner:
        return None
    return row


def _store(session: Session, store_id: str) -> Store:
    store = session.get(Store, store_id, with_for_update=True)
    if store is None:
        raise LookupError(f"job refers to missing store {store_id}")
    return store


def _set_status(store: Store, target: StoreStatus, reason: str | None, now: datetime) -> None:
    store.status = transition(store.status, target)
    store.status_reason = reason
    store.updated_at = now


# Actions that apply the chart with the platform's values: the domains they serve are decided when
# they start (app/db/domains.py applied_set) and recorded in the job, so success can adopt exactly them.
APPLIES_VALUES = frozenset({Action.PROVISION, Action.UPGRADE, Action.DOMAINS})


def start(factory: sessionmaker[Session], job: ClaimedJob) -> StoreSnapshot | None:
    """Mark the store as worked on (Pending → Provisioning) and log the attempt."""
    with transaction(factory) as session:
        row = _owned_job(session, job)
        if row is None:
            return None
        store = _store(session, job.store_id)
        applied = None
        if job.kind in APPLIES_VALUES:
            applied = domains.applied_set(session, store, job.args)
            row.args = {**(row.args or {}), "applied": applied}
        now = utcnow()
        running = RUNNING.get(job.kind)
        if running and can_move(store.status, running):
            _set_status(store, running, None, now)
        attempt = f" (attempt {job.attempts} of {job.max_attempts})" if job.attempts > 1 else ""
        append_event(session, store_id=store.id, job_id=job.id, step=job.kind, message=f"started{attempt}")
        owner = session.execute(select(User.name).where(User.id == store.owner_id)).scalar_one()
        return StoreSnapshot.of(store, owner=owner, domains=applied)


def succeed(
    factory: sessionmaker[Session],
    job: ClaimedJob,
    *,
    revision: int | None,
    took: float,
    max_attempts: int,
    version: RunningVersion | None = None,
) -> bool:
    with transaction(factory) as session:
        row = _owned_job(session, job)
        if row is None:
            return False
        now = utcnow()
        row.status, row.finished_at, row.lease_owner, row.last_error = JobStatus.SUCCEEDED, now, None, None
        store = _store(session, job.store_id)
        if _superseded_by_delete(store, job):
            append_event(session, store_id=store.id, job_id=job.id, step=job.kind, message="finished")
        else:
            _set_status(store, SUCCEEDED[job.kind], None, now)
            if revision is not None:
                store.helm_revision = revision
                _record_revision(store, version)
            if store.status == StoreStatus.READY and store.ready_at is None:
                store.ready_at = now
                if job.kind == Action.PROVISION:  # from the create request to Ready, retries included
                    metrics.provisioning_succeeded(store.engine, (now - store.created_at).total_seconds())
            if store.status == StoreStatus.DELETED:
                store.deleted_at = now
                domains.free_domains(session, store.id)  # the namespace and its Ingresses are gone
            _adopt_domains(session, store, row, now)
            # Verify's own event words its result (an order placed, or on the simulated cluster
            # only the Kubernetes and Helm checks); this line only closes the job.
            done = {Action.DELETE: "deleted: every resource is gone", Action.VERIFY: "helm test passed"}
            message = done.get(job.kind, f"ready at revision {revision}" if revision else "ready")
            append_event(
                session,
                store_id=store.id,
                job_id=job.id,
                step=job.kind,
                message=message,
                duration_ms=round(took * 1000),
            )
        _follow_up(session, store, job, max_attempts)
        return True


def _record_revision(store: Store, version: RunningVersion | None) -> None:
    """A new revision runs: what it runs, and no drift known for it until the sweep looks."""
    if version is not None:
        store.chart_version = version.chart_version or None
        store.app_version = version.app_version or None
        store.values_digest = version.values_digest
    store.drifted, store.drift, store.drift_checked_at = None, None, None


def _adopt_domains(session: Session, store: Store, row: Job, now: datetime) -> None:
    """What a successful action deployed decides which domains are served and which is primary."""
    args = row.args or {}
    if "applied" in args:
        domains.adopt_applied(session, store, args["applied"], now=now)
    elif row.kind == Action.ROLLBACK and "domains" in args:
        domains.adopt_revision(session, store, args["domains"], int(args["revision"]), now=now)


def fail(
    factory: sessionmaker[Session], job: ClaimedJob, *, reason: str, took: float, max_attempts: int
) -> bool:
    """The job failed for good: the store is Failed with `reason` (unless it is being deleted)."""
    with transaction(factory) as session:
        row = _owned_job(session, job)
        if row is None:
            return False
        _fail_row(session, row, reason=reason, took=took)
        _follow_up(session, _store(session, job.store_id), job, max_attempts)
        return True


def _fail_row(session: Session, row: Job, *, reason: str, took: float | None) -> None:
    now = utcnow()
    row.status, row.finished_at, row.lease_owner, row.last_error = JobStatus.FAILED, now, None, reason
    store = _store(session, row.store_id)
    kind = Action(row.kind)
    if store.status != StoreStatus.DELETING or kind == Action.DELETE:
        _set_status(store, FAILED[kind], reason, now)
    append_event(
        session,
        store_id=store.id,
        job_id=row.id,
        step=kind,
        message=f"failed: {reason}",
        duration_ms=None if took is None else round(took * 1000),
    )


def retry_later(
    factory: sessionmaker[Session], job: ClaimedJob, *, reason: str, delay: float, took: float
) -> bool:
    """Put the job back in the queue after `delay` seconds (the caller checked attempts and deadline)."""
    with transaction(factory) as session:
        row = _owned_job(session, job)
        if row is None:
            return False
        row.status, row.lease_owner, row.lease_expires_at = JobStatus.QUEUED, None, None
        row.run_after = utcnow() + timedelta(seconds=delay)
        row.last_error = reason
        append_event(
            session,
            store_id=job.store_id,
            job_id=job.id,
            step=job.kind,
            message=f"attempt {job.attempts} failed, retrying in {delay:.0f}s: {reason}",
            duration_ms=round(took * 1000),
        )
        return True


def cancel(factory: sessionmaker[Session], job: ClaimedJob, *, max_attempts: int) -> bool:
    """The job was cancelled because the store is being deleted; queue the deletion."""
    with transaction(factory) as session:
        row = _owned_job(session, job)
        if row is None:
            return False
        row.status, row.finished_at, row.lease_owner = JobStatus.CANCELLED, utcnow(), None
        store = _store(session, job.store_id)
        append_event(session, store_id=store.id, job_id=job.id, step=job.kind, message="cancelled")
        _follow_up(session, store, job, max_attempts)
        return True


def release(factory: sessionmaker[Session], job: ClaimedJob) -> bool:
    """Shutdown: hand the job back at once; the interrupted attempt does not count."""
    with transaction(factory) as session:
        row = _owned_job(session, job)
        if row is None:
            return False
        row.status, row.lease_owner, row.lease_expires_at = JobStatus.QUEUED, None, None
        row.attempts = max(row.attempts - 1, 0)
        row.run_after = utcnow()
        append_event(
            session, store_id=job.store_id, job_id=job.id, step=job.kind, message="interrupted by shutdown"
        )
        return True


def reclaim_expired(
    factory: sessionmaker[Session], *, dead: Callable[[str], bool] | None = None
) -> list[int]:
    """Requeue the jobs of workers that stopped heartbeating — and, with `dead`, of workers that are
    provably dead although their lease runs on; fail those out of attempts."""
    from app.jobs.queue import expired_jobs  # local: keeps the module's public surface small

    reclaimed: list[int] = []
    with transaction(factory) as session:
        now = utcnow()
        for row in expired_jobs(session, now, dead):
            assert row.id is not None
            owner = row.lease_owner
            # A lease still running means the holder was found dead on this host, not silent.
            gone = row.lease_expires_at is not None and row.lease_expires_at >= now
            if row.attempts >= row.max_attempts:
                _fail_row(
                    session,
                    row,
                    reason=f"the worker running it stopped responding {row.attempts} times; giving up",
                    took=None,
                )
            else:
                row.status, row.lease_owner, row.lease_expires_at, row.run_after = (
                    JobStatus.QUEUED,
                    None,
                    None,
                    now,
                )
                why = "is gone (its process ended)" if gone else "stopped responding"
                append_event(
                    session,
                    store_id=row.store_id,
                    job_id=row.id,
                    step=row.kind,
                    message=f"worker {owner} {why}; the job was queued again",
                )
            reclaimed.append(row.id)
    return reclaimed


def _superseded_by_delete(store: Store, job: ClaimedJob) -> bool:
    return store.status == StoreStatus.DELETING and job.kind != Action.DELETE


def _follow_up(session: Session, store: Store, job: ClaimedJob, max_attempts: int) -> None:
    """A deletion requested while another job ran is queued as soon as that job lets go of the store."""
    if _superseded_by_delete(store, job) and active_job(session, store.id) is None:
        session.flush()
        enqueue(
            session,
            store_id=store.id,
            kind=Action.DELETE,
            max_attempts=max_attempts,
            request_id=job.request_id,
        )
        append_event(
            session, store_id=store.id, step="delete", message="queued after the running job stopped"
        )
