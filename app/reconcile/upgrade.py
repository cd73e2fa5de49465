"""Upgrade: a new revision of a store that has a deployed one, with `--rollback-on-failure`.

A store that was Ready should keep serving its last good revision when the new one cannot become
ready, so here helm rolls back by itself on failure (also when we stop it early: on SIGTERM helm 4
runs the same rollback). Helm then waits twice (the upgrade, then the rollback) with the same
`--timeout`, so each gets half of the budget. If helm could not finish the rollback (killed,
timed out) we finish it, so the error can truthfully say which revision the store serves.
"""

from __future__ import annotations

import time

from app import errors
from app.reconcile.install import helm_apply
from app.reconcile.state import ReleaseState, observe
from app.reconcile.target import Budget, EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.unlock import unlock
from app.reconcile.watch import events_since, watched


async def upgrade(t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, previous: int) -> int:
    since, started = events_since(), time.monotonic()
    seconds = budget.for_helm(share=0.5)
    await emit("upgrade", f"helm upgrade {t.release} from revision {previous} (timeout {seconds:.0f}s)")
    work = helm_apply(t, kit, seconds, verb="upgrade", rollback_on_failure=True)
    try:
        revision = await watched(t, kit, emit, "upgrade", since, work)
    except errors.ClusterUnreachable:
        raise
    except errors.StoreplaneError as exc:
        restored = await _restore(t, kit, emit, budget, previous)
        raise type(exc)(f"{exc.message} ({restored})") from exc
    await emit("upgrade", f"revision {revision} is deployed and ready{budget.since(started)}")
    return revision


async def _restore(t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, previous: int) -> str:
    """Make sure the store runs `previous` again after a failed upgrade; says what happened."""
    try:
        observed = await observe(t, kit)
        if observed.state is ReleaseState.STALE_PENDING:
            await unlock(t, observed, kit, emit)
            observed = await observe(t, kit)
        latest = observed.latest
        if observed.state is ReleaseState.DEPLOYED and latest is not None:
            message = f"rolled back: revision {latest.revision} runs revision {previous}'s configuration"
        else:
            await kit.helm.rollback(t.release, t.namespace, previous, timeout=budget.for_helm())
            message = f"rolled back to revision {previous}"
    except errors.StoreplaneError as exc:
        message = f"the rollback to revision {previous} failed too: {exc.message}"
    await emit("upgrade", message)
    return message
