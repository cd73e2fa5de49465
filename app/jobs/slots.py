"""A running job's share of its worker's capacity (the `Slot` of app.reconcile.target).

A worker takes a slot before it claims a job. The store action gives the slot back while it only
waits on the cluster (`async with slot.waiting("pods to become ready"): …`) and takes it back when it
has work to do again. Giving back is recorded in the job row (`waiting_for`), so the global limit,
counted in the claim statement across all workers, counts only jobs that work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.orm import Session, sessionmaker

from app.jobs import queue


class WorkSlot:
    def __init__(
        self,
        slots: asyncio.Semaphore,
        factory: sessionmaker[Session],
        *,
        worker_id: str,
        global_limit: int,
        poll_seconds: float,
    ) -> None:
        self._slots, self._factory = slots, factory
        self._worker_id, self._global_limit, self._poll = worker_id, global_limit, poll_seconds
        self.job_id: int | None = None  # set once the claim succeeds
        self.held = True  # taken before claiming
        self.waiting_for: str | None = None

    def release(self) -> None:
        """The job is over: its slot goes back to the worker (if it still holds it)."""
        if self.held:
            self.held = False
            self._slots.release()

    @asynccontextmanager
    async def waiting(self, what: str) -> AsyncIterator[None]:
        assert self.job_id is not None, "a slot is only given back by a claimed job"
        await asyncio.to_thread(
            queue.start_waiting, self._factory, job_id=self.job_id, worker_id=self._worker_id, what=what
        )
        self.waiting_for = what
        self.release()
        try:
            yield
        except asyncio.CancelledError:
            raise  # the job is ending (delete, shutdown, lost lease): no slot needed for that
        except BaseException:
            await self._take_back()  # the action may handle the error with more work (a rollback)
            raise
        await self._take_back()

    async def _take_back(self) -> None:
        await self._slots.acquire()
        self.held = True
        while True:
            taken = await asyncio.to_thread(
                queue.resume_work,
                self._factory,
                job_id=self.job_id,  # type: ignore[arg-type]
                worker_id=self._worker_id,
                global_limit=self._global_limit,
            )
            # None: the lease is gone; the heartbeat is about to stop this job, nothing to wait for.
            if taken is not False:
                break
            await asyncio.sleep(self._poll)
        self.waiting_for = None
