"""Drift on the simulated cluster, real helm and the real store chart: objects changed or deleted by
hand are found by the next sweep and listed on the store; Repair (a store action: the deployed
revision applied again with --force-conflicts) restores them and leaves objects outside the release
alone; with STOREPLANE_DRIFT_AUTO_REPAIR the sweep repairs by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import metrics
from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import Platform, platform_settings, running_platform, until


def drift_of(p: Platform, store_id: str, state: str, *, revision: int | None = None) -> dict[str, Any]:
    """Wait until the sweep reports `state` (for `revision`, if given) and return the store's drift."""

    def reported() -> dict[str, Any] | None:
        drift = p.store(store_id)["drift"]
        ok = drift["state"] == state and (revision is None or drift["revision"] == revision)
        return drift if ok else None

    return until(reported, limit=90, what=lambda: f"drift {state}; store {p.store(store_id)}")


def tamper(cluster: ClusterClient, namespace: str, release: str) -> None:
    """What a person with kubectl does: delete a policy, scale to zero, lift the quota, add a Role."""
    cluster.kubectl("delete", "networkpolicy", f"{release}-default-deny", "-n", namespace)
    cluster.kubectl("scale", "deployment", f"{release}-wordpress", "--replicas=0", "-n", namespace)
    cluster.kubectl(
        "patch", "resourcequota", f"{release}-quota", "-n", namespace, "--type", "merge",
        "-p", '{"spec": {"hard": {"pods": "50"}}}',
    )  # fmt: skip
    cluster.kubectl("create", "role", "sneaky", "--verb=get", "--resource=secrets", "-n", namespace)


def test_drift_is_reported_repaired_and_what_is_not_in_the_release_is_left(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    settings = platform_settings(cluster, tmp_path, reconcile_interval_seconds=2.0)
    with running_platform(cluster, settings) as p:
        sid = p.post("/stores", {"name": "drifty", "engine": "woocommerce"}).json()["id"]
        ns = f"store-{sid}"
        ready = p.wait_for(sid, "ready", "failed")
        assert ready["status"] == "ready", p.events(sid)
        assert (ready["chart_version"], ready["app_version"]) == ("0.2.0", "11.0.1")
        assert drift_of(p, sid, "in-sync", revision=1)["differences"] == []

        tamper(cluster, ns, "drifty")
        drift = drift_of(p, sid, "drifted")
        assert drift["differences"] == [  # in the order Helm applies the kinds
            "networkpolicy/drifty-default-deny is missing",
            "resourcequota/drifty-quota: spec.hard.pods is 50; the release says 8",
            "deployment/drifty-wordpress: spec.replicas is 0; the release says 1",
        ], drift
        assert drift["extras"] == ["role/sneaky is not part of the release"]
        assert metrics.REGISTRY.get_sample_value("storeplane_stores_drifted") == 1
        assert any(step == "drift" and "drifted from revision 1" in m for step, m in p.events(sid))

        r = p.post(f"/stores/{sid}/repair")
        assert r.status_code == 202, r.text
        repaired = p.wait_for(sid, "ready", "failed")
        assert (repaired["status"], repaired["helm_revision"]) == ("ready", 2), p.events(sid)
        after = drift_of(p, sid, "in-sync", revision=2)
        assert after["extras"] == ["role/sneaky is not part of the release"]  # reported, never deleted
        assert cluster.kubectl("get", "networkpolicy", "drifty-default-deny", "-n", ns, "-o", "name")
        replicas = cluster.kubectl_json("get", "deployment", "drifty-wordpress", "-n", ns)["spec"]["replicas"]
        assert replicas == 1
        assert cluster.kubectl("get", "role", "sneaky", "-n", ns, "-o", "name").strip().endswith("/sneaky")
        assert metrics.REGISTRY.get_sample_value("storeplane_stores_drifted") == 0


def test_automatic_repair_restores_a_drifted_store_by_itself(cluster: ClusterClient, tmp_path: Path) -> None:
    settings = platform_settings(cluster, tmp_path, reconcile_interval_seconds=2.0, drift_auto_repair=True)
    with running_platform(cluster, settings) as p:
        sid = p.post("/stores", {"name": "selfheal", "engine": "woocommerce"}).json()["id"]
        ns = f"store-{sid}"
        assert p.wait_for(sid, "ready", "failed")["status"] == "ready", p.events(sid)
        drift_of(p, sid, "in-sync", revision=1)
        cluster.kubectl("delete", "networkpolicy", "selfheal-default-deny", "-n", ns)
        cluster.kubectl("scale", "deployment", "selfheal-wordpress", "--replicas=0", "-n", ns)
        drift_of(
            p, sid, "in-sync", revision=2
        )  # the sweep found it, queued a repair, which applied revision 2
        assert ("drift", "repair requested by the sweep") in p.events(sid)
        assert cluster.kubectl("get", "networkpolicy", "selfheal-default-deny", "-n", ns, "-o", "name")
        assert (
            cluster.kubectl_json("get", "deployment", "selfheal-wordpress", "-n", ns)["spec"]["replicas"] == 1
        )
