"""Store actions: observe the release → decide → act, until the store is where the action wants it.

The job runner calls these (contract in docs/design.md). Each call holds the store's job, which is
what makes a `pending-*` release stale. Each raises app.errors.RetryableError (try again later) or
PermanentError (the message says why, concretely). `settings` is for tests and tools; the job
runner leaves it out and gets app.settings.get_settings().
"""

from __future__ import annotations

from app import errors
from app.fleet.versions import RunningVersion
from app.helm import Revision, storage
from app.reconcile import install as _install
from app.reconcile import repair as _repair
from app.reconcile import rollback as _rollback
from app.reconcile import uninstall as _uninstall
from app.reconcile import upgrade as _upgrade
from app.reconcile import verify as _verify
from app.reconcile.ready import settle
from app.reconcile.running import running_version
from app.reconcile.state import Observation, ReleaseState, applied_by, classify, observe, release_records
from app.reconcile.target import Budget, EventSink, NoSlot, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit, toolkit
from app.reconcile.unlock import unlock
from app.reconcile.watch import events_since
from app.settings import Settings

__all__ = [
    "EventSink",
    "NoSlot",
    "ReleaseState",
    "Revision",
    "Slot",
    "StoreTarget",
    "delete",
    "history",
    "provision",
    "repair",
    "revision_values",
    "rollback",
    "running",
    "upgrade",
    "verify",
]

# Each round observes and acts once; unlock or finishing an uninstall takes one round, the real
# action another. More rounds mean the release keeps changing under us: give up, retry later.
MAX_ROUNDS = 4


async def provision(
    t: StoreTarget,
    *,
    emit: EventSink,
    timeout: float,
    slot: Slot | None = None,
    settings: Settings | None = None,
) -> int:
    """Make the store exist and be ready; returns its deployed revision. Idempotent: a retry after
    a crash adopts what exists, and an applied release is waited for rather than applied again."""
    return await _apply(t, emit, timeout, slot or NoSlot(), settings, provisioning=True)


async def upgrade(
    t: StoreTarget,
    *,
    emit: EventSink,
    timeout: float,
    slot: Slot | None = None,
    settings: Settings | None = None,
) -> int:
    """Apply the current chart and values as a new revision; returns it."""
    return await _apply(t, emit, timeout, slot or NoSlot(), settings, provisioning=False)


async def _apply(
    t: StoreTarget,
    emit: EventSink,
    timeout: float,
    slot: Slot,
    settings: Settings | None,
    *,
    provisioning: bool,
) -> int:
    """Install, or upgrade from the last deployed revision. A deployed latest revision is waited
    for, not applied again, when it is already what was asked for: a provision finds its store
    applied (a retry), or this very job applied it before it was interrupted (its id is in the
    revision's description)."""
    kit, budget = toolkit(settings), Budget(timeout)
    await _ensure_namespace(t, kit, emit)
    for _ in range(MAX_ROUNDS):
        observed = await observe(t, kit)
        latest = observed.latest
        if observed.state is ReleaseState.DEPLOYED and latest is not None:
            if provisioning:
                await emit("provision", f"already applied: {observed.reason}; checking that it is ready")
                await settle(
                    t, kit, emit, slot, action="provision", revision=latest.revision,
                    since=events_since(), budget=budget,
                )  # fmt: skip
                return latest.revision
            if applied_by(latest, t.job_id):
                before = [r.revision for r in observed.history[:-1] if r.status in {"deployed", "superseded"}]
                previous = before[-1] if before else None
                return await _upgrade.resume(t, kit, emit, budget, latest.revision, previous, slot)
        if not await _cleared(t, kit, emit, budget, observed):
            continue
        if observed.deployed_revision is not None:
            return await _upgrade.upgrade(t, kit, emit, budget, observed.deployed_revision, slot)
        return await _install.install(t, kit, emit, budget, slot)
    raise _unsettled(t)


async def rollback(
    t: StoreTarget,
    revision: int,
    *,
    emit: EventSink,
    timeout: float,
    slot: Slot | None = None,
    settings: Settings | None = None,
) -> int:
    """Roll the store back to `revision` (a new revision copying it); returns the new revision."""
    kit, budget = toolkit(settings), Budget(timeout)
    observed = await _existing_release(t, kit, emit, budget, "roll back")
    return await _rollback.rollback(t, kit, emit, budget, observed, revision, slot or NoSlot())


