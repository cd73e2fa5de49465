"""Delete: helm uninstall, then the namespace, then any PersistentVolume its claims left behind.

Done only when the API server no longer has the namespace nor a PV bound to one of its claims.
`helm uninstall` (seconds) holds the worker slot; waiting for the namespace controller and the
volume provisioner (the bulk of a delete) gives it back, so a burst of deletes proceeds together.
`helm uninstall` runs the chart's delete hooks and removes what the chart made; the namespace
deletion catches everything else (a half-installed release, objects a dead helm process left).
An interrupted earlier delete (release `uninstalling`, or pending) needs no unlock: helm's
uninstall does not refuse those states, so running it again finishes the job.
"""

from __future__ import annotations

import time

from app import errors
from app.reconcile.state import Observation, ReleaseState
from app.reconcile.target import Budget, EventSink, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit


async def uninstall(
    t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, observed: Observation, slot: Slot
) -> None:
    started = time.monotonic()
    if observed.state is not ReleaseState.ABSENT:
        seconds = budget.for_helm(share=0.5)
        await emit("uninstall", f"helm uninstall {t.release} ({observed.reason}; timeout {seconds:.0f}s)")
        try:
            await kit.helm.uninstall(t.release, t.namespace, timeout=seconds)
        except (errors.ClusterUnreachable, errors.Conflict):
            raise
        except errors.StoreplaneError as exc:
            # Deleting the namespace removes whatever helm could not; say so and carry on.
            await emit(
                "uninstall", f"helm uninstall did not finish ({exc.message}); deleting the namespace anyway"
            )
    volumes = await kit.kube.volumes_of(t.namespace)
    await emit("namespace", f"deleting namespace {t.namespace} and waiting until it is gone")
    async with slot.waiting(f"namespace {t.namespace} to go away"):
        await kit.kube.delete_namespace(
            t.namespace, timeout=max(budget.remaining(), 1.0), store_id=t.store_id, volumes_known=volumes
        )
    if volumes:
        await emit("volumes", f"persistent volumes of the store are gone: {', '.join(volumes)}")
    await emit("delete", f"namespace {t.namespace} is gone and no persistent volume of it is left")
    await emit("delete", f"store deleted{budget.since(started)}")


async def finish_uninstall(t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget) -> None:
    """Complete an interrupted `helm uninstall` (keeps the namespace), so install can start afresh."""
    seconds = budget.for_helm(share=0.5)
    await emit("uninstall", f"finishing an interrupted helm uninstall of {t.release}")
    await kit.helm.uninstall(t.release, t.namespace, timeout=seconds)
