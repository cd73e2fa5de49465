"""The rollout controller: moves open rollouts on, one database transaction per rollout per tick.

It runs in every worker process (and in `serve` with embedded workers), like the sweep. It never
runs Helm: a step is an ordinary upgrade job on one store (then, with the rollout's `helm_test`, a
verify job, and a rollback job if the test fails), queued in the same transaction that records the
step. The job queue's own guarantees therefore hold for rollouts: one active job per store (a
unique index), retries, deadlines from pick-up, crash recovery (a dead worker's job is taken over and
resumes the revision it applied instead of writing another). All rollout state is in the database,
so a restarted platform carries on where it stopped; the tick takes the rollout's row lock (on
PostgreSQL; SQLite has one writer anyway), so several workers never both start a step.

Each tick, for each rollout:
1. steps in flight whose job ended move on (succeeded, failed, testing, rolling back, skipped);
2. the rollout halts itself when more stores failed than it tolerates (a failed canary always
   halts it), or when the platform's chart or defaults moved away from what it rolls out;
3. a running rollout starts pending steps of its current wave (the lowest wave not finished: a
   wave starts only when the one before it has finished, the canary first), up to its
   parallelism; a store that is busy (a job of its own) is waited for, one that is pinned, being
   deleted or already current is skipped;
4. a rollout with nothing pending or in flight is completed (or, aborted, finished).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import audit
from app.db.engine import read_transaction, transaction, utcnow
from app.db.events import append_event
from app.db.models import ACTIVE_JOB_STATES, Job, Rollout, RolloutStep, Store, User
from app.db.stores import request_action
from app.errors import StoreplaneError
from app.fleet import rollouts as r
from app.fleet.rollouts import RolloutStatus, StepState
from app.fleet.target import FleetTarget, behind, current_target
from app.jobs.queue import ActiveJobExists, active_job
from app.lifecycle import Action, IllegalTransition, StoreStatus
from app.settings import Settings

log = logging.getLogger("storeplane.rollouts")

# Who the audit log names as the client of what the controller does on the admin's behalf.
CONTROLLER = "storeplane-rollout-controller"


class RolloutController:
    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory, self.settings = factory, settings

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database may be briefly unavailable: the next tick tries again
                log.exception("rollout tick failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.rollout_tick_seconds)
            except TimeoutError:
                continue

    async def tick(self) -> None:
        ids = await asyncio.to_thread(self._active_ids)
        if not ids:
            return
        try:
            target: FleetTarget | None = await asyncio.to_thread(current_target, self.settings)
        except StoreplaneError as exc:  # the chart cannot be read: follow steps, start none
            log.warning("the store chart cannot be read; no rollout step starts: %s", exc.message)
            target = None
        for rollout_id in ids:
            await asyncio.to_thread(advance, self.factory, self.settings, rollout_id, target)

    def _active_ids(self) -> list[int]:
        with read_transaction(self.factory) as session:
            return r.active_ids(session)


@dataclass
class _Tick:
    """One rollout's tick: the session, the rollout, who started it, and the journal helpers."""

    session: Session
    settings: Settings
    rollout: Rollout
    creator: User

    def journal(
        self, step: RolloutStep | None, store: Store | None, message: str, *, ok: bool = True, **detail: Any
    ) -> None:
        """A store event (when a store is concerned) and an audit entry, in the tick's transaction."""
        rollout = self.rollout
        if store is not None:
            append_event(
                self.session, store_id=store.id, step="rollout", message=f"rollout {rollout.id}: {message}"
            )
        action = audit.Action.ROLLOUT_STEP if step is not None else audit.Action.ROLLOUT_PROGRESS
        fields: dict[str, Any] = {"rollout": rollout.id, "message": message[:500], **detail}
        if step is not None:
            fields["wave"] = step.wave
            fields["state"] = step.state
        audit.record(
            self.session,
            action=action,
            outcome=audit.Outcome.SUCCESS if ok else audit.Outcome.FAILURE,
            actor=audit.Actor(self.creator.id, self.creator.name),
            client_ip=CONTROLLER,
            target=f"store:{store.id}" if store is not None else f"rollout:{rollout.id}",
            detail=fields,
            commit=False,
        )


