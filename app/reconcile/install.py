"""Install: first `upgrade --install` of a store, or a new attempt over a failed one.

Helm applies (seconds, holding the worker slot), then ready.settle waits for the revision with the
slot given back. Nothing is rolled back on failure: on a first install Helm's "rollback" would be an
uninstall, deleting the very pods, events and Job logs that say why the store failed, and the next
attempt has to start from nothing anyway. The failed revision stays; the retry upgrades over it and
adopts the objects already created (same names, so no duplicates), and delete removes the namespace.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from app.reconcile.ready import settle
from app.reconcile.state import job_marker
from app.reconcile.target import Budget, EventSink, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.values import chart_values
from app.reconcile.watch import events_since, watched


async def install(t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, slot: Slot) -> int:
    since, started = events_since(), time.monotonic()
    seconds = budget.for_helm()
    await emit("install", f"helm upgrade --install {t.release} (timeout {seconds:.0f}s)")
    revision = await watched(t, kit, emit, "install", since, helm_apply(t, kit, seconds, verb="install"))
    await settle(t, kit, emit, slot, action="install", revision=revision, since=since, budget=budget)
    await emit("install", f"revision {revision} is deployed and ready{budget.since(started)}")
    return revision


def helm_apply(t: StoreTarget, kit: Toolkit, seconds: float, *, verb: str) -> Coroutine[Any, Any, int]:
    """`helm upgrade --install` of the store chart with the store's values (install and upgrade).
    The description names the job, so that a retry of it recognises the revision as its own."""
    job = f" {job_marker(t.job_id)}" if t.job_id is not None else ""
    return kit.helm.install_or_upgrade(
        t.release,
        t.namespace,
        kit.settings.store_chart,
        chart_values(t, kit.settings),
        timeout=seconds,
        action=verb,
        chart_version=kit.settings.store_chart_version,
        description=f"Storeplane: {verb} store {t.store_id}{job}",
    )
