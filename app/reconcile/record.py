"""Rewrite a revision's status in Helm's history as `failed` (app/helm/storage.py does the edit).

Two reasons, one mechanism: a stale `pending-*` revision whose helm process died (unlock.py), and a
revision helm applied that never became ready (ready.py) — Helm's own wait would have recorded it
failed, and the history must keep saying what became ready. Safe because the caller holds the
store's job: no other helm process of ours acts on the release. The Secret is replaced with the
resourceVersion we read, so a concurrent change is a retryable Conflict, never a lost write.
"""

from __future__ import annotations

import dataclasses

from app import errors
from app.helm import storage
from app.reconcile.target import EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit

APPLIED = frozenset({"deployed"})


async def rewrite_failed(
    t: StoreTarget, kit: Toolkit, revision: int, reason: str, *, from_statuses: frozenset[str]
) -> str:
    """Mark `revision` failed with `reason`; returns the status it had. Conflict if it is not in
    one of `from_statuses` any more, or changed while we edited it."""
    name = storage.secret_name(t.release, revision)
    record = await kit.kube.read_secret(t.namespace, name)
    if record is None or "release" not in record.data:
        raise errors.Conflict(f"helm's record {name} vanished; the action will be retried")
    try:
        release = storage.decode_release(record.data["release"])
        before = str(release.get("info", {}).get("status", ""))
        changed, labels = storage.mark_failed(release, record.labels, reason, from_statuses=from_statuses)
    except ValueError as exc:  # not in the expected status any more (json errors are ValueErrors too)
        raise errors.Conflict(f"cannot mark {name} failed: {exc}") from exc
    data = {**record.data, "release": storage.encode_release(changed)}
    await kit.kube.replace_secret(dataclasses.replace(record, labels=labels, data=data))
    return before


async def record_failed(t: StoreTarget, kit: Toolkit, emit: EventSink, revision: int, reason: str) -> None:
    """The applied `revision` did not become ready: say so in Helm's history (best effort: if the
    record changed meanwhile, the failure itself is what the caller reports)."""
    try:
        await rewrite_failed(t, kit, revision, reason, from_statuses=APPLIED)
    except errors.StoreplaneError as exc:
        await emit(
            "history", f"could not record revision {revision} as failed in Helm's history: {exc.message}"
        )
        return
    await emit("history", f"revision {revision} recorded as failed in Helm's history")
