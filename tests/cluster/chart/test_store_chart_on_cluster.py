"""The store chart on the simulated cluster with the real helm v4: install into a namespace that
enforces Pod Security "restricted", quota, upgrade, rollback, helm test, uninstall.

KWOK runs no container: pods turn Ready and Job pods Succeed without any image being pulled. These
tests therefore prove admission (PSA, quota, LimitRange), scheduling, Helm hooks and ordering,
volume binding and cleanup; they prove nothing about WordPress, MariaDB or the order script running.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from app.simcluster.client import ClusterClient, CommandFailed
from tests.cluster.simcluster.helpers import eventually
from tests.unit.chart.render import CHART, VALUES_DIR, helm, quantity

RELEASE = "shop"
LOCAL_VALUES = str(VALUES_DIR / "stores-local.yaml")


@pytest.fixture
def store_ns(cluster: ClusterClient) -> Iterator[str]:
    """A namespace like the orchestrator makes: managed labels and PSA restricted enforced."""
    name = f"store-t{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl(
        "label",
        "namespace",
        name,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
        "pod-security.kubernetes.io/warn=restricted",
        "app.kubernetes.io/managed-by=storeplane",
    )
    yield name
    cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=120s")


def install(cluster: ClusterClient, namespace: str, *extra: str) -> str:
    return cluster.helm(
        "upgrade",
        "--install",
        RELEASE,
        str(CHART),
        "-n",
        namespace,
        "-f",
        LOCAL_VALUES,
        "--wait",
        "--timeout",
        "180s",
        *extra,
    )


def items(cluster: ClusterClient, kind: str, namespace: str, *selector: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", kind, "-n", namespace, *selector)["items"]


def condition(obj: dict[str, Any], kind: str) -> str | None:
    return next((c["status"] for c in obj["status"].get("conditions", []) if c["type"] == kind), None)


def secret_data(cluster: ClusterClient, namespace: str) -> dict[str, str]:
    return cluster.kubectl_json("get", "secret", f"{RELEASE}-credentials", "-n", namespace)["data"]


def setup_env(cluster: ClusterClient, namespace: str) -> dict[str, str]:
    """Environment of the setup hook of the current revision, as Helm recorded and ran it."""
    hooks = yaml.safe_load_all(cluster.helm("get", "hooks", RELEASE, "-n", namespace))
    job = next(h for h in hooks if h and h["kind"] == "Job")
    return {e["name"]: e.get("value", "") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


def setup_last_run(cluster: ClusterClient, namespace: str) -> dict[str, str]:
    status = json.loads(cluster.helm("status", RELEASE, "-n", namespace, "-o", "json"))
    return next(h["last_run"] for h in status["hooks"] if h["kind"] == "Job")


def events(cluster: ClusterClient, namespace: str, kind: str, reason: str) -> list[dict[str, Any]]:
    selector = f"involvedObject.kind={kind},reason={reason}"
    return items(cluster, "events", namespace, "--field-selector", selector)


def restricted_pod(name: str, **overrides: Any) -> str:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "c",
                    "image": "registry.invalid/pause:1",
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "10m", "memory": "16Mi"},
                    },
                }
            ],
        },
    }
    pod["spec"].update(overrides)
    return json.dumps(pod)


def test_install_in_a_restricted_namespace_is_ready_bound_complete_and_inside_the_quota(cluster, store_ns):
    out = install(cluster, store_ns)
    assert "STATUS: deployed" in out

    pods = items(cluster, "pods", store_ns)
    running = [
        p for p in pods if p["metadata"]["labels"]["app.kubernetes.io/component"] in ("web", "database")
    ]
    assert len(running) == 2
    assert all(condition(p, "Ready") == "True" for p in running), [p["status"] for p in running]

    claims = items(cluster, "pvc", store_ns)
    assert sorted(c["metadata"]["name"] for c in claims) == [
        f"data-{RELEASE}-mariadb-0",
        f"{RELEASE}-wordpress",
    ]
    assert all(c["status"]["phase"] == "Bound" for c in claims)

    # Helm waited for the setup hook, saw it complete and deleted it (hook-succeeded).
    assert setup_last_run(cluster, store_ns)["phase"] == "Succeeded"
    # Events are recorded asynchronously: wait for them rather than race the recorder.
    completed = eventually(lambda: events(cluster, store_ns, "Job", "Completed"), what="Job Completed event")
    assert [e["involvedObject"]["name"] for e in completed] == [f"{RELEASE}-setup"]
    # It shares the ReadWriteOnce volume, so it was scheduled on the WordPress pod's node.
    web_pod = items(cluster, "pods", store_ns, "-l", "app.kubernetes.io/component=web")[0]

    def setup_scheduled() -> list[str]:
        messages = [e["message"] for e in events(cluster, store_ns, "Pod", "Scheduled")]
        return [m for m in messages if f"/{RELEASE}-setup-" in m]

    scheduled = eventually(setup_scheduled, what="setup pod Scheduled event")
    assert len(scheduled) == 1
    assert scheduled[0].endswith(f" to {web_pod['spec']['nodeName']}")
    assert cluster.kubectl("get", "jobs", "-n", store_ns, "-o", "name") == ""

    def settled_quota() -> dict[str, Any] | None:
        # Usage of the finished setup pod is released by the quota controller's next sync.
        quota = cluster.kubectl_json("get", "resourcequota", f"{RELEASE}-quota", "-n", store_ns)
        return quota if quota["status"].get("used", {}).get("pods") == "2" else None

    quota = eventually(settled_quota, what="quota usage of the two running pods")
    hard, used = quota["status"]["hard"], quota["status"]["used"]
    assert set(used) == set(hard)
    for key in hard:
        assert quantity(used[key]) < quantity(hard[key]), f"{key}: {used[key]} of {hard[key]}"
    assert used["persistentvolumeclaims"] == "2"


def test_the_namespace_really_enforces_restricted(cluster, store_ns):
    # Proves the install above passed PSA "restricted" rather than an unlabelled namespace.
    with pytest.raises(CommandFailed) as refused:
        cluster.kubectl(
            "create",
            "-n",
            store_ns,
            "-f",
            "-",
            input=restricted_pod("root", securityContext={"runAsUser": 0}),
        )
    assert 'violates PodSecurity "restricted' in refused.value.stderr


def test_one_pod_beyond_the_quota_is_rejected(cluster, store_ns):
    install(cluster, store_ns)
    hard = int(
        cluster.kubectl_json("get", "resourcequota", f"{RELEASE}-quota", "-n", store_ns)["spec"]["hard"][
            "pods"
        ]
    )
    used = len(
        [p for p in items(cluster, "pods", store_ns) if p["status"]["phase"] not in ("Succeeded", "Failed")]
    )
    for i in range(hard - used):
        cluster.kubectl("create", "-n", store_ns, "-f", "-", input=restricted_pod(f"filler-{i}"))

    with pytest.raises(CommandFailed) as refused:
        cluster.kubectl("create", "-n", store_ns, "-f", "-", input=restricted_pod("one-too-many"))
    assert "exceeded quota" in refused.value.stderr
    assert f"limited: pods={hard}" in refused.value.stderr


def test_a_container_above_the_limit_range_is_rejected(cluster, store_ns):
    install(cluster, store_ns)
    greedy = json.loads(restricted_pod("greedy"))
    greedy["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "8", "memory": "16Mi"}
    with pytest.raises(CommandFailed) as refused:
        cluster.kubectl("create", "-n", store_ns, "-f", "-", input=json.dumps(greedy))
    assert "maximum cpu usage per Container is 2" in refused.value.stderr


def test_upgrade_keeps_generated_secrets_and_rollback_restores_previous_values(cluster, store_ns):
    install(cluster, store_ns)
    generated = secret_data(cluster, store_ns)
    admin_password = base64.b64decode(generated["admin-password"])
    assert len(admin_password) == 32

    first_run = setup_last_run(cluster, store_ns)

    install(
        cluster,
        store_ns,
        "--set",
        "storeName=Renamed Shop",
        "--set",
        "woocommerce.product.regularPrice=24.50",
    )
    assert secret_data(cluster, store_ns) == generated
    env = setup_env(cluster, store_ns)
    assert (env["STORE_TITLE"], env["PRODUCT_PRICE"]) == ("Renamed Shop", "24.50")
    assert json.loads(cluster.helm("get", "values", RELEASE, "-n", store_ns, "-o", "json"))["storeName"] == (
        "Renamed Shop"
    )

    upgrade_run = setup_last_run(cluster, store_ns)
    assert upgrade_run["phase"] == "Succeeded" and upgrade_run["started_at"] != first_run["started_at"]

    cluster.helm("rollback", RELEASE, "1", "-n", store_ns, "--wait", "--timeout", "180s")
    values = json.loads(cluster.helm("get", "values", RELEASE, "-n", store_ns, "-o", "json"))
    assert "storeName" not in values
    # The setup hook ran again for the rollback, with the restored values.
    rollback_run = setup_last_run(cluster, store_ns)
    assert rollback_run["phase"] == "Succeeded" and rollback_run["started_at"] != upgrade_run["started_at"]
    env = setup_env(cluster, store_ns)
    assert (env["STORE_TITLE"], env["PRODUCT_PRICE"]) == (RELEASE, "19.99")
    assert secret_data(cluster, store_ns) == generated
    history = json.loads(cluster.helm("history", RELEASE, "-n", store_ns, "-o", "json"))
    assert [(h["revision"], h["status"]) for h in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]


def test_helm_test_runs_the_order_test_pod_inside_the_guardrails(cluster, store_ns):
    install(cluster, store_ns)
    out = cluster.helm("test", RELEASE, "-n", store_ns, "--timeout", "120s")
    assert "TEST SUITE:     shop-order-test" in out
    assert "Phase:          Succeeded" in out
    # KWOK completes the pod without running it; what is proven is that restricted PSA, the quota
    # and the LimitRange admit it. The script itself is tested in tests/unit/chart.
    pod = cluster.kubectl_json("get", "pod", f"{RELEASE}-order-test", "-n", store_ns)
    assert pod["spec"]["containers"][0]["command"] == ["bash", "/scripts/order-test.sh"]


def test_uninstall_and_namespace_delete_leave_nothing_behind(cluster, store_ns):
    install(cluster, store_ns)
    claims = items(cluster, "pvc", store_ns)
    volumes = {c["spec"]["volumeName"] for c in claims}
    assert len(volumes) == 2

    cluster.helm("uninstall", RELEASE, "-n", store_ns, "--wait", "--timeout", "120s")
    # Release objects are gone, the StatefulSet's claim included (retention policy Delete).
    eventually(lambda: items(cluster, "pvc", store_ns) == [], what="claims deleted by uninstall")
    leftovers = cluster.kubectl(
        "get",
        "deploy,sts,svc,secret,cm,ingress,networkpolicy,resourcequota,limitrange",
        "-n",
        store_ns,
        "-o",
        "name",
    ).split()
    assert [name for name in leftovers if not name.startswith("configmap/kube-root-ca.crt")] == []

    cluster.kubectl("delete", "namespace", store_ns, "--wait=true", "--timeout=120s")
    assert cluster.kubectl("get", "namespace", store_ns, "--ignore-not-found", "-o", "name") == ""

    def pvs_left() -> set[str]:
        names = cluster.kubectl("get", "pv", "-o", "jsonpath={.items[*].metadata.name}").split()
        return volumes & set(names)

    eventually(lambda: not pvs_left(), what="persistent volumes of the store deleted")


# The simulated cluster fails a pod whose annotation sim.storeplane.io/exit-code is non-zero (see
# app/simcluster/stages.yaml); the chart's podAnnotations values carry it onto the hook pods.
FAIL_SETUP = (
    "--set-string",
    r"setup.podAnnotations.sim\.storeplane\.io/exit-code=1",
    "--set-string",
    r"setup.podAnnotations.sim\.storeplane\.io/message=setup FAILED at step 'WooCommerce 11.0.1'",
)


def test_a_failed_setup_fails_the_release_naming_the_job_and_the_next_upgrade_recovers(cluster, store_ns):
    with pytest.raises(CommandFailed) as failed:
        install(cluster, store_ns, *FAIL_SETUP)
    assert f"failed post-install: resource Job/{store_ns}/{RELEASE}-setup not ready. status: Failed" in (
        failed.value.stderr
    )
    assert (
        json.loads(cluster.helm("status", RELEASE, "-n", store_ns, "-o", "json"))["info"]["status"]
        == "failed"
    )
    # The failed Job stays for its logs, bounded by backoffLimit (1 + 2 retries).
    job = cluster.kubectl_json("get", "job", f"{RELEASE}-setup", "-n", store_ns)
    assert condition(job, "Failed") == "True"
    assert job["status"]["failed"] == 3

    out = install(cluster, store_ns)

    assert "STATUS: deployed" in out
    assert setup_last_run(cluster, store_ns)["phase"] == "Succeeded"
    assert cluster.kubectl("get", "jobs", "-n", store_ns, "-o", "name") == ""


def test_a_failing_order_test_makes_helm_test_fail(cluster, store_ns):
    install(cluster, store_ns, "--set-string", r"orderTest.podAnnotations.sim\.storeplane\.io/exit-code=1")

    with pytest.raises(CommandFailed) as failed:
        cluster.helm("test", RELEASE, "-n", store_ns, "--timeout", "120s")
    assert f"{RELEASE}-order-test" in failed.value.stderr + failed.value.stdout
    pod = cluster.kubectl_json("get", "pod", f"{RELEASE}-order-test", "-n", store_ns)
    assert pod["status"]["phase"] == "Failed"


@pytest.mark.parametrize(
    ("key", "was", "now"),
    [
        ("mariadb.persistence.size", "1024Mi", "2Gi"),
        ("wordpress.persistence.size", "1Gi", "2Gi"),
        ("mariadb.persistence.storageClassName", "", "other"),
        ("wordpress.persistence.storageClassName", "", "other"),
        ("mariadb.user", "wordpress", "shopuser"),
        ("mariadb.database", "wordpress", "shop"),
    ],
)
def test_values_fixed_at_install_are_refused_on_upgrade_with_how_to_proceed(cluster, store_ns, key, was, now):
    # 1024Mi: the API server stores it as 1Gi, yet an upgrade with the same value must pass.
    install(cluster, store_ns, "--set", "mariadb.persistence.size=1024Mi")
    install(cluster, store_ns, "--set", "mariadb.persistence.size=1024Mi")
    with pytest.raises(CommandFailed) as refused:
        install(cluster, store_ns, "--set", "mariadb.persistence.size=1024Mi", "--set", f"{key}={now}")
    assert f'{key} cannot change after install (it is "{was}", the upgrade asks for "{now}")' in (
        refused.value.stderr
    )
    assert "docs/operations.md" in refused.value.stderr or "keep the old value" in refused.value.stderr
    # Refused while rendering: nothing was applied, the release stays at revision 2, deployed.
    history = json.loads(cluster.helm("history", RELEASE, "-n", store_ns, "-o", "json"))
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "deployed")]


def test_with_tls_the_quota_admits_one_acme_solver_pod_and_service_per_host(cluster, store_ns):
    install(cluster, store_ns, "-f", str(VALUES_DIR / "stores-prod.yaml"))
    # What cert-manager creates for the HTTP-01 challenge of the store's one host.
    solver = json.loads(restricted_pod("cm-acme-http-solver-x1"))
    solver["metadata"]["labels"] = {"acme.cert-manager.io/http01-solver": "true"}
    solver["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "10m", "memory": "64Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    }
    cluster.kubectl("create", "-n", store_ns, "-f", "-", input=json.dumps(solver))
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "cm-acme-http-solver-x1"},
        "spec": {"type": "NodePort", "selector": {"acme.cert-manager.io/http01-solver": "true"},
                 "ports": [{"port": 8089, "targetPort": 8089}]},
    }  # fmt: skip
    cluster.kubectl("create", "-n", store_ns, "-f", "-", input=json.dumps(service))
    policy = cluster.kubectl_json("get", "networkpolicy", f"{RELEASE}-acme-solver", "-n", store_ns)
    assert policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8089}]
    # Services: web, database, its headless Service, the solver, and the one spare; the next is refused.
    hard = cluster.kubectl_json("get", "resourcequota", f"{RELEASE}-quota", "-n", store_ns)["spec"]["hard"]
    assert (hard["pods"], hard["services"]) == ("9", "5")
    service["metadata"]["name"] = "spare"
    cluster.kubectl("create", "-n", store_ns, "-f", "-", input=json.dumps(service))
    service["metadata"]["name"] = "one-too-many"
    with pytest.raises(CommandFailed) as refused:
        cluster.kubectl("create", "-n", store_ns, "-f", "-", input=json.dumps(service))
    assert "exceeded quota" in refused.value.stderr and "services=5" in refused.value.stderr


def _render_manifest(release: str) -> str:
    result = helm(
        "template", release, str(CHART), "-n", "placeholder", "-f", str(VALUES_DIR / "stores-prod.yaml")
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_many_store_names_render_objects_the_api_server_accepts(cluster, store_ns):
    """Issue 15: an unquoted value built from the name (the Deployment's checksum annotation, the
    instance label of an all-digit name) made ~1 name in 400 fail server-side apply for good.
    Every object of 100 random stores, plus names YAML would read as numbers, is applied (server
    dry run); the unit tier checks every label and annotation value is a string."""
    tricky = ["1234", "12e4", "0x1f", "1e3-shop", "true"]
    names = tricky + [f"s{i:03d}-{secrets.token_hex(3)}" for i in range(100)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        manifests = list(pool.map(_render_manifest, names))
    for start in range(0, len(manifests), 35):  # a few kubectl calls, each a bounded request body
        cluster.kubectl(
            "apply", "--server-side", "--dry-run=server", "--field-manager=storeplane-test", "-n", store_ns,
            "-f", "-", input="\n---\n".join(manifests[start : start + 35]),
        )  # fmt: skip
