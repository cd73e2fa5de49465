"""The control plane reports the pinned versions and its fake nodes are Ready and schedulable."""

import json

from tests.cluster.simcluster.helpers import eventually


def test_every_fake_node_is_ready_with_realistic_allocatable(cluster):
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    assert len(nodes) >= 3
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True", node["metadata"]["name"]
        allocatable = node["status"]["allocatable"]
        assert allocatable["cpu"] == "16"
        assert allocatable["memory"] == "64Gi"
        assert allocatable["pods"] == "110"
        assert not node["spec"].get("taints")


def test_kubectl_and_apiserver_report_the_pinned_kubernetes_version(cluster):
    pins = dict(
        line.split("=", 1) for line in (cluster.bin_dir / "versions.env").read_text().split() if "=" in line
    )
    versions = json.loads(cluster.kubectl("version", "-o", "json"))
    assert versions["clientVersion"]["gitVersion"] == pins["K8S_VERSION"]
    assert versions["serverVersion"]["gitVersion"] == pins["K8S_VERSION"]


def test_helm_is_the_pinned_v4(cluster):
    pins = dict(
        line.split("=", 1) for line in (cluster.bin_dir / "versions.env").read_text().split() if "=" in line
    )
    assert cluster.helm("version", "--short").startswith(pins["HELM_VERSION"])


def test_there_is_one_default_storage_class(cluster):
    classes = cluster.kubectl_json("get", "storageclass")["items"]
    defaults = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    assert defaults == ["kwok-volume"]


def test_the_controller_manager_publishes_the_root_ca_into_new_namespaces(cluster, namespace):
    eventually(
        lambda: cluster.kubectl("get", "configmap", "kube-root-ca.crt", "-n", namespace, check=False),
        what="kube-root-ca.crt in the new namespace",
    )
