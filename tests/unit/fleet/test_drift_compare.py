"""The drift comparison on API-shaped objects: what counts as a difference, what the API server adds
that does not, what is an extra, and how it reads."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from app.fleet.drift import compare, quantity


def deployment(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop-web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "web",
                            "image": "wordpress:7.1.0",
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"cpu": "1"},
                            },
                            "securityContext": {"allowPrivilegeEscalation": False},
                        }
                    ],
                }
            },
        },
    }
    obj["spec"].update(overrides)
    return obj


def policy(name: str = "shop-web", rules: int = 1) -> dict[str, Any]:
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": 80}]}] * rules,
        },
    }


def quota(pods: str = "8") -> dict[str, Any]:
    return {
        "kind": "ResourceQuota",
        "metadata": {"name": "shop-quota"},
        "spec": {"hard": {"pods": pods, "requests.cpu": "2"}},
    }


def live_of(*objects: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """As the API server returns them: server-side defaults and status added."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        served = copy.deepcopy(obj)
        served.pop("kind", None)
        served["metadata"] = {**served["metadata"], "uid": "u-1", "resourceVersion": "42"}
        if obj["kind"] == "NetworkPolicy":
            for rule in served["spec"].get("ingress", []):
                for port in rule.get("ports", []):
                    port.setdefault("protocol", "TCP")
        if obj["kind"] == "Deployment":
            served["spec"]["strategy"] = {"type": "RollingUpdate"}
            served["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = (
                "/dev/termination-log"
            )
            served["status"] = {"replicas": 1}
        found.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = served
    return found


def test_a_store_as_released_has_no_difference_whatever_the_api_server_adds():
    desired = [deployment(), policy(), quota()]
    report = compare(desired, live_of(*desired))
    assert (report.differences, report.extras, report.drifted) == ([], [], False)


def test_missing_objects_scaled_replicas_other_images_and_resources_are_differences():
    desired = [deployment(), policy("shop-default-deny"), quota()]
    changed = deployment(replicas=0)
    container = changed["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "evil:1"
    container["resources"]["limits"]["cpu"] = "3"
    report = compare(desired, live_of(changed, quota("50")))
    assert report.differences == [
        "deployment/shop-web: spec.replicas is 0; the release says 1",
        "deployment/shop-web: container web: image is evil:1; the release says wordpress:7.1.0",
        "deployment/shop-web: container web: resources.limits.cpu is 3; the release says 1",
        "networkpolicy/shop-default-deny is missing",
        "resourcequota/shop-quota: spec.hard.pods is 50; the release says 8",
    ]
    assert report.drifted


def test_quantities_compare_by_value_and_a_limit_added_by_hand_is_a_difference():
    desired = deployment()
    served = live_of(desired)
    container = served["Deployment"]["shop-web"]["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["requests"] = {"cpu": "0.25", "memory": "268435456"}  # the same, spelt otherwise
    assert compare([desired], served).differences == []
    container["resources"]["limits"]["memory"] = "8Gi"
    assert compare([desired], served).differences == [
        "deployment/shop-web: container web: resources.limits.memory is 8Gi; the release says not set"
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1Gi", Decimal(2**30)),
        ("2", Decimal(2)),
        (3, Decimal(3)),
        ("1e3", Decimal(1000)),
    ],
)
def test_quantities(text: Any, value: Decimal):
    assert quantity(text) == value
    assert quantity("wordpress:7") is None and quantity(True) is None


def test_a_rule_added_to_a_network_policy_is_a_difference_and_a_privileged_container_too():
    desired = [policy(), deployment()]
    served = live_of(policy(rules=2), deployment())
    served["Deployment"]["shop-web"]["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "privileged"
    ] = True
    served["Deployment"]["shop-web"]["spec"]["template"]["spec"]["hostNetwork"] = True
    assert compare(desired, served).differences == [
        "networkpolicy/shop-web: spec.ingress has 2 entries; the release has 1",
        "deployment/shop-web: container web: securityContext.privileged is true; the release says not set",
        "deployment/shop-web: pod hostNetwork is true; the release says not set",
    ]


def test_a_sidecar_added_by_hand_is_a_difference():
    served = live_of(deployment())
    served["Deployment"]["shop-web"]["spec"]["template"]["spec"]["containers"].append(
        {"name": "miner", "image": "x"}
    )
    assert compare([deployment()], served).differences == [
        "deployment/shop-web: container miner is not in the release"
    ]


def test_objects_outside_the_release_are_extras_unless_a_controller_or_the_platform_made_them():
    role = {"metadata": {"name": "sneaky"}, "rules": [{"verbs": ["get"], "resources": ["secrets"]}]}
    owned = {"metadata": {"name": "cm-acme-solver", "ownerReferences": [{"kind": "Challenge"}]}}
    binding = {"metadata": {"name": "storeplane-store-manager"}}
    live = live_of(deployment()) | {
        "Role": {"sneaky": role},
        "Service": {"cm-acme-solver": owned},
        "RoleBinding": {"storeplane-store-manager": binding},
        "ServiceAccount": {"default": {"metadata": {"name": "default"}}},
        "ConfigMap": {"kube-root-ca.crt": {"metadata": {"name": "kube-root-ca.crt"}}},
    }
    report = compare([deployment()], live)
    assert report.extras == ["role/sneaky is not part of the release"]
    assert not report.drifted  # an extra is reported; a repair would not remove it


def test_kinds_the_credentials_cannot_read_are_not_judged():
    desired = [{"kind": "Role", "metadata": {"name": "reader"}, "rules": []}, deployment()]
    report = compare(desired, live_of(deployment()), hidden={"Role", "RoleBinding", "ServiceAccount"})
    assert (report.differences, report.hidden) == ([], ["Role", "RoleBinding", "ServiceAccount"])


def test_many_differences_in_one_object_are_capped():
    many = deployment()
    many["spec"]["template"]["spec"]["containers"] = [
        {"name": f"c{i}", "image": "a", "resources": {}} for i in range(12)
    ]
    served = live_of(many)
    for container in served["Deployment"]["shop-web"]["spec"]["template"]["spec"]["containers"]:
        container["image"] = "b"
    lines = compare([many], served).differences
    assert len(lines) == 9 and lines[-1] == "deployment/shop-web: … and 4 more differences"
