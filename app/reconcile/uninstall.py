"""Delete: the namespace, then any PersistentVolume its claims left behind — and `helm uninstall`
first only when the release has something the namespace deletion cannot do.

Done only when the API server no longer has the namespace nor a PV bound to one of its claims.
Everything a store's release makes lives in its namespace, Helm's own record included, so
deleting the namespace removes it all, half-installed releases and objects a dead helm process
left too. `helm uninstall` adds something only for a delete hook or a cluster-scoped object
(`storage.uninstall_work`, read from the release's latest revision): then it runs first, holding
the worker slot for its few seconds. The store chart has neither, so a delete holds a slot for
no helm process at all, and waiting for the namespace controller and the volume provisioner (the
bulk of a delete) gives the slot back: a burst of deletes proceeds together. An interrupted
earlier delete (release `uninstalling`, or pending) needs no unlock: helm's uninstall does not
refuse those states, so running it again finishes the job.
"""

from __future__ import annotations

import time

from app import errors
from app.helm import storage
from app.reconcile.state import Observation, ReleaseState, release_records
from app.reconcile.target import Budget, EventSink, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit


async def uninstall(
    t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, observed: Observation, slot: Slot
) -> None:
    started = time.monotonic()
    work = await _uninstall_work(t, kit, observed)
    if observed.state is not ReleaseState.ABSENT and not work:
        await emit("uninstall", "no helm uninstall needed: no delete hook and nothing outside the namespace")
    if work:
        seconds = budget.for_helm(share=0.5)
        await emit(
            "uninstall",
            f"helm uninstall {t.release} ({'; '.join(work)}; {observed.reason}; timeout {seconds:.0f}s)",
        )
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


async def _uninstall_work(t: StoreTarget, kit: Toolkit, observed: Observation) -> list[str]:
    """Why `helm uninstall` must run before the namespace goes (empty: it need not)."""
    if observed.state is ReleaseState.ABSENT:
        return []
    if observed.state in (ReleaseState.UNINSTALLING, ReleaseState.STALE_PENDING):
        return ["an interrupted helm action is recorded"]  # let helm finish what it started
    latest = observed.latest
    records = await release_records(t, kit)
    record = next((r for r in records if latest and int(r.get("version", -1)) == latest.revision), None)
    return storage.uninstall_work(record) if record else []


async def finish_uninstall(t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget) -> None:
    """Complete an interrupted `helm uninstall` (keeps the namespace), so install can start afresh."""
    seconds = budget.for_helm(share=0.5)
    await emit("uninstall", f"finishing an interrupted helm uninstall of {t.release}")
    await kit.helm.uninstall(t.release, t.namespace, timeout=seconds)
