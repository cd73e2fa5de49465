"""Wait until a revision is ready, holding no worker slot, and stop early on a cause that waiting
cannot fix. This replaces helm's own `--wait`: helm only applies (seconds), and a store whose pods
take minutes to pull and start costs nothing but a few API reads every few seconds while it waits.

Two readings alternate: readiness of the revision's objects (app/kube/readiness.py: kstatus
semantics, one list per kind) every 1 to 5 s, backing off; and every 5 s the diagnosis of the
namespace (app/kube/diagnose.py), whose permanent causes stop the wait once they persist for their
grace (FATAL_GRACE in watch.py). When the wait fails for a reason other than an unreachable API
server, the revision is recorded `failed` in Helm's history — Helm's own wait did the same — so the
history stays the truthful record of what became ready.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from app import errors
from app.kube import ObjectRef, Readiness
from app.reconcile.record import record_failed
from app.reconcile.state import revision_objects
from app.reconcile.target import Budget, EventSink, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.watch import persisting

# The wait between readiness polls grows with the time already waited (a fifth of it, 1 to 5 s): a
# store ready in 10 s is seen within ~2 s of it, one that takes minutes costs a poll every 5 s.
MIN_POLL, MAX_POLL, POLL_SHARE = 1.0, 5.0, 0.2
DIAGNOSE_EVERY = 5.0


async def settle(
    t: StoreTarget,
    kit: Toolkit,
    emit: EventSink,
    slot: Slot,
    *,
    action: str,
    revision: int,
    since: datetime,
    budget: Budget,
    share: float = 1.0,
) -> None:
    """Wait (slot given back) until `revision` is ready; on failure record it failed and raise."""
    try:
        limit = budget.for_helm(share)  # what is left, minus the margin kept for what follows
        refs = await revision_objects(t, kit, revision)
        async with slot.waiting(f"{action}: revision {revision} to become ready"):
            await _until_ready(t, kit, emit, action, revision, refs, since, limit)
    except errors.StoreplaneError as exc:
        if not exc.transient:
            await record_failed(t, kit, emit, revision, f"Storeplane: not ready: {exc.message}")
        raise


async def _until_ready(
    t: StoreTarget,
    kit: Toolkit,
    emit: EventSink,
    action: str,
    revision: int,
    refs: list[ObjectRef],
    since: datetime,
    limit: float,
) -> None:
    started = time.monotonic()
    deadline = started + limit
    next_diagnosis = started + DIAGNOSE_EVERY
    first_seen: dict[str, float] = {}
    pending: set[str] | None = None
    last = Readiness()
    while True:
        try:
            last = await kit.kube.readiness(t.namespace, refs)
        except errors.StoreplaneError as exc:
            if not exc.transient or time.monotonic() >= deadline:
                raise
            last = Readiness([f"the API server did not answer ({exc.message})"])
        else:
            pending = await _report(emit, action, revision, last, pending, started)
            if last.ready:
                return
        now = time.monotonic()
        if now >= next_diagnosis:
            next_diagnosis = now + DIAGNOSE_EVERY
            await _stop_if_hopeless(t, kit, action, since, first_seen)
        if now >= deadline:
            raise await _too_slow(t, kit, action, revision, since, limit, last)
        await asyncio.sleep(min(poll_wait(now - started), max(deadline - now, 0.05)))


def poll_wait(waited: float) -> float:
    """Seconds until the next readiness poll, after `waited` seconds of waiting."""
    return min(max(MIN_POLL, waited * POLL_SHARE), MAX_POLL)


async def _report(
    emit: EventSink, action: str, revision: int, now: Readiness, before: set[str] | None, started: float
) -> set[str]:
    """Say what is waited for at first, then each object as it becomes ready."""
    current = {line.split(":", 1)[0] for line in now.pending}
    if before is None:
        if current:
            await emit(action, f"revision {revision} applied; waiting for {now.summary()}")
        return current
    took = time.monotonic() - started
    for done in sorted(before - current):
        await emit(action, f"{done} is ready ({took:.0f}s)")
    return current


async def _stop_if_hopeless(
    t: StoreTarget, kit: Toolkit, action: str, since: datetime, first_seen: dict[str, float]
) -> None:
    try:
        diagnosis = await kit.kube.diagnose(t.namespace, since)
    except errors.RetryableError:
        return  # the next reading will say more
    if persisting(diagnosis, first_seen):
        raise errors.StoreNotReady(f"{action} cannot succeed: {diagnosis.summary()}")


async def _too_slow(
    t: StoreTarget, kit: Toolkit, action: str, revision: int, since: datetime, limit: float, last: Readiness
) -> errors.StoreplaneError:
    """Out of time: permanent if the namespace names a permanent cause, else worth another try."""
    message = f"{action}: revision {revision} was not ready within {limit:.0f}s: {last.summary()}"
    try:
        diagnosis = await kit.kube.diagnose(t.namespace, since)
    except errors.StoreplaneError:
        return errors.StillProgressing(message)
    if diagnosis.permanent:
        return errors.StoreNotReady(f"{action} failed: {diagnosis.summary()}")
    if diagnosis.findings:
        return errors.StillProgressing(f"{message}; {diagnosis.summary()}")
    return errors.StillProgressing(message)
