"""A store's whole life through Storeplane's own store actions, authenticated as the provisioner
ServiceAccount with STOREPLANE_STORE_ROLE set, exactly as a worker pod runs them: namespace (fenced by
the policy), the store-manager RoleBinding (app/kube/access.py), helm install --wait of the real store
chart, helm test, upgrade, rollback, delete with its volumes. Proves the chart's RBAC is enough for
the worker and that nothing in the path needs more."""

from __future__ import annotations

from pathlib import Path

from app import reconcile
from app.kube.access import BINDING_NAME
from app.settings import REPO_ROOT, Settings
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import STORE_CHART, Events, cleanup, new_target, volumes_of
from tests.cluster.platform.platform_cluster import Platform


async def test_a_store_lives_and_dies_with_only_the_provisioners_rights(
    cluster: ClusterClient, platform: Platform, as_provisioner: Path
) -> None:
    settings = Settings(
        kubeconfig=str(as_provisioner),
        helm_binary=str(cluster.bin_dir / "helm"),
        store_chart=str(STORE_CHART),
        store_values_file=str(REPO_ROOT / "values" / "stores-local.yaml"),
        store_role=platform.store_manager,
    )
    t, events = new_target(), Events()
    try:
        assert await reconcile.provision(t, emit=events, timeout=300, settings=settings) == 1
        binding = cluster.kubectl_json("get", "rolebinding", BINDING_NAME, "-n", t.namespace)
        assert binding["subjects"][0]["name"] == platform.service_account
        assert (
            cluster.kubectl_json("get", "namespace", t.namespace)["metadata"]["labels"][
                "app.kubernetes.io/managed-by"
            ]
            == "storeplane"
        )

        await reconcile.verify(t, emit=events, timeout=300, settings=settings)
        assert await reconcile.upgrade(t, emit=events, timeout=300, settings=settings) == 2
        assert await reconcile.rollback(t, 1, emit=events, timeout=300, settings=settings) == 3
        history = await reconcile.history(t, settings=settings)
        assert [r.status for r in history] == ["superseded", "superseded", "deployed"]
        assert volumes_of(cluster, t.namespace), "the store's claims are bound to volumes"

        await reconcile.delete(t, emit=events, timeout=300, settings=settings)
        assert cluster.kubectl("get", "namespace", t.namespace, "--ignore-not-found").strip() == ""
        assert volumes_of(cluster, t.namespace) == []
    finally:
        cleanup(cluster, t.namespace)
