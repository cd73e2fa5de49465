"""`engine: medusa` on the simulated cluster with the real helm v4: install into a namespace that
enforces Pod Security "restricted" under the chart's quota and LimitRange, Ready, the set-up Job,
helm test, upgrade and rollback keeping the generated Secret, uninstall and namespace deletion
leaving no volume.

KWOK runs no container: this proves admission, scheduling, Helm's waits, volume binding
and cleanup. That the image runs the store is proven natively (tests/native, tests/browser)."""

from __future__ import annotations

import json

from app.simcluster.client import ClusterClient
from tests.cluster.chart.test_store_chart_on_cluster import (  # noqa: F401 - store_ns is a fixture
    RELEASE,
    condition,
    install,
    items,
    secret_data,
    setup_completed,
    store_ns,
)
from tests.cluster.simcluster.helpers import eventually
from tests.unit.chart.render import quantity

MEDUSA = ("--set", "engine=medusa")


def test_a_medusa_store_installs_ready_in_quota_tests_upgrades_rolls_back_and_leaves_nothing(
    cluster: ClusterClient,
    store_ns: str,  # noqa: F811 - the fixture imported above
) -> None:
    assert "STATUS: deployed" in install(cluster, store_ns, *MEDUSA)

    pods = items(cluster, "pods", store_ns)
    running = {
        p["metadata"]["labels"]["app.kubernetes.io/component"]: p
        for p in pods
        if p["status"]["phase"] == "Running"
    }
    assert set(running) == {"web", "database"}
    assert all(condition(p, "Ready") == "True" for p in running.values())
    assert [c["name"] for c in running["web"]["spec"]["initContainers"]] == ["migrate"]
    claims = items(cluster, "pvc", store_ns)
    assert [(c["metadata"]["name"], c["status"]["phase"]) for c in claims] == [
        (f"data-{RELEASE}-postgres-0", "Bound")
    ]
    volumes = {c["spec"]["volumeName"] for c in claims}
    setup_completed(cluster, store_ns, 1)

    def settled_quota() -> dict | None:
        quota = cluster.kubectl_json("get", "resourcequota", f"{RELEASE}-quota", "-n", store_ns)
        return quota if quota["status"].get("used", {}).get("pods") == "2" else None

    quota = eventually(settled_quota, what="quota usage of the two running pods")
    for key, used in quota["status"]["used"].items():
        assert quantity(used) < quantity(quota["status"]["hard"][key]), key

    out = cluster.helm("test", RELEASE, "-n", store_ns, "--timeout", "120s")
    assert f"TEST SUITE:     {RELEASE}-order-test" in out and "Phase:          Succeeded" in out
    test_pod = cluster.kubectl_json("get", "pod", f"{RELEASE}-order-test", "-n", store_ns)
    assert test_pod["spec"]["containers"][0]["command"] == ["node", "/scripts/order-test.mjs"]

    generated = secret_data(cluster, store_ns)
    assert set(generated) == {
        "postgres-password",
        "database-password",
        "admin-password",
        "jwt-secret",
        "cookie-secret",
    }
    install(cluster, store_ns, *MEDUSA, "--set", "medusa.product.price=24.50")
    assert secret_data(cluster, store_ns) == generated
    setup_completed(cluster, store_ns, 2)
    cluster.helm("rollback", RELEASE, "1", "-n", store_ns, "--wait", "--wait-for-jobs", "--timeout", "180s")
    setup_completed(cluster, store_ns, 1)
    values = json.loads(cluster.helm("get", "values", RELEASE, "-n", store_ns, "-o", "json"))
    assert "price" not in json.dumps(values.get("medusa", {}))
    assert secret_data(cluster, store_ns) == generated
    history = json.loads(cluster.helm("history", RELEASE, "-n", store_ns, "-o", "json"))
    assert [h["status"] for h in history] == ["superseded", "superseded", "deployed"]

    cluster.helm("uninstall", RELEASE, "-n", store_ns, "--wait", "--timeout", "120s")
    eventually(lambda: items(cluster, "pvc", store_ns) == [], what="the database claim deleted by uninstall")
    cluster.kubectl("delete", "namespace", store_ns, "--wait=true", "--timeout=120s")
    eventually(
        lambda: (
            not volumes
            & set(cluster.kubectl("get", "pv", "-o", "jsonpath={.items[*].metadata.name}").split())
        ),
        what="the store's persistent volume deleted",
    )
