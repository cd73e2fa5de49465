"""The store actions running as the platform's provisioner ServiceAccount (platform-chart RBAC and
admission fence installed), not as cluster-admin: a store's life and a crash recovery must need
nothing the platform chart does not grant."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import Iterator

import pytest

from app import errors, reconcile
from app.reconcile import StoreTarget
from app.reconcile.toolkit import toolkit
from app.settings import Settings
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import (
    STORE_CHART,
    TINY_CHART,
    Events,
    held,
    names,
    release_statuses,
    volumes_of,
    wait_for_release_status,
)
from tests.cluster.platform.platform_cluster import Platform, install, provisioner_kubeconfig, uninstall
from tests.cluster.simcluster.helpers import eventually
from tests.unit.platform.platform_render import ROOT


@pytest.fixture(scope="module")
def platform(cluster: ClusterClient) -> Iterator[Platform]:
    namespace = f"sp-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", namespace)
    installed = install(cluster, namespace, "-f", str(ROOT / "values" / "local.yaml"))
    probe = f"store-probe-{secrets.token_hex(3)}"

    def fence_in_force() -> bool:  # the admission policy is loaded from an informer, a moment later
        refused = cluster.kubectl(
            "create", "namespace", probe, "--dry-run=server", f"--as={installed.username}", check=False
        )
        return refused == ""

    eventually(fence_in_force, timeout=30, what="the provisioner fence")
    yield installed
    uninstall(cluster, installed)
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture(scope="module")
def provisioner(
    cluster: ClusterClient, platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    kubeconfig = provisioner_kubeconfig(cluster, platform, tmp_path_factory.mktemp("sa") / "kubeconfig")
    return Settings(
        kubeconfig=str(kubeconfig),
        helm_binary=str(cluster.bin_dir / "helm"),
        store_chart=str(TINY_CHART),
        store_role=platform.store_manager,
    )


async def test_a_store_lives_and_dies_with_only_the_provisioners_rights(
    cluster: ClusterClient, provisioner: Settings, target: StoreTarget, events: Events
) -> None:
    t = target
    assert await reconcile.provision(t, emit=events, timeout=180, settings=provisioner) == 1
    assert names(cluster, "rolebinding", t.namespace) == [
        "rolebinding.rbac.authorization.k8s.io/storeplane-store-manager"
    ]
    second = StoreTarget(**{**t.__dict__, "values": {"note": "second"}})
    assert await reconcile.upgrade(second, emit=events, timeout=180, settings=provisioner) == 2
    assert [r.revision for r in await reconcile.history(t, settings=provisioner)] == [1, 2]
    assert await reconcile.rollback(t, 1, emit=events, timeout=180, settings=provisioner) == 3
    await reconcile.verify(t, emit=events, timeout=120, settings=provisioner)
    (pv,) = volumes_of(cluster, t.namespace)
    cluster.kubectl("patch", "pv", pv, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}')
    await reconcile.delete(t, emit=events, timeout=180, settings=provisioner)
    assert cluster.kubectl("get", "namespace", t.namespace, "--ignore-not-found", "-o", "name") == ""
    assert volumes_of(cluster, t.namespace) == []


async def test_the_unlock_after_a_killed_install_needs_no_more_rights(
    cluster: ClusterClient, provisioner: Settings, target: StoreTarget, events: Events
) -> None:
    kit = toolkit(provisioner)
    # A hook that holds helm for a minute keeps the release pending-install long enough to kill it.
    holding = held(target, "pre-install")
    first = asyncio.create_task(reconcile.provision(holding, emit=events, timeout=180, settings=provisioner))
    await wait_for_release_status(kit, target, "pending-install")
    (pid,) = [pid for pid, argv in kit.helm.running.items() if target.release in argv]
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(errors.RetryableError):
        await first
    assert await reconcile.provision(target, emit=events, timeout=180, settings=provisioner) == 2
    assert release_statuses(cluster, target) == [(1, "superseded"), (2, "deployed")]


async def test_the_real_store_chart_installs_as_the_provisioner(
    cluster: ClusterClient, provisioner: Settings, target: StoreTarget, events: Events
) -> None:
    store = provisioner.model_copy(
        update={
            "store_chart": str(STORE_CHART),
            "store_values_file": str(ROOT / "values" / "stores-local.yaml"),
        }
    )
    assert await reconcile.provision(target, emit=events, timeout=300, settings=store) == 1
    await reconcile.verify(target, emit=events, timeout=300, settings=store)
    await reconcile.delete(target, emit=events, timeout=300, settings=store)
    assert volumes_of(cluster, target.namespace) == []
