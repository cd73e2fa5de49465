"""Workloads behave as on a real cluster where Storeplane relies on it: rollouts, volumes, Jobs and
namespace deletion that takes every volume with it."""

import time

from tests.cluster.simcluster import manifests
from tests.cluster.simcluster.helpers import eventually


def apply(cluster, namespace, *objects):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifests.as_input(*objects))


def test_a_deployment_becomes_available_with_ready_pods(cluster, namespace):
    apply(cluster, namespace, manifests.deployment("web", replicas=2))
    cluster.kubectl("wait", "-n", namespace, "deployment/web", "--for=condition=Available", "--timeout=60s")
    pods = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert all(p["spec"]["nodeName"].startswith("sim-node-") for p in pods)


def test_a_statefulset_gets_a_bound_claim_and_a_ready_pod(cluster, namespace):
    apply(cluster, namespace, manifests.statefulset("db", storage="2Gi"))
    cluster.kubectl(
        "wait", "-n", namespace, "pvc/data-db-0", "--for=jsonpath={.status.phase}=Bound", "--timeout=60s"
    )
    cluster.kubectl("rollout", "status", "-n", namespace, "statefulset/db", "--timeout=60s")
    pvc = cluster.kubectl_json("get", "pvc", "data-db-0", "-n", namespace)
    pv = cluster.kubectl_json("get", "pv", pvc["spec"]["volumeName"])
    assert pv["spec"]["capacity"]["storage"] == "2Gi"
    assert pv["spec"]["claimRef"]["namespace"] == namespace


def test_a_job_completes(cluster, namespace):
    apply(cluster, namespace, manifests.job("setup"))
    cluster.kubectl("wait", "-n", namespace, "job/setup", "--for=condition=Complete", "--timeout=60s")
    assert cluster.kubectl_json("get", "job", "setup", "-n", namespace)["status"]["succeeded"] == 1


def test_a_pod_marked_to_fail_makes_its_job_fail(cluster, namespace):
    job = manifests.job("broken")
    job["spec"]["template"]["metadata"] = {
        "annotations": {"sim.storeplane.io/exit-code": "3", "sim.storeplane.io/message": "step 2 failed"}
    }
    apply(cluster, namespace, job)
    cluster.kubectl("wait", "-n", namespace, "job/broken", "--for=condition=Failed", "--timeout=60s")
    pod = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", "job-name=broken")["items"][0]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3
    assert terminated["message"] == "step 2 failed"


def test_deleting_a_namespace_removes_everything_and_leaves_no_volume(cluster):
    namespace = "t-teardown"
    cluster.kubectl("create", "namespace", namespace)
    apply(
        cluster,
        namespace,
        manifests.deployment("web"),
        manifests.statefulset("db"),
        manifests.job("setup"),
    )
    cluster.kubectl("rollout", "status", "-n", namespace, "statefulset/db", "--timeout=60s")
    cluster.kubectl("wait", "-n", namespace, "job/setup", "--for=condition=Complete", "--timeout=60s")
    volume = cluster.kubectl_json("get", "pvc", "data-db-0", "-n", namespace)["spec"]["volumeName"]

    started = time.monotonic()
    cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=60s")
    assert time.monotonic() - started < 60
    assert cluster.kubectl("get", "namespace", namespace, check=False) == ""
    eventually(
        lambda: volume not in cluster.kubectl("get", "pv", "-o", "name"), timeout=30, what=f"{volume} removed"
    )
