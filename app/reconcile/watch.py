"""Run a helm action while watching the namespace, and turn its failure into a concrete reason.

Helm's kstatus wait only knows "not ready yet" until its timeout. Meanwhile we read the namespace
every few seconds; a cause that waiting cannot fix (quota exceeded, a failed setup Job, an image
that cannot be pulled, no node that fits the pod), seen continuously for its grace period, stops
helm early. Helm gets SIGTERM, so it records the release as failed rather than pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from app import errors
from app.kube import Diagnosis
from app.reconcile.target import EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit

T = TypeVar("T")

POLL_SECONDS = 5.0
# Seconds a cause must persist before we stop helm. Zero-grace causes never fix themselves; the
# others may (a registry hiccup, pods of the previous revision still holding quota mid-rollout).
FATAL_GRACE = {
    "JobFailed": 0.0,
    "PodSecurity": 0.0,
    "InvalidImageName": 0.0,
    "QuotaExceeded": 20.0,
    "FailedScheduling": 30.0,
    "ImagePullBackOff": 60.0,
    "ErrImagePull": 60.0,
}


# Events are stamped by the API server's clock, in whole seconds; allow for a little skew with ours.
CLOCK_SKEW = timedelta(seconds=5)


def events_since() -> datetime:
    """The cut-off for events that belong to an action starting now (older ones are ignored)."""
    return datetime.now(UTC).replace(microsecond=0) - CLOCK_SKEW


async def watched(
    t: StoreTarget, kit: Toolkit, emit: EventSink, action: str, since: datetime, work: Awaitable[T]
) -> T:
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    first_seen: dict[str, float] = {}
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=POLL_SECONDS)
            if task.done():
                break
            try:
                diagnosis = await kit.kube.diagnose(t.namespace, since)
            except errors.RetryableError:
                continue  # helm will meet the same trouble and say so
            fatal = persisting(diagnosis, first_seen)
            if fatal:
                await _stop(task)
                await emit(action, f"stopped helm early: {diagnosis.summary()}")
                raise errors.StoreNotReady(f"{action} cannot succeed: {diagnosis.summary()}")
    finally:
        await _stop(task)
    try:
        return task.result()
    except (errors.StillProgressing, errors.StoreNotReady, errors.PermanentError) as exc:
        raise await explain(t, kit, action, since, exc) from exc


def persisting(diagnosis: Diagnosis, first_seen: dict[str, float]) -> bool:
    """Has a permanent cause been seen for at least its grace? `first_seen` carries the clock
    between readings (reason → when first seen); a cause that goes away restarts its clock."""
    now = time.monotonic()
    current = {f.reason for f in diagnosis.findings if f.permanent and f.reason in FATAL_GRACE}
    for reason in list(first_seen):
        if reason not in current:
            del first_seen[reason]  # it went away: the clock starts again if it comes back
    for reason in current:
        first_seen.setdefault(reason, now)
    return any(now - first_seen[reason] >= FATAL_GRACE[reason] for reason in current)


async def _stop(task: asyncio.Future[T]) -> None:
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, errors.StoreplaneError):
        await task


async def explain(
    t: StoreTarget, kit: Toolkit, action: str, since: datetime, failure: errors.StoreplaneError
) -> errors.StoreplaneError:
    """The helm failure, made concrete by what the namespace says; permanent if the cause is."""
    try:
        diagnosis = await kit.kube.diagnose(t.namespace, since)
    except errors.StoreplaneError:
        return failure
    if diagnosis.permanent:
        return errors.StoreNotReady(f"{action} failed: {diagnosis.summary()}")
    if diagnosis.findings:
        return type(failure)(f"{failure.message}; {diagnosis.summary()}")
    return failure
