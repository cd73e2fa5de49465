"""Repair: apply the store's deployed revision again, restoring what was changed or deleted by hand
(drift, app/fleet/drift.py). It is `helm rollback <revision> --force-conflicts`: a new revision with
that revision's chart, values and manifest, which takes back fields another field manager changed
(kubectl scale, edit, patch) and recreates missing objects; objects that are not in the release are
left alone. The new revision is then waited for like any other (ready.settle, slot given back).

The revision's description names the job, so a repair retried after a crash recognises the revision
it already wrote and waits for it instead of writing another.
"""

from __future__ import annotations

import time

from app import errors
from app.reconcile.ready import settle
from app.reconcile.state import Observation, applied_by, job_marker, observe
from app.reconcile.target import Budget, EventSink, Slot, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.watch import events_since, watched


async def repair(
    t: StoreTarget,
    kit: Toolkit,
    emit: EventSink,
    budget: Budget,
    observed: Observation,
    revision: int,
    slot: Slot,
) -> int:
    latest = observed.latest
    if latest is not None and applied_by(latest, t.job_id):
        since = events_since()
        await emit("repair", f"resuming: revision {latest.revision} was applied by this job; waiting for it")
        await settle(
            t, kit, emit, slot, action="repair", revision=latest.revision, since=since, budget=budget
        )
        return latest.revision
    known = [rev.revision for rev in observed.history]
    if revision not in known:
        listed = ", ".join(map(str, known)) or "none"
        raise errors.NotFound(
            f"revision {revision} is no longer in Helm's history (it has {listed}); upgrade the store instead"
        )
    since, started = events_since(), time.monotonic()
    seconds = budget.for_helm()
    await emit("repair", f"re-applying revision {revision} of {t.release} (timeout {seconds:.0f}s)")
    job = f" {job_marker(t.job_id)}" if t.job_id is not None else ""
    description = f"Storeplane: repair store {t.store_id}: revision {revision} applied again{job}"
    await watched(
        t,
        kit,
        emit,
        "repair",
        since,
        kit.helm.reapply(t.release, t.namespace, revision, timeout=seconds, description=description),
    )
    after = (await observe(t, kit)).latest
    written = after.revision if after else revision
    await settle(t, kit, emit, slot, action="repair", revision=written, since=since, budget=budget)
    took = budget.since(started)
    await emit("repair", f"revision {written} (revision {revision} again) is deployed and ready{took}")
    return written
