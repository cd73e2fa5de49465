"""Verify: `helm test`, the store's own proof that an order can be placed (DESIGN.md §1.3).
In the simulated cluster test pods "succeed" without running: there it proves the wiring only."""

from __future__ import annotations

import time

from app import errors
from app.reconcile.state import Observation, ReleaseState
from app.reconcile.target import Budget, EventSink, StoreTarget
from app.reconcile.toolkit import Toolkit
from app.reconcile.watch import events_since, watched

# Verify's result on the simulated cluster, where no container runs (issue 11).
SIMULATED_RESULT = "Kubernetes and Helm checks passed; nothing ran in containers"


async def verify(
    t: StoreTarget, kit: Toolkit, emit: EventSink, budget: Budget, observed: Observation
) -> None:
    if observed.state is not ReleaseState.DEPLOYED:
        raise errors.PermanentError(f"cannot verify the store: {observed.reason}; fix or upgrade it first")
    since, started = events_since(), time.monotonic()
    seconds = budget.for_helm()
    await emit("verify", f"helm test {t.release} (timeout {seconds:.0f}s)")
    report = await watched(
        t, kit, emit, "verify", since, kit.helm.test(t.release, t.namespace, timeout=seconds)
    )
    suites = ", ".join(_suites(report)) or "the chart has no tests"
    if await kit.kube.simulated():
        # KWOK marks the test pod Succeeded without running it: no order was placed.
        await emit("verify", f"{SIMULATED_RESULT}{budget.since(started)} ({suites})")
    else:
        await emit("verify", f"store verified{budget.since(started)}: {suites}")


def _suites(report: str) -> list[str]:
    """'TEST SUITE: x' / 'Phase: Succeeded' pairs of helm's report as 'x Succeeded'."""
    suites, name = [], ""
    for line in report.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "TEST SUITE":
            name = value.strip()
        elif key.strip() == "Phase" and name:
            suites.append(f"{name} {value.strip()}")
            name = ""
    return suites
