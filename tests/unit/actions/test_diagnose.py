"""Why a store is not ready, from objects shaped like the API's (lightkube models from dicts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, Pod

from app.kube.diagnose import Diagnosis, Finding, explain

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def pod(name: str, *, phase: str = "Pending", owned: bool = True, **status: Any) -> Pod:
    meta: dict[str, Any] = {"name": name, "namespace": "store-s-1"}
    if owned:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": True}
        ]
    return Pod.from_dict({"metadata": meta, "spec": {"containers": []}, "status": {"phase": phase, **status}})


def waiting(container: str, reason: str, message: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "name": container,
        "image": f"registry.example/{container}:1",
        "imageID": "",
        "ready": False,
        "restartCount": extra.pop("restarts", 0),
        "state": {"waiting": {"reason": reason, "message": message}},
        **extra,
    }


def event(
    reason: str, message: str, *, kind: str = "Pod", name: str = "web-1-abc", when: datetime = NOW
) -> Event:
    return Event.from_dict(
        {
            "metadata": {"name": f"{name}.{reason}", "namespace": "store-s-1"},
            "involvedObject": {"kind": kind, "name": name, "namespace": "store-s-1"},
            "reason": reason,
            "message": message,
            "type": "Normal" if reason == "TriggeredScaleUp" else "Warning",
            "lastTimestamp": when.isoformat(),
        }
    )


def failed_job(name: str = "shop-setup-1", when: datetime = NOW) -> Job:
    return Job.from_dict(
        {
            "metadata": {"name": name, "namespace": "store-s-1"},
            "spec": {"template": {"spec": {"containers": []}}},
            "status": {
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                        "lastTransitionTime": when.isoformat(),
                    }
                ]
            },
        }
    )


def test_an_image_that_cannot_be_pulled_is_a_permanent_finding_naming_the_image() -> None:
    p = pod("web-1-abc", containerStatuses=[waiting("web", "ImagePullBackOff", 'Back-off pulling image "x"')])
    assert explain([p], [], []) == [
        Finding(
            "ImagePullBackOff",
            "pod/web-1-abc",
            'cannot pull image registry.example/web:1 for container web: Back-off pulling image "x"',
            permanent=True,
        )
    ]


def test_a_crash_loop_reports_restarts_and_the_last_exit() -> None:
    status = waiting(
        "web",
        "CrashLoopBackOff",
        restarts=5,
        lastState={"terminated": {"exitCode": 255, "reason": "Error"}},
    )
    (finding,) = explain([pod("web-1-abc", phase="Running", containerStatuses=[status])], [], [])
    assert finding.reason == "CrashLoopBackOff"
    assert finding.message == "container web keeps crashing after 5 restarts; last exit code 255 (Error)"


def test_no_node_that_fits_is_permanent_but_waiting_for_a_volume_or_a_new_node_is_not() -> None:
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu.",
    }
    volume = {
        **unschedulable,
        "message": "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
    }
    findings = explain(
        [
            pod("web-1-abc", conditions=[unschedulable]),
            pod("db-0", conditions=[volume]),
            pod("web-1-new", conditions=[unschedulable]),
        ],
        [event("TriggeredScaleUp", "pod triggered scale-up", name="web-1-new")],
        [],
    )
    assert [(f.subject, f.permanent) for f in findings] == [
        ("pod/web-1-abc", True),
        ("pod/db-0", False),
        ("pod/web-1-new", False),
    ]
    assert findings[0].message == "0/3 nodes are available: 3 Insufficient cpu."


def test_a_quota_refusal_reported_on_the_replicaset_is_permanent() -> None:
    refusal = event(
        "FailedCreate",
        'Error creating: pods "web-1-x" is forbidden: exceeded quota: compute, requested: requests.cpu=2',
        kind="ReplicaSet",
        name="web-1",
    )
    (finding,) = explain([], [refusal], [])
    assert (finding.reason, finding.subject, finding.permanent) == ("QuotaExceeded", "replicaset/web-1", True)


def test_a_pod_security_refusal_is_permanent() -> None:
    refusal = event(
        "FailedCreate",
        'Error creating: pods "web" is forbidden: violates PodSecurity "restricted:latest": '
        "runAsNonRoot != true",
        kind="ReplicaSet",
        name="web-1",
    )
    assert explain([], [refusal], [])[0].reason == "PodSecurity"


def test_a_failed_setup_job_carries_its_last_log_lines() -> None:
    logs = {"shop-setup-1": [f"line {i}\n" for i in range(30)]}
    (finding,) = explain([], [], [failed_job()], logs)
    assert finding.subject == "job/shop-setup-1"
    assert finding.message.startswith(
        "failed (BackoffLimitExceeded: Job has reached the specified backoff limit)"
    )
    assert finding.message.endswith("last log lines: " + " | ".join(f"line {i}" for i in range(20, 30)))


def test_a_failed_test_pod_reports_how_its_container_ended() -> None:
    ended = {
        "name": "order",
        "image": "wpcli",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 1, "reason": "Error", "message": "no order id returned"}},
    }
    test_pod = pod("shop-order-test", phase="Failed", owned=False, containerStatuses=[ended])
    (finding,) = explain([test_pod], [], [])
    assert finding.sentence() == (
        "pod/shop-order-test: PodFailed: container order exited with code 1 (Error): no order id returned"
    )


def test_events_older_than_the_attempt_are_ignored() -> None:
    old = event("FailedCreate", "exceeded quota: compute", kind="ReplicaSet", name="web-1", when=NOW)
    assert explain([], [old], [], since=datetime(2026, 11, 25, 21, 0, tzinfo=UTC)) == []


def test_a_scheduling_failure_of_a_pod_that_got_a_node_since_is_ignored() -> None:
    scheduled = pod("web-1-abc", phase="Running", conditions=[{"type": "PodScheduled", "status": "True"}])
    assert explain([scheduled], [event("FailedScheduling", "0/3 nodes are available")], []) == []


def test_the_summary_puts_permanent_causes_first() -> None:
    diagnosis = Diagnosis(
        "store-s-1",
        [
            Finding("FailedMount", "pod/db-0", "timed out waiting for volume", permanent=False),
            Finding("QuotaExceeded", "replicaset/web-1", "exceeded quota: compute", permanent=True),
        ],
    )
    assert diagnosis.permanent
    assert diagnosis.summary() == (
        "replicaset/web-1: QuotaExceeded: exceeded quota: compute; "
        "pod/db-0: FailedMount: timed out waiting for volume"
    )
    assert Diagnosis("store-s-1").summary() == "nothing in namespace store-s-1 reports a failure"


def test_a_job_or_test_pod_that_failed_in_an_earlier_attempt_is_not_this_attempts_cause() -> None:
    later = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    old_test = pod("shop-order-test", phase="Failed", owned=False, startTime=NOW.isoformat())
    assert explain([old_test], [], [failed_job(when=NOW)], since=later) == []
    assert [f.reason for f in explain([old_test], [], [failed_job(when=NOW)], since=NOW)] == [
        "JobFailed",
        "PodFailed",
    ]


def test_a_controller_that_lost_an_update_race_and_retries_is_not_a_cause() -> None:
    race = event(
        "FailedUpdate",
        "Update Pod db-0 in StatefulSet db failed error: could not update claim data-db-0 for delete "
        'policy ownerRefs: Operation cannot be fulfilled on persistentvolumeclaims "data-db-0": the '
        "object has been modified; please apply your changes to the latest version and try again",
        kind="StatefulSet",
        name="db",
    )
    assert explain([], [race], []) == []
