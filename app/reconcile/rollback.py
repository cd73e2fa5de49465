"""Rollback: a new revision carrying an earlier revision's chart and values, waited for like an upgrade
(helm applies it, ready.settle waits with the slot given back)."""

from __future__ import annotations

import time

from app import errors
from app.reconcile.ready import settle
from app.reconcile.state import Observation, observe
from app.reconcile.target import Budget, EventSink, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.watch import events_since, watched


async def rollback(
    t: StoreTarget,
    kit: Toolkit,
    emit: EventSink,
    budget: Budget,
    observed: Observation,
    revision: int,
    slot: Slot,
) -> int:
    known = [rev.revision for rev in observed.history]
    if revision not in known:
        listed = ", ".join(map(str, known)) or "none"
        raise errors.NotFound(f"revision {revision} does not exist; the store has revisions: {listed}")
    since, started = events_since(), time.monotonic()
    seconds = budget.for_helm()
    await emit("rollback", f"helm rollback {t.release} to revision {revision} (timeout {seconds:.0f}s)")
    await watched(
        t, kit, emit, "rollback", since, kit.helm.rollback(t.release, t.namespace, revision, timeout=seconds)
    )
    after = (await observe(t, kit)).latest
    latest = after.revision if after else revision
    await settle(t, kit, emit, slot, action="rollback", revision=latest, since=since, budget=budget)
    await emit(
        "rollback",
        f"revision {latest} (a copy of revision {revision}) is deployed and ready{budget.since(started)}",
    )
    return latest
