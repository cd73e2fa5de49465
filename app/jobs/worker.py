"""The worker loop: claim a job when a slot is free, run its store action, record the outcome.

Concurrency: a semaphore bounds the Helm actions of this worker; the claim statement bounds those of
all workers together. Leases: a heartbeat per running job renews the lease and notices a requested
cancellation (the store is being deleted) or a lost lease. Shutdown (SIGTERM): stop claiming, let
running actions finish for a grace period, then cancel them — the action terminates its Helm process,
which marks the release failed rather than leaving it pending — and hand their jobs back at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.db.engine import transaction, utcnow
from app.db.events import append_event
from app.errors import PermanentError, RetryableError, scrub
from app.jobs import outcome, queue
from app.jobs.actions import StoreActions, TargetFactory, dispatch, reconcile_actions
from app.jobs.queue import ClaimedJob
from app.lifecycle import Action
from app.logging import bound_request_id
from app.settings import Settings

log = logging.getLogger("storeplane.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class _Running:
    job: ClaimedJob
    action: asyncio.Task[int | None] | None = None
    # Why we cancelled the action ourselves: "cancel", "lease", "timeout" or "shutdown".
    why: str | None = None
    heartbeat: asyncio.Task[None] | None = field(default=None, repr=False)
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

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set, then shut down gracefully."""
        log.info("worker started", extra={"worker": self.id})
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
                task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
                self._tasks.add(task)
                task.add_done_callback(self._job_done)
        finally:
            await self._shutdown()
        log.info("worker stopped", extra={"worker": self.id})

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
        try:
            return await asyncio.to_thread(
                queue.claim,
                self.factory,
                worker_id=self.id,
                lease_seconds=self.settings.lease_seconds,
                global_limit=self.settings.global_concurrency,
            )
        except Exception:
            # The database is unreachable or busy: log and try again at the next poll.
            log.exception("claiming a job failed", extra={"worker": self.id})
            return None

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("job task crashed", exc_info=task.exception())

    async def _shutdown(self) -> None:
        if not self._tasks:
            return
        log.info("waiting for running jobs", extra={"worker": self.id, "jobs": len(self._running)})
        _done, pending = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_seconds)
        if pending:
            for running in list(self._running.values()):
                self._interrupt(running, "shutdown")
            await asyncio.wait(pending)

    def _interrupt(self, running: _Running, why: str) -> None:
        if running.action is not None and not running.action.done() and running.why is None:
            running.why = why
            running.action.cancel()

    async def _execute(self, job: ClaimedJob) -> None:
        with bound_request_id(job.request_id):  # every line this job logs names the request behind it
            running = _Running(job=job)
            self._running[job.id] = running
            fields = {"job_id": job.id, "store_id": job.store_id, "kind": job.kind, "attempt": job.attempts}
            log.info("job %s: %s of store %s started", job.id, job.kind, job.store_id, extra=fields)
            try:
                await self._run_job(running)
                log.info("job %s: %s of store %s done", job.id, job.kind, job.store_id, extra=fields)
            finally:
                self._running.pop(job.id, None)
                if running.heartbeat is not None:
                    running.heartbeat.cancel()

    async def _run_job(self, running: _Running) -> None:
        job, cfg = running.job, self.settings
        if job.cancel_requested:
            await self._db(outcome.cancel, job, max_attempts=cfg.job_max_attempts)
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
        running.action = asyncio.create_task(
            dispatch(self.actions, job.kind, self.make_target(snapshot), job.args, emit=emit, timeout=timeout)
        )
        running.heartbeat = asyncio.create_task(self._heartbeat(running))
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
            await self._db(outcome.succeed, job, revision=action.result(), took=took, **self._max())
        elif isinstance(exc, RetryableError):
            await self._retry(running, exc.message, took)
        elif isinstance(exc, PermanentError):
            await self._fail(running, exc.message, took, metrics.reason_label(exc))
        else:
            # A bug or an error nobody classified: permanent, so it is seen rather than retried away.
            log.error("store action raised an unexpected error", exc_info=exc)
            reason = scrub(f"internal error: {type(exc).__name__}: {exc}")
            await self._fail(running, reason, took, "internal_error")

    async def _retry(self, running: _Running, reason: str, took: float) -> None:
        cfg, job = self.settings, running.job
        if job.attempts >= job.max_attempts:
            final = f"gave up after {job.attempts} attempts: {reason}"
            await self._fail(running, final, took, "retries_exhausted")
            return
        delay = queue.retry_delay(job.attempts, base=cfg.retry_base_seconds, cap=cfg.retry_max_seconds)
        remaining = self._remaining(job)
        if remaining is not None and remaining <= delay:
            reason = f"{self._deadline_reason(job)}; last error: {reason}"
            await self._fail(running, reason, took, "deadline")
            return
        await self._db(outcome.retry_later, job, reason=reason, delay=delay, took=took)

    async def _heartbeat(self, running: _Running) -> None:
        cfg, job = self.settings, running.job
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(cfg.lease_seconds / 3)
            try:
                beat = await asyncio.to_thread(
                    queue.heartbeat,
                    self.factory,
                    job_id=job.id,
                    worker_id=self.id,
                    lease_seconds=cfg.lease_seconds,
                )
            except Exception:
                # Past a whole lease without a renewal another worker may have taken the job: stop,
                # rather than risk two actions on one store. Otherwise the database may come back.
                if time.monotonic() - renewed >= cfg.lease_seconds:
                    log.error(
                        "job %s: lease could not be renewed for %ss; stopping it", job.id, cfg.lease_seconds
                    )
                    self._interrupt(running, "lease")
                    return
                log.exception("heartbeat of job %s failed; will try again", job.id)
                continue
            renewed = time.monotonic()
            if not beat.alive:
                self._interrupt(running, "lease")
                return
            if beat.cancel_requested:
                self._interrupt(running, "cancel")
                return

    def _remaining(self, job: ClaimedJob) -> float | None:
        if job.deadline_at is None:
            return None
        return (job.deadline_at - utcnow()).total_seconds()

    def _deadline_reason(self, job: ClaimedJob) -> str:
        deadline = self.settings.provision_deadline
        return f"the store did not become ready within the provisioning deadline ({deadline}s)"

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
