"""Upgrade: a new revision of a store that has a deployed one, with `--rollback-on-failure`.

A store that was Ready should keep serving its last good revision when the new one cannot become
ready, so here helm rolls back by itself on failure. Helm then waits twice (the upgrade, then the
rollback) with the same `--timeout`, so each gets half of the budget. The failed revision stays in
the history, and the error says the store was returned to its previous revision.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app import errors
from app.reconcile.target import Budget, EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.values import chart_values
from app.reconcile.watch import watched


async def upgrade(t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, previous: int) -> int:
    since = datetime.now(UTC).replace(microsecond=0)
    seconds = budget.for_helm(share=0.5)
    await emit("upgrade", f"helm upgrade {t.release} from revision {previous} (timeout {seconds:.0f}s)")
    work = kit.helm.install_or_upgrade(
        t.release,
        t.namespace,
        kit.settings.store_chart,
        chart_values(t, kit.settings),
        timeout=seconds,
        rollback_on_failure=True,
        chart_version=kit.settings.store_chart_version,
        description=f"Storeplane: upgrade store {t.store_id}",
    )
    try:
        revision = await watched(t, kit, emit, "upgrade", since, work)
    except errors.StoreplaneError as exc:
        if isinstance(exc, errors.ClusterUnreachable):
            raise
        raise type(exc)(f"{exc.message} (rolled back: the store keeps serving revision {previous})") from exc
    await emit("upgrade", f"revision {revision} is deployed and ready")
    return revision
