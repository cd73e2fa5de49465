"""Install: first `upgrade --install` of a store, or a new attempt over a failed one.

No `--rollback-on-failure` here. On a first install Helm's "rollback" is an uninstall: it would
delete the very pods, events and Job logs that say why the store failed, and the next attempt has
to start from nothing anyway. We keep the failed release; the retry upgrades over it and adopts the
objects already created (same names, so no duplicates), and delete removes the whole namespace.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from app.reconcile.target import Budget, EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.values import chart_values
from app.reconcile.watch import events_since, watched


async def install(t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget) -> int:
    since, started = events_since(), time.monotonic()
    seconds = budget.for_helm()
    await emit("install", f"helm upgrade --install {t.release} (timeout {seconds:.0f}s)")
    work = helm_apply(t, kit, seconds, verb="install", rollback_on_failure=False)
    revision = await watched(t, kit, emit, "install", since, work)
    await emit("install", f"revision {revision} is deployed and ready{budget.since(started)}")
    return revision


def helm_apply(
    t: StoreTarget, kit: Toolkit, seconds: float, *, verb: str, rollback_on_failure: bool
) -> Coroutine[Any, Any, int]:
    """`helm upgrade --install` of the store chart with the store's values (install and upgrade)."""
    return kit.helm.install_or_upgrade(
        t.release,
        t.namespace,
        kit.settings.store_chart,
        chart_values(t, kit.settings),
        timeout=seconds,
        rollback_on_failure=rollback_on_failure,
        chart_version=kit.settings.store_chart_version,
        description=f"Storeplane: {verb} store {t.store_id}",
    )
