"""When a cause has persisted long enough to stop helm early."""

from __future__ import annotations

import time

from app.kube import Diagnosis, Finding
from app.reconcile.watch import persisting


def diagnosis(*reasons: str) -> Diagnosis:
    return Diagnosis("store-s-1", [Finding(r, "pod/web", "…", permanent=True) for r in reasons])


def test_a_failed_job_stops_helm_at_once() -> None:
    assert persisting(diagnosis("JobFailed"), {})


def test_unschedulable_pods_stop_helm_only_after_their_grace_period() -> None:
    first_seen: dict[str, float] = {}
    assert not persisting(diagnosis("FailedScheduling"), first_seen)
    first_seen["FailedScheduling"] = time.monotonic() - 31  # as if first seen 31 s ago
    assert persisting(diagnosis("FailedScheduling"), first_seen)


def test_a_cause_that_went_away_starts_its_clock_again() -> None:
    first_seen = {"QuotaExceeded": time.monotonic() - 600}
    assert not persisting(diagnosis(), first_seen)
    assert first_seen == {}


def test_transient_findings_never_stop_helm() -> None:
    transient = Diagnosis("store-s-1", [Finding("FailedMount", "pod/db-0", "…", permanent=False)])
    assert not persisting(transient, {"FailedMount": 0.0})