def advance(
    factory: sessionmaker[Session], settings: Settings, rollout_id: int, target: FleetTarget | None
) -> None:
    """One tick of one rollout (see the module docstring), in one transaction."""
    with transaction(factory) as session:
        rollout = session.get(Rollout, rollout_id, with_for_update=True)
        if rollout is None or rollout.finished_at is not None:
            return
        creator = session.get(User, rollout.created_by)
        assert creator is not None
        tick = _Tick(session, settings, rollout, creator)
        steps = r.steps_of(session, rollout_id)
        for step, store in steps:
            if step.state in r.IN_FLIGHT:
                _follow(tick, step, store)
        if rollout.status == RolloutStatus.RUNNING:
            _halt_if_needed(tick, [s for s, _ in steps], target)
        if rollout.status == RolloutStatus.RUNNING and target is not None:
            _start_steps(tick, steps, target)
        _finish_if_done(tick, [s for s, _ in steps])


def _job_of(session: Session, step: RolloutStep) -> Job | None:
    return None if step.job_id is None else session.get(Job, step.job_id)


def _end(step: RolloutStep, state: str, error: str | None = None) -> None:
    step.state, step.finished_at = state, utcnow()
    if error is not None:
        step.error = error


def _follow(tick: _Tick, step: RolloutStep, store: Store) -> None:
    job = _job_of(tick.session, step)
    if job is not None and job.status in ACTIVE_JOB_STATES:
        return
    status = job.status if job is not None else "failed"
    reason = (job.last_error if job is not None else None) or "the job ended without a reason"
    if status == "cancelled":
        _end(step, StepState.SKIPPED, "cancelled: the store is being deleted")
        tick.journal(step, store, "skipped: the store is being deleted")
        return
    match step.state:
        case StepState.UPGRADING:
            if status != "succeeded":
                _end(step, StepState.FAILED, f"upgrade failed: {reason}")
                tick.journal(step, store, f"upgrade failed: {reason}", ok=False)
                return
            step.to_revision = store.helm_revision
            if tick.rollout.helm_test:
                if _request(tick, step, store, Action.VERIFY):
                    step.state = StepState.TESTING
                    tick.journal(step, store, f"revision {store.helm_revision} is ready; running helm test")
                return
            _end(step, StepState.SUCCEEDED)
            tick.journal(step, store, f"upgraded: revision {store.helm_revision} is ready")
        case StepState.TESTING:
            if status == "succeeded":
                _end(step, StepState.SUCCEEDED)
                tick.journal(step, store, "helm test passed")
                return
            step.error = f"helm test failed: {reason}"
            if step.from_revision is None:
                _end(step, StepState.FAILED)
                tick.journal(step, store, step.error, ok=False)
            elif _request(tick, step, store, Action.ROLLBACK, {"revision": step.from_revision}):
                step.state = StepState.ROLLING_BACK
                tick.journal(
                    step, store, f"{step.error}; rolling back to revision {step.from_revision}", ok=False
                )
        case StepState.ROLLING_BACK:
            if status == "succeeded":
                outcome = f"rolled back to revision {step.from_revision}'s configuration"
            else:
                outcome = f"the rollback to revision {step.from_revision} failed too: {reason}"
            _end(step, StepState.FAILED, f"{step.error}; {outcome}")
            tick.journal(step, store, f"failed: {step.error}", ok=False)


def _request(
    tick: _Tick, step: RolloutStep, store: Store, action: Action, args: dict[str, Any] | None = None
) -> bool:
    """Queue `action` on the store for this step; False when it must wait (the store has a job)."""
    try:
        request_action(
            tick.session,
            store,
            action,
            settings=tick.settings,
            args={**(args or {}), "rollout": tick.rollout.id},
        )
    except ActiveJobExists:
        return False
    except IllegalTransition as exc:
        if store.status in (StoreStatus.DELETING, StoreStatus.DELETED):
            _end(step, StepState.SKIPPED, "the store is being deleted")
            tick.journal(step, store, "skipped: the store is being deleted")
        else:
            _end(step, StepState.FAILED, f"{action} could not be requested: {exc.message}")
            tick.journal(step, store, step.error or "", ok=False)
        return False
    job = active_job(tick.session, store.id)
    assert job is not None
    step.job_id = job.id
    return True


