"""When a release's objects count as ready: the kstatus rules we apply ourselves instead of
helm's `--wait` (objects shaped like the API's, lightkube models from dicts)."""

from __future__ import annotations

from typing import Any

from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod

from app.helm.storage import manifest_objects
from app.kube.readiness import ObjectRef, assess


def meta(name: str, generation: int = 2) -> dict[str, Any]:
    return {"name": name, "namespace": "store-s-1", "generation": generation}


def deployment(name: str = "web", *, observed: int = 2, **status: Any) -> Deployment:
    return Deployment.from_dict(
        {
            "metadata": meta(name),
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": observed, **status},
        }
    )


def statefulset(name: str = "db", **status: Any) -> StatefulSet:
    return StatefulSet.from_dict(
        {
            "metadata": meta(name),
            "spec": {"replicas": 1, "selector": {}, "serviceName": "db", "template": {}},
            "status": {"observedGeneration": 2, "replicas": 1, **status},
        }
    )


def job(name: str = "setup-1a2b", *conditions: str, active: int = 0) -> Job:
    return Job.from_dict(
        {
            "metadata": meta(name),
            "spec": {"template": {}},
            "status": {"active": active, "conditions": [{"type": c, "status": "True"} for c in conditions]},
        }
    )


DEPLOY, STS, JOB = (
    ObjectRef("Deployment", "web"),
    ObjectRef("StatefulSet", "db"),
    ObjectRef("Job", "setup-1a2b"),
)
READY_DEPLOYMENT = deployment(replicas=1, updatedReplicas=1, availableReplicas=1, readyReplicas=1)
READY_STS = statefulset(readyReplicas=1, currentRevision="db-1", updateRevision="db-1", updatedReplicas=1)


def test_a_revision_is_ready_when_every_workload_is_current_and_the_job_has_completed() -> None:
    found = {
        "Deployment": [READY_DEPLOYMENT],
        "StatefulSet": [READY_STS],
        "Job": [job("setup-1a2b", "Complete")],
    }
    verdict = assess([DEPLOY, STS, JOB, ObjectRef("Service", "web")], found)
    assert verdict.ready and verdict.summary() == "every object is ready"


def test_a_deployment_whose_controller_has_not_seen_the_new_spec_is_not_ready() -> None:
    stale = deployment(observed=1, replicas=1, updatedReplicas=1, availableReplicas=1)
    assert assess([DEPLOY], {"Deployment": [stale]}).pending == [
        "deployment/web: the controller has not seen the latest spec yet"
    ]


def test_a_rolling_deployment_waits_for_its_old_replicas_to_go() -> None:
    rolling = deployment(replicas=2, updatedReplicas=1, availableReplicas=1)
    assert assess([DEPLOY], {"Deployment": [rolling]}).pending == [
        "deployment/web: 1 old replica(s) still terminating"
    ]


def test_an_unavailable_deployment_says_how_many_replicas_are_available() -> None:
    starting = deployment(replicas=1, updatedReplicas=1, availableReplicas=0)
    assert assess([DEPLOY], {"Deployment": [starting]}).pending == ["deployment/web: 0/1 available"]


def test_a_statefulset_waits_for_its_replicas_to_reach_the_update_revision() -> None:
    old = statefulset(readyReplicas=1, currentRevision="db-1", updateRevision="db-2", updatedReplicas=0)
    assert assess([STS], {"StatefulSet": [old]}).pending == [
        "statefulset/db: 0/1 replicas on the new revision"
    ]
    unready = statefulset(readyReplicas=0, currentRevision="db-2", updateRevision="db-2")
    assert assess([STS], {"StatefulSet": [unready]}).pending == ["statefulset/db: 0/1 ready"]


def test_a_job_is_ready_only_once_complete() -> None:
    assert assess([JOB], {"Job": [job(active=1)]}).pending == ["job/setup-1a2b: running (1 active pod)"]
    assert assess([JOB], {"Job": [job("setup-1a2b", "Failed")]}).pending == ["job/setup-1a2b: failed"]
    assert assess([JOB], {"Job": []}).pending == ["job/setup-1a2b: missing"]


def test_claims_must_be_bound_and_bare_pods_ready_or_succeeded() -> None:
    claim = PersistentVolumeClaim.from_dict({"metadata": meta("data"), "status": {"phase": "Pending"}})
    done = Pod.from_dict(
        {"metadata": meta("probe"), "spec": {"containers": []}, "status": {"phase": "Succeeded"}}
    )
    refs = [ObjectRef("PersistentVolumeClaim", "data"), ObjectRef("Pod", "probe")]
    assert assess(refs, {"PersistentVolumeClaim": [claim], "Pod": [done]}).pending == [
        "persistentvolumeclaim/data: pending, not bound"
    ]


def test_the_objects_of_a_revision_come_from_its_manifest_without_its_hooks() -> None:
    manifest = (
        "---\nkind: Deployment\nmetadata:\n  name: web\n---\n# empty\n"
        "---\nkind: Service\nmetadata: {name: web}\n"
    )
    record = {"manifest": manifest, "hooks": [{"name": "order-test", "kind": "Pod"}]}
    assert manifest_objects(record) == [("Deployment", "web"), ("Service", "web")]


def test_helm_uninstall_is_needed_only_for_delete_hooks_and_cluster_scoped_objects() -> None:
    from app.helm.storage import uninstall_work

    manifest = "kind: Deployment\nmetadata: {name: web}\n---\nkind: Service\nmetadata: {name: web}\n"
    store = {"manifest": manifest}
    assert uninstall_work(store) == []
    hooked = {**store, "hooks": [{"kind": "Job", "name": "bye", "events": ["pre-delete"]}]}
    assert uninstall_work(hooked) == ["Job bye is a pre-delete hook"]
    tested = {**store, "hooks": [{"kind": "Pod", "name": "order-test", "events": ["test"]}]}
    assert uninstall_work(tested) == []
    wide = {"manifest": "kind: ClusterRole\nmetadata: {name: reader}\n"}
    assert uninstall_work(wide) == ["ClusterRole reader is cluster-scoped"]
