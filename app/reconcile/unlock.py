"""Unlock a stale pending release: rewrite its latest revision as failed (see record.py).

Precondition: the caller holds the store's job, so no helm process of ours acts on this release —
and any helm still running on this machine for it (a worker that died without taking its helm
child along) is stopped first. Postcondition: the latest revision is `failed` and any helm action
may proceed; every object the dead process created is still there, to be adopted by the next
upgrade.
"""

from __future__ import annotations

import asyncio

from app import errors
from app.helm.processes import helm_processes_for, stop_processes
from app.helm.storage import PENDING_STATUSES
from app.reconcile.record import rewrite_failed
from app.reconcile.state import Observation
from app.reconcile.target import EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit

STOP_GRACE_SECONDS = 20.0


async def unlock(t: StoreTarget, observed: Observation, kit: Toolkit, emit: EventSink) -> None:
    latest = observed.latest
    if latest is None:
        raise errors.PermanentError("there is no release revision to unlock")
    leftover = await asyncio.to_thread(helm_processes_for, t.namespace)
    if leftover:
        # Stopped with SIGTERM, helm records the release failed itself; the caller observes again.
        await emit("unlock", f"stopping helm process(es) {leftover} still acting on {t.namespace}")
        await asyncio.to_thread(stop_processes, leftover, grace=STOP_GRACE_SECONDS)
        return
    reason = f"Release unlocked by Storeplane from stale '{latest.status}' state (its helm process died)"
    await rewrite_failed(t, kit, latest.revision, reason, from_statuses=PENDING_STATUSES)
    await emit(
        "unlock", f"revision {latest.revision} was stuck in {latest.status}; marked failed to continue"
    )
