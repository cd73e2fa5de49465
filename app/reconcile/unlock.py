"""Unlock a stale pending release: rewrite its latest revision as failed (see app/helm/storage.py).

Precondition: the caller holds the store's job, so no other helm process acts on this release.
Postcondition: the latest revision is `failed` and any helm action may proceed; every object the
dead process created is still there, to be adopted by the next upgrade.
"""

from __future__ import annotations

import dataclasses

from app import errors
from app.helm import storage
from app.reconcile.state import Observation
from app.reconcile.target import EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit


async def unlock(t: StoreTarget, observed: Observation, kit: Toolkit, emit: EventSink) -> None:
    latest = observed.latest
    if latest is None:
        raise errors.PermanentError("there is no release revision to unlock")
    name = storage.secret_name(t.release, latest.revision)
    record = await kit.kube.read_secret(t.namespace, name)
    if record is None or "release" not in record.data:
        raise errors.Conflict(f"helm's record {name} vanished while unlocking; the action will be retried")
    reason = f"Release unlocked by Storeplane from stale '{latest.status}' state (its helm process died)"
    try:
        release = storage.decode_release(record.data["release"])
        changed, labels = storage.mark_failed(release, record.labels, reason)
    except ValueError as exc:  # not pending any more (json errors are ValueErrors too)
        raise errors.Conflict(f"cannot unlock {name}: {exc}") from exc
    data = {**record.data, "release": storage.encode_release(changed)}
    # Same resourceVersion: if anything changed the record since we read it, this is a Conflict.
    await kit.kube.replace_secret(dataclasses.replace(record, labels=labels, data=data))
    await emit(
        "unlock", f"revision {latest.revision} was stuck in {latest.status}; marked failed to continue"
    )
