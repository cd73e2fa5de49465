"""The periodic sweep against the real cluster: a store whose namespace vanished is reported.

Orphan deletion is covered by unit tests only: the simulated cluster is shared with other test
sessions whose store namespaces would look like orphans to a sweep with a short grace period.
"""

from __future__ import annotations

from pathlib import Path

from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import platform_settings, running_platform


def test_a_store_whose_namespace_vanished_fails_with_that_reason_until_upgraded(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    settings = platform_settings(cluster, tmp_path, reconcile_interval_seconds=1.0)
    with running_platform(cluster, settings) as p:
        sid = p.post("/stores", {"name": "kept", "engine": "woocommerce"}).json()["id"]
        assert p.wait_for(sid, "ready", "failed")["status"] == "ready", p.events(sid)

        # Someone deletes the store's namespace behind Storeplane's back.
        ns = f"store-{sid}"
        cluster.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=120s")
        failed = p.wait_for(sid, "failed", limit=60)
        assert failed["status_reason"] == (
            f"namespace {ns} was deleted outside Storeplane; "
            "upgrade the store to recreate it, or delete the store"
        )
        assert p.post(f"/stores/{sid}/upgrade").status_code == 202
        assert p.wait_for(sid, "ready", "failed")["status"] == "ready", p.events(sid)
        assert (
            cluster.kubectl_json("get", "namespace", ns)["metadata"]["labels"]["storeplane.io/store-id"]
            == sid
        )
