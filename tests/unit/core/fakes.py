"""An in-memory stand-in for app.reconcile, at the job-runner boundary only (unit tests).

It implements the store-action contract of docs/design.md; each call takes the next scripted
outcome for (store name, action): an exception to raise, "block" to wait for `release` while
holding the slot, "wait" to wait for `release` after giving the slot back (as a real action does
while pods start), or nothing to succeed. It counts how many actions run at once, and how many of
them work (hold their slot) at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from app.fleet.versions import RunningVersion
from app.jobs.outcome import StoreSnapshot


class FakeActions:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.script: dict[tuple[str, str], list[Any]] = defaultdict(list)
        self.calls: list[tuple[str, str]] = []
        self.timeouts: list[float] = []
        self.active = 0
        self.max_active = 0
        self.working = 0
        self.max_working = 0
        self.release = asyncio.Event()
        self.started = asyncio.Event()  # set once any action has begun
        self.cancelled: list[tuple[str, str]] = []
        self.revisions: dict[str, int] = defaultdict(int)
        # What a store runs after an action deploys a revision (`running`): set `version` to the
        # version the fake "chart" deploys now; `versions` remembers it per store and revision.
        self.version = RunningVersion("0.1.0", "1.0", "0" * 12)
        self.versions: dict[tuple[str, int], RunningVersion] = {}

    def then(self, name: str, action: str, *outcomes: Any) -> FakeActions:
        self.script[(name, action)].extend(outcomes)
        return self

    async def _run(self, action: str, t: StoreSnapshot, emit: Any, limit: float, slot: Any) -> None:
        self.calls.append((t.name, action))
        self.timeouts.append(limit)
        self.active += 1
        self._work(+1)
        self.started.set()
        self.max_active = max(self.max_active, self.active)
        try:
            await emit(action, f"fake {action} of {t.name}")
            outcome = self.script[(t.name, action)].pop(0) if self.script[(t.name, action)] else None
            if self.delay:
                await asyncio.sleep(self.delay)
            if outcome == "block":
                await self.release.wait()
            elif outcome == "wait":
                self._work(-1)
                try:
                    async with slot.waiting(f"fake {action} of {t.name}"):
                        await self.release.wait()
                finally:
                    self._work(+1)
            elif isinstance(outcome, BaseException):
                raise outcome
        except asyncio.CancelledError:
            self.cancelled.append((t.name, action))
            raise
        finally:
            self.active -= 1
            self._work(-1)

    def _work(self, step: int) -> None:
        self.working += step
        self.max_working = max(self.max_working, self.working)

    async def provision(self, t: StoreSnapshot, *, emit: Any, timeout: float, slot: Any = None) -> int:  # noqa: ASYNC109
        await self._run("provision", t, emit, timeout, slot)
        self.revisions[t.name] += 1
        return self.revisions[t.name]

    async def upgrade(self, t: StoreSnapshot, *, emit: Any, timeout: float, slot: Any = None) -> int:  # noqa: ASYNC109
        await self._run("upgrade", t, emit, timeout, slot)
        self.revisions[t.name] += 1
        return self.revisions[t.name]

    async def rollback(
        self,
        t: StoreSnapshot,
        revision: int,
        *,
        emit: Any,
        timeout: float,  # noqa: ASYNC109
        slot: Any = None,
    ) -> int:
        await self._run("rollback", t, emit, timeout, slot)
        self.revisions[t.name] += 1
        return self.revisions[t.name]

    async def repair(
        self,
        t: StoreSnapshot,
        revision: int,
        *,
        emit: Any,
        timeout: float,  # noqa: ASYNC109
        slot: Any = None,
    ) -> int:
        await self._run("repair", t, emit, timeout, slot)
        self.revisions[t.name] += 1
        return self.revisions[t.name]

    async def running(self, t: StoreSnapshot, revision: int) -> RunningVersion:
        return self.versions.setdefault((t.name, revision), self.version)

    async def verify(self, t: StoreSnapshot, *, emit: Any, timeout: float, slot: Any = None) -> None:  # noqa: ASYNC109
        await self._run("verify", t, emit, timeout, slot)

    async def delete(self, t: StoreSnapshot, *, emit: Any, timeout: float, slot: Any = None) -> None:  # noqa: ASYNC109
        await self._run("delete", t, emit, timeout, slot)


def same_snapshot(snapshot: StoreSnapshot, job_id: int | None = None) -> StoreSnapshot:
    """The fake takes the job's snapshot as its target."""
    return snapshot