async def repair(
    t: StoreTarget,
    revision: int,
    *,
    emit: EventSink,
    timeout: float,
    slot: Slot | None = None,
    settings: Settings | None = None,
) -> int:
    """Apply the store's deployed `revision` again (drift repair); returns the new revision."""
    kit, budget = toolkit(settings), Budget(timeout)
    observed = await _existing_release(t, kit, emit, budget, "repair")
    return await _repair.repair(t, kit, emit, budget, observed, revision, slot or NoSlot())


async def _existing_release(
    t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, verb: str
) -> Observation:
    """The store's release once nothing else holds it (a stale lock cleared); NotFound if it has none."""
    await _require_namespace(t, kit, verb)
    for _ in range(MAX_ROUNDS):
        observed = await observe(t, kit)
        if observed.state is ReleaseState.ABSENT:
            raise errors.NotFound(f"store {t.name} has no release to {verb} ({observed.reason})")
        if await _cleared(t, kit, emit, budget, observed):
            return observed
    raise _unsettled(t)


async def running(t: StoreTarget, revision: int, *, settings: Settings | None = None) -> RunningVersion:
    """What `revision` runs: chart version, engine version, digest of the values (Helm's record)."""
    return await running_version(t, toolkit(settings), revision)


async def verify(
    t: StoreTarget,
    *,
    emit: EventSink,
    timeout: float,
    slot: Slot | None = None,
    settings: Settings | None = None,
) -> None:
    """Run the store's helm tests; PermanentError with the failing test's output if one fails.
    `helm test` is a helm process for the whole test, so verify keeps its slot (the test is short:
    one order through the store's API)."""
    kit, budget = toolkit(settings), Budget(timeout)
    await _require_namespace(t, kit, "verify")
    await _verify.verify(t, kit, emit, budget, await observe(t, kit))


async def delete(
    t: StoreTarget,
    *,
    emit: EventSink,
    timeout: float,
    slot: Slot | None = None,
    settings: Settings | None = None,
) -> None:
    """Remove the store: release, namespace, volumes. Returns only when they are gone."""
    kit, budget = toolkit(settings), Budget(timeout)
    phase = await kit.kube.namespace_phase(t.namespace)
    if phase == "Active":
        # Adopt it as the store's (refusing a foreign one) and, under least privilege, make sure
        # our RoleBinding there is in force: a crash may have come between namespace and binding.
        await kit.kube.ensure_store_namespace(t.namespace, store_id=t.store_id, owner=t.owner)
        observed = await observe(t, kit)
    else:
        # Absent, or already terminating: nothing helm could do that the namespace deletion won't.
        observed = classify([])
    await _uninstall.uninstall(t, kit, emit, budget, observed, slot or NoSlot())


async def history(t: StoreTarget, *, settings: Settings | None = None) -> list[Revision]:
    """The release's revisions, oldest first (empty if there is no release)."""
    kit = toolkit(settings)
    if not await kit.kube.namespace_exists(t.namespace):
        return []  # and helm, without rights in a namespace that does not exist, would be refused
    return await kit.helm.history(t.release, t.namespace)


async def revision_values(t: StoreTarget, revision: int, *, settings: Settings | None = None) -> dict | None:  # type: ignore[type-arg]
    """The values the store was given at `revision` (None if Helm no longer keeps it): what a rollback
    to it would serve again, e.g. its linked domains."""
    kit = toolkit(settings)
    if not await kit.kube.namespace_exists(t.namespace):
        return None
    return storage.values_of(await release_records(t, kit), revision)


async def _ensure_namespace(t: StoreTarget, kit: Toolkit, emit: EventSink) -> None:
    created = await kit.kube.ensure_store_namespace(t.namespace, store_id=t.store_id, owner=t.owner)
    if created:
        await emit("namespace", f"created namespace {t.namespace}")


async def _cleared(
    t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, observed: Observation
) -> bool:
    """Remove what blocks any action (a stale lock, a half-done uninstall); False if we acted and
    the release must be observed again."""
    match observed.state:
        case ReleaseState.STALE_PENDING:
            await unlock(t, observed, kit, emit)
            return False
        case ReleaseState.UNINSTALLING:
            await _uninstall.finish_uninstall(t, kit, emit, budget)
            return False
    return True


async def _require_namespace(t: StoreTarget, kit: Toolkit, action: str) -> None:
    phase = await kit.kube.namespace_phase(t.namespace)
    if phase != "Active":
        state = "is being deleted" if phase else "does not exist"
        raise errors.NotFound(f"cannot {action} store {t.name}: its namespace {t.namespace} {state}")


def _unsettled(t: StoreTarget) -> errors.Conflict:
    return errors.Conflict(f"the release of store {t.name} kept changing while we acted on it; will retry")
