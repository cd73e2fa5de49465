"""What the job runner hands the store actions (the contract in docs/design.md)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from app import errors

EventSink = Callable[[str, str], Awaitable[None]]  # (step, message) -> appended to store events


@dataclass(frozen=True)
class StoreTarget:
    store_id: str  # stable id, e.g. "s-3f9a1c2b"
    name: str  # DNS-1123 label chosen by the user
    owner: str  # user name
    engine: str  # "woocommerce" | "medusa"
    namespace: str  # "store-<store_id>", derived deterministically
    release: str  # helm release name (== name)
    host: str  # "<name>.<base_domain>"
    values: dict[str, Any] = field(default_factory=dict)  # extra chart values (upgrade)
    # The job acting on the store, if any: named in the Helm revisions it writes, so that a retry
    # of the same job after a crash recognises its own revision instead of writing another one.
    job_id: int | None = None
    extra_hosts: tuple[str, ...] = ()  # verified custom domains the release serves besides `host`
    primary_host: str = ""  # the host served as primary ("" = `host`); every other host redirects

    def __post_init__(self) -> None:
        # The actions delete what lives in `namespace`: refuse anything but a store namespace.
        if self.namespace != f"store-{self.store_id}":
            raise ValueError(f"namespace {self.namespace!r} must be 'store-{self.store_id}'")


class Slot(Protocol):
    """The action's share of its worker's capacity. An action holds its slot while it works (helm
    rendering and applying, API writes) and gives it back for as long as it only waits."""

    def waiting(self, what: str) -> AbstractAsyncContextManager[None]:
        """Give the slot back for the body of the `async with`; take it back afterwards."""
        ...


class NoSlot:
    """Outside a worker (tests, tools) there is no capacity to give back."""

    @asynccontextmanager
    async def waiting(self, what: str) -> AsyncIterator[None]:
        yield


class Budget:
    """The action's time budget: helm gets what is left minus a margin kept for diagnosis/cleanup."""

    MARGIN = 10.0
    MINIMUM = 5.0

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("timeout must be positive")
        self.total = seconds
        self._deadline = time.monotonic() + seconds

    def since(self, started: float) -> str:
        """' in 12.3s': how long a step that began at `started` (time.monotonic()) took."""
        return f" in {time.monotonic() - started:.1f}s"

    def remaining(self) -> float:
        return self._deadline - time.monotonic()

    def for_helm(self, share: float = 1.0) -> float:
        """Seconds to give one helm command (`share` of what is left after the margin)."""
        left = (self.remaining() - min(self.MARGIN, self.total * 0.2)) * share
        if left < self.MINIMUM:
            raise errors.StillProgressing(
                f"the action ran out of time ({self.total:.0f}s budget); it will be retried"
            )
        return left
