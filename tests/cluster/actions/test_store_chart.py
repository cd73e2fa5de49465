"""The store actions with the real store-chart and the local store defaults: a WooCommerce store's
whole life, checking the objects the chart promises. The simulated cluster runs no containers, so
this proves the release, its objects, admission (Pod Security restricted) and Helm's waits, not
that WordPress serves an order."""

from __future__ import annotations

import pytest

from app import errors, reconcile
from app.reconcile import StoreTarget
from app.settings import REPO_ROOT
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import (
    STORE_CHART,
    Events,
    names,
    release_statuses,
    settings_for,
    volumes_of,
)


@pytest.fixture
def store_settings(cluster: ClusterClient):
    return settings_for(
        cluster, STORE_CHART, store_values_file=str(REPO_ROOT / "values" / "stores-local.yaml")
    )


async def test_a_woocommerce_store_from_the_real_chart_lives_and_dies_cleanly(
    cluster: ClusterClient, store_settings, target: StoreTarget, events: Events
) -> None:
    t, ns = target, target.namespace
    assert await reconcile.provision(t, emit=events, timeout=300, settings=store_settings) == 1

    assert names(cluster, "resourcequota", ns) and names(cluster, "limitrange", ns)
    assert len(names(cluster, "networkpolicy", ns)) >= 4
    assert names(cluster, "secret", ns)
    statefulsets = cluster.kubectl_json("get", "statefulset", "-n", ns)["items"]
    assert [s["status"].get("readyReplicas") for s in statefulsets] == [1]
    claims = cluster.kubectl_json("get", "pvc", "-n", ns)["items"]
    assert claims and all(c["status"]["phase"] == "Bound" for c in claims)
    deployments = cluster.kubectl_json("get", "deployment", "-n", ns)["items"]
    assert deployments and all(d["status"].get("readyReplicas", 0) >= 1 for d in deployments)
    ingress = cluster.kubectl_json("get", "ingress", "-n", ns)["items"]
    assert ingress[0]["spec"]["rules"][0]["host"] == t.host
    # The set-up is a plain Job of revision 1, which the action waited for (no helm process did).
    (setup,) = cluster.kubectl_json("get", "jobs", "-n", ns, "-l", "app.kubernetes.io/component=setup")[
        "items"
    ]
    assert setup["metadata"]["name"] == f"{t.release}-setup-r1"
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in setup["status"]["conditions"])
    assert f"job/{t.release}-setup-r1 is ready" in " ".join(m for _, m in events.seen)

    renamed = StoreTarget(**{**t.__dict__, "values": {"storeName": "Second Shop"}})
    assert await reconcile.upgrade(renamed, emit=events, timeout=300, settings=store_settings) == 2
    history = await reconcile.history(t, settings=store_settings)
    assert [(r.revision, r.status) for r in history] == [(1, "superseded"), (2, "deployed")]
    assert history[0].chart.startswith("store-")

    assert await reconcile.rollback(t, 1, emit=events, timeout=300, settings=store_settings) == 3
    assert release_statuses(cluster, t)[-1] == (3, "deployed")
    await reconcile.verify(t, emit=events, timeout=300, settings=store_settings)

    assert volumes_of(cluster, ns)
    await reconcile.delete(t, emit=events, timeout=300, settings=store_settings)
    assert cluster.kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name") == ""
    assert volumes_of(cluster, ns) == []


async def test_values_the_chart_schema_rejects_fail_permanently_before_anything_is_installed(
    cluster: ClusterClient, store_settings, target: StoreTarget, events: Events
) -> None:
    wrong = StoreTarget(**{**target.__dict__, "values": {"quota": {"pods": "many"}}})
    with pytest.raises(errors.ChartRejected, match=r"schema.* at '/quota/pods': got string, want integer"):
        await reconcile.provision(wrong, emit=events, timeout=120, settings=store_settings)
    assert release_statuses(cluster, target) == []
