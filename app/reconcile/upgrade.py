"""Upgrade: a new revision of a store that has a deployed one, rolled back if it does not work.

A store that was Ready should keep serving its last good revision when the new one cannot become
ready. Helm's `--rollback-on-failure` would do that only by waiting inside helm (a helm process and
a worker slot for the whole wait), so we do it ourselves: apply, wait with the slot given back
(ready.settle, which records the revision failed), then `helm rollback` to the previous revision and
wait for that too. Each wait gets half of what is left. The error says truthfully which revision
the store serves afterwards.
"""

from __future__ import annotations

import time

from app import errors
from app.reconcile.install import helm_apply
from app.reconcile.ready import settle
from app.reconcile.state import ReleaseState, observe
from app.reconcile.target import Budget, EventSink, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.unlock import unlock
from app.reconcile.watch import events_since, watched


async def upgrade(
    t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, previous: int, slot: Slot
) -> int:
    since, started = events_since(), time.monotonic()
    seconds = budget.for_helm()
    await emit("upgrade", f"helm upgrade {t.release} from revision {previous} (timeout {seconds:.0f}s)")
    try:
        revision = await watched(t, kit, emit, "upgrade", since, helm_apply(t, kit, seconds, verb="upgrade"))
        await settle(
            t, kit, emit, slot, action="upgrade", revision=revision, since=since, budget=budget, share=0.5
        )
    except errors.StoreplaneError as exc:
        if exc.transient:
            raise  # the API server went away: the retry resumes (see resume() below)
        restored = await _restore(t, kit, emit, budget, previous, slot)
        raise type(exc)(f"{exc.message} ({restored})") from exc
    await emit("upgrade", f"revision {revision} is deployed and ready{budget.since(started)}")
    return revision


async def resume(
    t: StoreTarget,
    kit: Toolkit,
    emit: EventSink,
    budget: Budget,
    revision: int,
    previous: int | None,
    slot: Slot,
) -> int:
    """This job applied `revision` before it was interrupted (a crash, the API server away): wait
    for it instead of applying yet another revision; roll back like upgrade() if it fails."""
    since, started = events_since(), time.monotonic()
    await emit("upgrade", f"resuming: revision {revision} was applied by this job; waiting for it")
    try:
        await settle(
            t, kit, emit, slot, action="upgrade", revision=revision, since=since, budget=budget, share=0.5
        )
    except errors.StoreplaneError as exc:
        if exc.transient or previous is None:
            raise
        restored = await _restore(t, kit, emit, budget, previous, slot)
        raise type(exc)(f"{exc.message} ({restored})") from exc
    await emit("upgrade", f"revision {revision} is deployed and ready{budget.since(started)}")
    return revision


async def _restore(
    t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, previous: int, slot: Slot
) -> str:
    """Make sure the store runs `previous` again after a failed upgrade; says what happened."""
    try:
        observed = await observe(t, kit)
        if observed.state is ReleaseState.STALE_PENDING:
            await unlock(t, observed, kit, emit)
            observed = await observe(t, kit)
        latest = observed.latest
        if observed.state is ReleaseState.DEPLOYED and latest is not None:
            # Helm never wrote the new revision (it failed to render or apply before that).
            message = f"revision {latest.revision} still serves"
        else:
            since = events_since()
            await kit.helm.rollback(t.release, t.namespace, previous, timeout=budget.for_helm())
            after = (await observe(t, kit)).latest
            assert after is not None
            await settle(
                t, kit, emit, slot, action="rollback", revision=after.revision, since=since, budget=budget
            )
            message = f"rolled back: revision {after.revision} runs revision {previous}'s configuration"
    except errors.StoreplaneError as exc:
        message = f"the rollback to revision {previous} failed too: {exc.message}"
    await emit("upgrade", message)
    return message
