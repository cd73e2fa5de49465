"""A store's whole life through app.reconcile: provision → upgrade → history → rollback → delete."""

from __future__ import annotations

import asyncio
import re

import pytest

from app import errors, reconcile
from app.kube import get_kube
from app.reconcile import StoreTarget
from app.reconcile.state import observe
from app.reconcile.toolkit import toolkit
from app.settings import Settings
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import Events, cleanup, names, new_target, release_statuses, volumes_of


async def test_a_store_is_provisioned_upgraded_rolled_back_and_deleted_without_leftovers(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    t = target
    assert await reconcile.provision(t, emit=events, timeout=180, settings=settings) == 1

    labels = cluster.kubectl_json("get", "namespace", t.namespace)["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "storeplane"
    assert labels["storeplane.io/store-id"] == t.store_id
    assert labels["storeplane.io/owner"] == "alice"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pvc = cluster.kubectl_json("get", "pvc", f"data-{t.release}-db-0", "-n", t.namespace)
    assert pvc["status"]["phase"] == "Bound"
    web = cluster.kubectl_json("get", "deployment", f"{t.release}-web", "-n", t.namespace)
    assert web["status"]["readyReplicas"] == 1
    settings_cm = cluster.kubectl_json("get", "configmap", f"{t.release}-settings", "-n", t.namespace)
    assert settings_cm["data"] == {"engine": "woocommerce", "host": t.host, "note": "first"}
    assert release_statuses(cluster, t) == [(1, "deployed")]
    assert events.steps()[:2] == ["namespace", "install"]

    second = StoreTarget(**{**t.__dict__, "values": {"note": "second"}})
    assert await reconcile.upgrade(second, emit=events, timeout=180, settings=settings) == 2
    cm = cluster.kubectl_json("get", "configmap", f"{t.release}-settings", "-n", t.namespace)
    assert cm["data"]["note"] == "second"

    history = await reconcile.history(t, settings=settings)
    assert [(r.revision, r.status) for r in history] == [(1, "superseded"), (2, "deployed")]
    assert history[0].chart == "tiny-store-0.1.0"
    assert history[1].updated is not None and history[1].updated >= history[0].updated

    assert await reconcile.rollback(t, 1, emit=events, timeout=180, settings=settings) == 3
    # Observing reads Helm's storage directly; it must see exactly what `helm history` prints.
    observed = await observe(t, toolkit(settings))
    assert list(observed.history) == await reconcile.history(t, settings=settings)
    assert len(observed.history) == 3
    cm = cluster.kubectl_json("get", "configmap", f"{t.release}-settings", "-n", t.namespace)
    assert cm["data"]["note"] == "first"
    assert release_statuses(cluster, t)[-1] == (3, "deployed")

    await reconcile.verify(t, emit=events, timeout=120, settings=settings)
    assert events.seen[-1][0] == "verify"

    assert volumes_of(cluster, t.namespace), "the StatefulSet's claim should have a volume to clean up"
    await reconcile.delete(t, emit=events, timeout=180, settings=settings)
    assert cluster.kubectl("get", "namespace", t.namespace, "--ignore-not-found", "-o", "name") == ""
    assert volumes_of(cluster, t.namespace) == []
    assert not await get_kube(settings).namespace_exists(t.namespace)
    assert (
        "delete",
        f"namespace {t.namespace} is gone and no persistent volume of it is left",
    ) in events.seen
    assert re.fullmatch(r"store deleted in \d+\.\ds", events.seen[-1][1])
    install = [message for step, message in events.seen if step == "install"]
    assert any(re.fullmatch(r"revision 1 is deployed and ready in \d+\.\ds", m) for m in install), install


async def test_provisioning_twice_reports_the_deployed_revision_without_a_new_one(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    assert await reconcile.provision(target, emit=events, timeout=180, settings=settings) == 1
    assert await reconcile.provision(target, emit=events, timeout=180, settings=settings) == 1
    assert release_statuses(cluster, target) == [(1, "deployed")]
    assert names(cluster, "deployment", target.namespace) == [f"deployment.apps/{target.release}-web"]


async def test_rollback_to_a_revision_that_does_not_exist_names_the_ones_that_do(
    settings: Settings, target: StoreTarget, events: Events
) -> None:
    await reconcile.provision(target, emit=events, timeout=180, settings=settings)
    with pytest.raises(errors.NotFound, match=r"revision 7 does not exist; the store has revisions: 1"):
        await reconcile.rollback(target, 7, emit=events, timeout=60, settings=settings)


async def test_a_failing_order_test_makes_verify_fail_permanently(
    settings: Settings, target: StoreTarget, events: Events
) -> None:
    failing = StoreTarget(**{**target.__dict__, "values": {"orderTest": {"exitCode": 1}}})
    await reconcile.provision(failing, emit=events, timeout=180, settings=settings)
    expected = (
        f"verify failed: pod/{target.release}-order-test: PodFailed: container order exited with code 1"
        " (Error): order test failed: no order id returned"
    )
    with pytest.raises(errors.StoreNotReady, match=re.escape(expected)):
        await reconcile.verify(failing, emit=events, timeout=60, settings=settings)


async def test_managed_namespaces_are_listed_with_their_store_and_owner(
    settings: Settings, target: StoreTarget, events: Events
) -> None:
    await reconcile.provision(target, emit=events, timeout=180, settings=settings)
    listed = {ns.name: ns for ns in await get_kube(settings).list_managed_namespaces()}
    mine = listed[target.namespace]
    assert (mine.store_id, mine.owner, mine.terminating) == (target.store_id, "alice", False)
    assert mine.created_at is not None


async def test_delete_refuses_a_namespace_that_storeplane_does_not_manage(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    cluster.kubectl("create", "namespace", target.namespace)
    with pytest.raises(errors.NotManaged, match=f"namespace {target.namespace} exists and does not belong"):
        await reconcile.delete(target, emit=events, timeout=60, settings=settings)
    assert cluster.kubectl("get", "namespace", target.namespace, "-o", "name").strip()


async def test_provision_refuses_a_namespace_of_the_same_name_that_is_not_the_stores(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    cluster.kubectl("create", "namespace", target.namespace)
    with pytest.raises(errors.NotManaged, match=f"namespace {target.namespace} exists and does not belong"):
        await reconcile.provision(target, emit=events, timeout=60, settings=settings)
    assert release_statuses(cluster, target) == []
    labels = cluster.kubectl_json("get", "namespace", target.namespace)["metadata"].get("labels", {})
    assert "storeplane.io/store-id" not in labels


async def test_delete_removes_a_retained_volume_that_would_outlive_the_namespace(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    await reconcile.provision(target, emit=events, timeout=180, settings=settings)
    (pv,) = volumes_of(cluster, target.namespace)
    # With Retain, nothing in Kubernetes deletes the volume when its claim goes.
    cluster.kubectl("patch", "pv", pv, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}')
    await reconcile.delete(target, emit=events, timeout=180, settings=settings)
    assert volumes_of(cluster, target.namespace) == []
    assert ("volumes", f"persistent volumes of the store are gone: {pv}") in events.seen


async def test_deleting_an_orphan_namespace_through_kube_also_removes_its_volumes(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    """What the periodic sweep calls for a managed namespace with no live store."""
    await reconcile.provision(target, emit=events, timeout=180, settings=settings)
    (pv,) = volumes_of(cluster, target.namespace)
    cluster.kubectl("patch", "pv", pv, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}')
    kube = get_kube(settings)
    assert await kube.delete_namespace(target.namespace, timeout=120, store_id=target.store_id)
    assert volumes_of(cluster, target.namespace) == []
    assert not await kube.delete_namespace(target.namespace, timeout=30, store_id=target.store_id)


async def test_a_store_that_was_never_provisioned_deletes_cleanly_and_has_nothing_to_roll_back(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    await reconcile.delete(target, emit=events, timeout=60, settings=settings)
    await reconcile.delete(target, emit=events, timeout=60, settings=settings)  # a retried job
    assert events.steps() == ["namespace", "delete", "delete"] * 2
    assert await reconcile.history(target, settings=settings) == []
    with pytest.raises(
        errors.NotFound, match=f"cannot roll back store {target.name}: its namespace .* does not exist"
    ):
        await reconcile.rollback(target, 1, emit=events, timeout=60, settings=settings)
    with pytest.raises(errors.NotFound, match="cannot verify"):
        await reconcile.verify(target, emit=events, timeout=60, settings=settings)
    assert cluster.kubectl("get", "namespace", target.namespace, "--ignore-not-found", "-o", "name") == ""


async def test_several_stores_provisioned_and_deleted_at_once_do_not_interfere(
    cluster: ClusterClient, settings: Settings, events: Events
) -> None:
    stores = [new_target() for _ in range(6)]
    try:
        revisions = await asyncio.gather(
            *(reconcile.provision(t, emit=events, timeout=240, settings=settings) for t in stores)
        )
        assert revisions == [1] * len(stores)
        for t in stores:
            assert release_statuses(cluster, t) == [(1, "deployed")]
            assert names(cluster, "deployment", t.namespace) == [f"deployment.apps/{t.release}-web"]
        await asyncio.gather(
            *(reconcile.delete(t, emit=events, timeout=240, settings=settings) for t in stores)
        )
        for t in stores:
            assert cluster.kubectl("get", "namespace", t.namespace, "--ignore-not-found", "-o", "name") == ""
            assert volumes_of(cluster, t.namespace) == []
    finally:
        for t in stores:
            cleanup(cluster, t.namespace)