def _halt_if_needed(tick: _Tick, steps: list[RolloutStep], target: FleetTarget | None) -> None:
    rollout = tick.rollout
    failed = [s for s in steps if s.state == StepState.FAILED]
    reason = ""
    if any(s.wave == 0 for s in failed):
        reason = "the canary failed"
    elif len(failed) > rollout.max_failures:
        tolerated = "none" if rollout.max_failures == 0 else f"at most {rollout.max_failures}"
        reason = f"{len(failed)} store(s) failed, {tolerated} tolerated"
    elif target is not None:
        moved = target.changes_from(FleetTarget.from_dict(rollout.target))
        if moved:
            reason = f"{moved} while the rollout ran: abort it and start a new one"
    if not reason:
        return
    rollout.status, rollout.updated_at = RolloutStatus.HALTED, utcnow()
    rollout.status_reason = f"halted: {reason}"
    log.warning("rollout %s halted: %s", rollout.id, reason)
    tick.journal(None, None, rollout.status_reason, ok=False, failed=len(failed))


def _start_steps(tick: _Tick, steps: list[tuple[RolloutStep, Store]], target: FleetTarget) -> None:
    rollout = tick.rollout
    unfinished = [s.wave for s, _ in steps if s.state not in r.FINAL]
    if not unfinished:
        return
    wave = min(unfinished)
    in_flight = sum(1 for s, _ in steps if s.state in r.IN_FLIGHT)
    for step, store in steps:
        if in_flight >= rollout.parallelism:
            return
        if step.wave != wave or step.state != StepState.PENDING:
            continue
        if _start(tick, step, store, target):
            in_flight += 1


def _start(tick: _Tick, step: RolloutStep, store: Store, target: FleetTarget) -> bool:
    """Queue the step's upgrade; True when it is in flight. A busy store is waited for."""
    skip = ""
    if store.status in (StoreStatus.DELETING, StoreStatus.DELETED):
        skip = "the store is being deleted"
    elif store.pinned:
        skip = "the store was pinned"
    elif store.status == StoreStatus.READY and behind(store, tick.settings, target) is None:
        skip = f"it already runs {target.label} with the current defaults"
    if skip:
        _end(step, StepState.SKIPPED, skip)
        tick.journal(step, store, f"skipped: {skip}")
        return False
    if store.status not in (StoreStatus.READY, StoreStatus.FAILED) or _busy(tick.session, store.id):
        return False  # its own job first; this step starts when the store is free
    step.from_revision, step.from_version = store.helm_revision, store.chart_version
    if not _request(tick, step, store, Action.UPGRADE):
        return False
    step.state, step.started_at, step.error = StepState.UPGRADING, utcnow(), None
    step.attempts += 1
    wave = "canary" if step.wave == 0 else f"wave {step.wave}"
    tick.journal(step, store, f"{wave}: upgrading from revision {step.from_revision} to {target.label}")
    return True


def _busy(session: Session, store_id: str) -> bool:
    query = select(Job.id).where(Job.store_id == store_id, Job.status.in_(ACTIVE_JOB_STATES))  # type: ignore[attr-defined]
    return session.execute(query).first() is not None


def _finish_if_done(tick: _Tick, steps: list[RolloutStep]) -> None:
    rollout = tick.rollout
    if any(s.state not in r.FINAL for s in steps):
        return
    counts = {state: sum(1 for s in steps if s.state == state) for state in r.FINAL}
    summary = (
        f"{counts[StepState.SUCCEEDED]} upgraded, {counts[StepState.FAILED]} failed, "
        f"{counts[StepState.SKIPPED]} skipped"
    )
    now = utcnow()
    if rollout.status == RolloutStatus.RUNNING:
        rollout.status, rollout.status_reason = RolloutStatus.COMPLETED, f"completed: {summary}"
    elif rollout.status == RolloutStatus.ABORTED:
        rollout.status_reason = f"aborted: {summary}"
    else:
        return  # paused or halted: it waits for an admin even with nothing left in flight
    rollout.finished_at = rollout.updated_at = now
    tick.journal(None, None, rollout.status_reason, ok=counts[StepState.FAILED] == 0, **counts)
