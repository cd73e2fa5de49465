"""Admission and authorization are the real thing: quotas, limit ranges, Pod Security, RBAC and
ValidatingAdmissionPolicy accept and refuse exactly as Kubernetes does."""

import json

import pytest

from app.simcluster.client import CommandFailed
from tests.cluster.simcluster import manifests
from tests.cluster.simcluster.helpers import eventually

RESTRICTED_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def apply(cluster, namespace, *objects):
    return cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifests.as_input(*objects))


def test_quota_usage_is_computed_and_a_pod_over_quota_is_rejected(cluster, namespace):
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "store"},
        "spec": {"hard": {"pods": "2", "requests.cpu": "1", "limits.memory": "256Mi"}},
    }
    apply(cluster, namespace, quota)
    eventually(
        lambda: cluster.kubectl_json("get", "resourcequota", "store", "-n", namespace)["status"].get("used"),
        what="quota status computed",
    )
    apply(cluster, namespace, manifests.pod("one"))
    used = eventually(
        lambda: (
            cluster.kubectl_json("get", "resourcequota", "store", "-n", namespace)["status"]["used"]
            if cluster.kubectl_json("get", "resourcequota", "store", "-n", namespace)["status"]["used"][
                "pods"
            ]
            == "1"
            else None
        ),
        what="quota counts the pod",
    )
    assert used["requests.cpu"] == "50m"
    assert used["limits.memory"] == "64Mi"

    greedy = manifests.pod(
        "greedy", resources={"requests": {"cpu": "2"}, "limits": {"cpu": "2", "memory": "64Mi"}}
    )
    with pytest.raises(CommandFailed) as refused:
        apply(cluster, namespace, greedy)
    assert "exceeded quota: store" in refused.value.stderr
    assert "requests.cpu" in refused.value.stderr


def test_limit_range_defaults_are_applied_to_a_pod_without_resources(cluster, namespace):
    limits = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "defaults"},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "300m", "memory": "128Mi"},
                    "defaultRequest": {"cpu": "100m", "memory": "64Mi"},
                }
            ]
        },
    }
    apply(cluster, namespace, limits)
    apply(cluster, namespace, manifests.pod("bare", resources=False))
    resources = cluster.kubectl_json("get", "pod", "bare", "-n", namespace)["spec"]["containers"][0][
        "resources"
    ]
    assert resources == {
        "limits": {"cpu": "300m", "memory": "128Mi"},
        "requests": {"cpu": "100m", "memory": "64Mi"},
    }


def test_pod_security_restricted_rejects_a_root_pod_and_admits_a_hardened_one(cluster, namespace):
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    with pytest.raises(CommandFailed) as refused:
        apply(cluster, namespace, manifests.pod("rooty"))
    assert 'violates PodSecurity "restricted:latest"' in refused.value.stderr
    hardened = manifests.pod("hardened", securityContext=RESTRICTED_SECURITY)
    assert "pod/hardened created" in apply(cluster, namespace, hardened)


def test_rbac_denies_an_impersonated_service_account_without_rights(cluster, namespace):
    cluster.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    who = f"system:serviceaccount:{namespace}:nobody"
    assert (
        cluster.kubectl(
            "auth", "can-i", "create", "deployments", "-n", namespace, "--as", who, check=False
        ).strip()
        == "no"
    )
    with pytest.raises(CommandFailed) as denied:
        cluster.kubectl("get", "secrets", "-n", namespace, "--as", who)
    assert "Forbidden" in denied.value.stderr

    cluster.kubectl("create", "role", "reader", "--verb=get,list", "--resource=secrets", "-n", namespace)
    cluster.kubectl(
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        f"--serviceaccount={namespace}:nobody",
        "-n",
        namespace,
    )
    eventually(
        lambda: (
            cluster.kubectl(
                "auth", "can-i", "list", "secrets", "-n", namespace, "--as", who, check=False
            ).strip()
            == "yes"
        ),
        what="the role binding takes effect",
    )


def test_a_validating_admission_policy_rejects_what_it_should(cluster, namespace):
    name = f"deny-unlabelled-{namespace}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
                    "message": "configmaps need a team label",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
            },
        },
    }
    cluster.kubectl("apply", "-f", "-", input=manifests.as_input(policy, binding))
    try:
        unlabelled = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}}
        # Policies are loaded asynchronously; the first refusal proves the binding is live.
        refusal = eventually(
            lambda: _refused(cluster, namespace, unlabelled), what="the policy to be enforced"
        )
        assert "configmaps need a team label" in refusal
        labelled = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ok", "labels": {"team": "a"}},
        }
        assert "created" in apply(cluster, namespace, labelled)
    finally:
        cluster.kubectl(
            "delete",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [binding, policy]}),
        )


def _refused(cluster, namespace, obj) -> str:
    try:
        cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(obj))
    except CommandFailed as error:
        return error.stderr
    cluster.kubectl("delete", "configmap", obj["metadata"]["name"], "-n", namespace)
    return ""
