# ruff: noqa: ASYNC109 - `timeout` is handed to Helm (its own --timeout), as the contract says.
"""The boundary between the job runner and the store actions (docs/design.md, "Contract").

The runner only sees this protocol; `app.reconcile` implements it against Helm and Kubernetes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.errors import StoreplaneError
from app.fleet.versions import RunningVersion
from app.jobs.outcome import StoreSnapshot
from app.settings import Settings

log = logging.getLogger("storeplane.worker")

EventSink = Callable[[str, str], Awaitable[None]]


class StoreActions(Protocol):
    """`slot` (app.jobs.slots.WorkSlot) is given back by the action while it only waits."""

    async def provision(self, t: Any, *, emit: EventSink, timeout: float, slot: Any) -> int: ...
    async def upgrade(self, t: Any, *, emit: EventSink, timeout: float, slot: Any) -> int: ...
    async def rollback(self, t: Any, revision: int, *, emit: EventSink, timeout: float, slot: Any) -> int: ...
    async def verify(self, t: Any, *, emit: EventSink, timeout: float, slot: Any) -> None: ...
    async def delete(self, t: Any, *, emit: EventSink, timeout: float, slot: Any) -> None: ...
    async def repair(self, t: Any, revision: int, *, emit: EventSink, timeout: float, slot: Any) -> int: ...
    async def running(self, t: Any, revision: int) -> RunningVersion: ...


@dataclass(frozen=True)
class Applied:
    """What an action that deploys a revision leaves: the revision, and what it runs (None when it
    could not be read; the sweep reads it again later)."""

    revision: int
    version: RunningVersion | None


# (the store as the job found it, the acting job's id if any) -> the target the actions take
TargetFactory = Callable[[StoreSnapshot, int | None], Any]


class _WithSettings:
    """app.reconcile's functions with this worker's settings, rather than the process-wide ones."""

    def __init__(self, module: Any, settings: Settings) -> None:
        self._module, self._settings = module, settings

    def __getattr__(self, name: str) -> Any:
        return functools.partial(getattr(self._module, name), settings=self._settings)


def reconcile_actions(settings: Settings) -> tuple[StoreActions, TargetFactory]:
    """The real actions and their StoreTarget (imported late: unit tests of the queue never load Helm)."""
    import app.reconcile as reconcile

    def target(s: StoreSnapshot, job_id: int | None = None) -> Any:
        return reconcile.StoreTarget(
            store_id=s.id,
            name=s.name,
            owner=s.owner,
            engine=s.engine,
            namespace=s.namespace,
            release=s.name,
            host=s.host,
            values=s.chart_values,
            job_id=job_id,
            extra_hosts=s.extra_hosts,
            primary_host=s.primary_host,
        )

    return _WithSettings(reconcile, settings), target  # type: ignore[return-value]


async def dispatch(
    actions: StoreActions,
    kind: str,
    target: Any,
    args: dict[str, Any],
    *,
    emit: EventSink,
    timeout: float,
    slot: Any,
) -> Applied | None:
    """Run the action for `kind`; for actions that deploy a revision, returns it and what it runs."""
    match kind:
        case "provision":
            revision = await actions.provision(target, emit=emit, timeout=timeout, slot=slot)
        case "upgrade" | "domains":
            # A domain change is an upgrade whose values carry the store's domains (StoreSnapshot).
            revision = await actions.upgrade(target, emit=emit, timeout=timeout, slot=slot)
        case "rollback":
            revision = await actions.rollback(
                target, int(args["revision"]), emit=emit, timeout=timeout, slot=slot
            )
        case "repair":
            revision = await actions.repair(
                target, int(args["revision"]), emit=emit, timeout=timeout, slot=slot
            )
        case "verify":
            await actions.verify(target, emit=emit, timeout=timeout, slot=slot)
            return None
        case "delete":
            await actions.delete(target, emit=emit, timeout=timeout, slot=slot)
            return None
        case _:
            raise ValueError(f"unknown job kind {kind!r}")
    return Applied(revision, await _running(actions, target, revision))


async def _running(actions: StoreActions, target: Any, revision: int) -> RunningVersion | None:
    """One read of Helm's record; a failure here must not fail an action that succeeded."""
    try:
        return await actions.running(target, revision)
    except StoreplaneError as exc:
        log.warning("could not read what revision %s runs: %s", revision, exc.message)
        return None
