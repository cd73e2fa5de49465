"""The worker loop: claim a job when a slot is free, run its store action, record the outcome.

Concurrency: a slot bounds the work of this worker (helm rendering and applying, API writes); the
claim statement bounds the working jobs of all workers together. A store action gives its slot back
while it only waits on the cluster (pods, a Job, a namespace going away: app/jobs/slots.py), so a
worker holds any number of waiting jobs and at most `worker_concurrency` working ones. Leases: one
heartbeat per worker renews the leases of all its jobs in one statement and notices a requested
cancellation (the store is being deleted) or a lost lease. Crash recovery: at start, and at every
sweep, jobs whose holder is provably dead (app/jobs/liveness.py) are taken over at once; others
when their lease expires. Shutdown (SIGTERM): stop claiming, hand waiting jobs back at once, let
working ones finish for a grace period, then cancel them — the action terminates its Helm process,
which marks the release failed rather than leaving it pending — and hand their jobs back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.db.engine import transaction, utcnow
from app.db.events import append_event
from app.errors import PermanentError, RetryableError, scrub
from app.jobs import outcome, queue
from app.jobs.actions import Applied, StoreActions, TargetFactory, dispatch, reconcile_actions
from app.jobs.liveness import new_worker_id, provably_dead
from app.jobs.queue import ClaimedJob
from app.jobs.slots import WorkSlot
from app.lifecycle import Action
from app.logging import bound_request_id
from app.settings import Settings

log = logging.getLogger("storeplane.worker")

# The least time worth starting another attempt with (helm's apply, then some waiting).
MIN_ATTEMPT_SECONDS = 15.0


@dataclass
class _Running:
    job: ClaimedJob
    slot: WorkSlot
    action: asyncio.Task[Applied | None] | None = None
    # Why we cancelled the action ourselves: "cancel", "lease", "timeout" or "shutdown".
    why: str | None = None
    engine: str = "unknown"  # for metrics labels, once the store snapshot is read


class Worker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        actions: StoreActions | None = None,
        make_target: TargetFactory | None = None,
        worker_id: str | None = None,
    ) -> None:
        if actions is None or make_target is None:
            actions, make_target = reconcile_actions(settings)
        self.factory = factory
        self.settings = settings
        self.actions = actions
        self.make_target = make_target
        self.id = worker_id or new_worker_id()
        self._slots = asyncio.Semaphore(settings.worker_concurrency)
        self._running: dict[int, _Running] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running_jobs(self) -> int:
        return len(self._running)

    @property
    def waiting_jobs(self) -> int:
        """Running jobs that hold no slot: they only wait on the cluster."""
        return sum(1 for r in self._running.values() if not r.slot.held)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set, then shut down gracefully."""
        log.info("worker started", extra={"worker": self.id})
        await self._take_over_dead_holders()
        beating = asyncio.create_task(self._heartbeat(), name=f"heartbeat-{self.id}")
        try:
            while not stop.is_set():
                await self._wait_for_slot(stop)
                if stop.is_set():
                    break
                job = await self._claim()
                if job is None:
                    self._slots.release()
                    await _sleep_or_stop(stop, self.settings.poll_seconds)
                    continue
                slot = self._new_slot()
                slot.job_id = job.id
                task = asyncio.create_task(self._execute(job, slot), name=f"job-{job.id}")
                self._tasks.add(task)
                task.add_done_callback(self._job_done)
        finally:
            await self._shutdown()
            beating.cancel()
        log.info("worker stopped", extra={"worker": self.id})

    def _new_slot(self) -> WorkSlot:
        cfg = self.settings
        return WorkSlot(
            self._slots,
            self.factory,
            worker_id=self.id,
            global_limit=cfg.global_concurrency,
            poll_seconds=cfg.poll_seconds,
        )

    async def _take_over_dead_holders(self) -> None:
        """A restart on the same host: the jobs of our dead predecessor are due now, not at lease end."""
        try:
            taken = await asyncio.to_thread(outcome.reclaim_expired, self.factory, dead=provably_dead)
        except Exception:
            log.exception("taking over the jobs of dead workers failed; their leases will expire")
            return
        if taken:
            log.info("took over the jobs of dead workers", extra={"worker": self.id, "jobs": taken})

    async def _wait_for_slot(self, stop: asyncio.Event) -> None:
        acquire = asyncio.ensure_future(self._slots.acquire())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not acquire.done():
            acquire.cancel()
        elif stop.is_set():
            self._slots.release()

    async def _claim(self) -> ClaimedJob | None:
        cfg = self.settings
        deadlines = {kind.value: float(cfg.action_deadline) for kind in Action}
        deadlines[Action.PROVISION.value] = float(cfg.provision_deadline)
        try:
            return await asyncio.to_thread(
                queue.claim,
                self.factory,
                worker_id=self.id,
                lease_seconds=cfg.lease_seconds,
                global_limit=cfg.global_concurrency,
                deadlines=deadlines,
            )
        except Exception:
            # The database is unreachable or busy: log and try again at the next poll.
            log.exception("claiming a job failed", extra={"worker": self.id})
            return None

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job task crashed", exc_info=task.exception())

    async def _shutdown(self) -> None:
        if not self._tasks:
            return
        log.info("waiting for running jobs", extra={"worker": self.id, "jobs": len(self._running)})
        # A job that only waits has nothing to finish: hand it back now, the next worker resumes it.
        for running in list(self._running.values()):
            if not running.slot.held:
                self._interrupt(running, "shutdown")
        _done, pending = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_seconds)
        if pending:
            for running in list(self._running.values()):
                self._interrupt(running, "shutdown")
            await asyncio.wait(pending)

    def _interrupt(self, running: _Running, why: str) -> None:
        if running.action is not None and not running.action.done() and running.why is None:
            running.why = why
            running.action.cancel()

    async def _execute(self, job: ClaimedJob, slot: WorkSlot) -> None:
        with bound_request_id(job.request_id):  # every line this job logs names the request behind it
            running = _Running(job=job, slot=slot)
            self._running[job.id] = running
            fields = {"job_id": job.id, "store_id": job.store_id, "kind": job.kind, "attempt": job.attempts}
            log.info("job %s: %s of store %s started", job.id, job.kind, job.store_id, extra=fields)
            try:
                await self._run_job(running)
                log.info("job %s: %s of store %s done", job.id, job.kind, job.store_id, extra=fields)
            finally:
                self._running.pop(job.id, None)
                slot.release()

    async def _run_job(self, running: _Running) -> None:
        job, cfg = running.job, self.settings
        if job.cancel_requested:
            await self._db(outcome.cancel, job, max_attempts=cfg.job_max_attempts)
            return
        if job.attempts == 1 and job.queued_for > cfg.max_queue_seconds:
            reason = (
                f"waited {job.queued_for:.0f}s in the queue, longer than the bound of "
                f"{cfg.max_queue_seconds}s: the platform has more work than workers; try again"
            )
            await self._fail(running, reason, 0.0, "queue_timeout")
            return
        remaining = self._remaining(job)
        if remaining is not None and remaining <= 0:
            await self._fail(running, self._deadline_reason(job), 0.0, "deadline")
            return
        snapshot = await self._db(outcome.start, job)
        if snapshot is None:
            return  # lost the lease between claim and start
        timeout = cfg.helm_timeout if remaining is None else min(cfg.helm_timeout, remaining)

        running.engine = snapshot.engine
        steps = metrics.StepTimer(job.kind)

        async def emit(step: str, message: str) -> None:
            steps.event(step)
            await self._db(_append, store_id=job.store_id, job_id=job.id, step=step, message=scrub(message))

        started = time.monotonic()
        target = self.make_target(snapshot, job.id)
        running.action = asyncio.create_task(
            dispatch(self.actions, job.kind, target, job.args, emit=emit, timeout=timeout, slot=running.slot)
        )
        # The action has its own timeout; this one only catches an action that ignores it.
        await asyncio.wait({running.action}, timeout=timeout + 60)
        if not running.action.done():
            self._interrupt(running, "timeout")
            await asyncio.wait({running.action})
        took = time.monotonic() - started
        steps.finish()
        await asyncio.shield(self._record(running, took, limit=timeout))

    async def _fail(self, running: _Running, reason: str, took: float, label: str) -> None:
        """Fail the job for good; a provisioning failure is counted by its reason label."""
        job = running.job
        if (
            await self._db(outcome.fail, job, reason=reason, took=took, **self._max())
            and job.kind == Action.PROVISION
        ):
            metrics.provisioning_failed(running.engine, label)

    async def _record(self, running: _Running, took: float, *, limit: float) -> None:
        job, action = running.job, running.action
        assert action is not None
        if action.cancelled():
            match running.why:
                case "cancel":
                    await self._db(outcome.cancel, job, **self._max())
                case "shutdown":
                    await self._db(outcome.release, job)
                case "timeout":
                    await self._retry(running, f"{job.kind} did not finish within {limit:.0f}s", took)
                case _:  # lease lost: another worker owns the job now; write nothing
                    log.warning("lost the lease of job %s", job.id)
            return
        exc = action.exception()
        if exc is None:
            applied = action.result()
            await self._db(
                outcome.succeed,
                job,
                revision=applied.revision if applied else None,
                version=applied.version if applied else None,
                took=took,
                **self._max(),
            )
        elif isinstance(exc, RetryableError):
            await self._retry(running, exc.message, took, transient=exc.transient)
        elif isinstance(exc, PermanentError):
            await self._fail(running, exc.message, took, metrics.reason_label(exc))
        else:
            # A bug or an error nobody classified: permanent, so it is seen rather than retried away.
            log.error("store action raised an unexpected error", exc_info=exc)
            reason = scrub(f"internal error: {type(exc).__name__}: {exc}")
            await self._fail(running, reason, took, "internal_error")

    async def _retry(self, running: _Running, reason: str, took: float, *, transient: bool = False) -> None:
        """Queue the job again after a back-off. A transient failure (the API server away, a
        conflict) spends no attempt: it is retried with capped back-off until the job's deadline."""
        cfg, job = self.settings, running.job
        if job.attempts >= job.max_attempts and not transient:
            final = f"gave up after {job.attempts} attempts: {reason}"
            await self._fail(running, final, took, "retries_exhausted")
            return
        delay = queue.retry_delay(job.attempts, base=cfg.retry_base_seconds, cap=cfg.retry_max_seconds)
        remaining = self._remaining(job)
        # An attempt with less than MIN_ATTEMPT_SECONDS left could only run out of time, and its
        # "out of time" would then hide the cause this attempt found: fail now, with that cause.
        if remaining is not None and remaining - delay < MIN_ATTEMPT_SECONDS:
            reason = f"{self._deadline_reason(job)}; last error: {reason}"
            await self._fail(running, reason, took, "deadline")
            return
        await self._db(outcome.retry_later, job, reason=reason, delay=delay, took=took)

    async def _heartbeat(self) -> None:
        """Renew the leases of every job of this worker, in one statement, a few times per lease."""
        cfg = self.settings
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(cfg.lease_seconds / 3)
            running = list(self._running.values())
            if not running:
                renewed = time.monotonic()
                continue
            try:
                beats = await asyncio.to_thread(
                    queue.heartbeat_all,
                    self.factory,
                    worker_id=self.id,
                    job_ids=[r.job.id for r in running],
                    lease_seconds=cfg.lease_seconds,
                )
            except Exception:
                # Past a whole lease without a renewal another worker may have taken the jobs: stop
                # them, rather than risk two actions on one store. Otherwise the database may come back.
                if time.monotonic() - renewed >= cfg.lease_seconds:
                    log.error(
                        "leases could not be renewed for %ss; stopping this worker's jobs", cfg.lease_seconds
                    )
                    for r in running:
                        self._interrupt(r, "lease")
                else:
                    log.exception("heartbeat failed; will try again")
                continue
            renewed = time.monotonic()
            for r in running:
                beat = beats.get(r.job.id)
                if beat is None:
                    continue
                if not beat.alive:
                    self._interrupt(r, "lease")
                elif beat.cancel_requested:
                    self._interrupt(r, "cancel")

    def _remaining(self, job: ClaimedJob) -> float | None:
        if job.deadline_at is None:
            return None
        return (job.deadline_at - utcnow()).total_seconds()

    def _deadline_reason(self, job: ClaimedJob) -> str:
        if job.kind == Action.PROVISION:
            deadline = self.settings.provision_deadline
            return f"the store did not become ready within the provisioning deadline ({deadline}s)"
        return f"the {job.kind} did not finish within the action deadline ({self.settings.action_deadline}s)"

    def _max(self) -> dict[str, int]:
        return {"max_attempts": self.settings.job_max_attempts}

    async def _db(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Run a blocking database function off the event loop."""
        return await asyncio.to_thread(fn, self.factory, *args, **kwargs)


def _append(factory: sessionmaker[Session], **fields: object) -> None:
    with transaction(factory) as session:
        append_event(session, **fields)  # type: ignore[arg-type]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return


__all__ = ["Action", "Worker", "new_worker_id"]
