"""A helm process (or the whole worker) dies mid-action; the next action on the store unlocks the
release and finishes, adopting what the dead process created instead of duplicating it.

helm only applies (no --wait), which takes a second; a hook Job of the test chart that runs for a
minute (`hold.duration`) keeps it in `pending-*` long enough to kill it there on purpose."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from app import errors, reconcile
from app.reconcile import StoreTarget
from app.reconcile.toolkit import Toolkit
from app.settings import Settings
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import (
    Events,
    held,
    names,
    release_statuses,
    volumes_of,
    wait_for_release_status,
    without_hold,
)


def helm_pid(kit: Toolkit, verb: str, t: StoreTarget) -> int:
    found = [pid for pid, argv in kit.helm.running.items() if argv[1] == verb and t.release in argv]
    assert len(found) == 1, f"expected one helm {verb} for {t.release}, running: {kit.helm.running}"
    return found[0]


def assert_one_of_each(cluster: ClusterClient, t: StoreTarget) -> None:
    assert names(cluster, "deployment", t.namespace) == [f"deployment.apps/{t.release}-web"]
    assert names(cluster, "statefulset", t.namespace) == [f"statefulset.apps/{t.release}-db"]
    assert names(cluster, "pvc", t.namespace) == [f"persistentvolumeclaim/data-{t.release}-db-0"]
    assert len(volumes_of(cluster, t.namespace)) == 1
    web_pods = cluster.kubectl("get", "pods", "-n", t.namespace, "-l", "app=web", "-o", "name").split()
    assert len(web_pods) == 1


async def test_helm_killed_mid_install_leaves_pending_install_and_the_next_provision_unlocks_and_finishes(
    cluster: ClusterClient, settings: Settings, kit: Toolkit, target: StoreTarget, events: Events
) -> None:
    first = asyncio.create_task(
        reconcile.provision(held(target, "pre-install"), emit=events, timeout=180, settings=settings)
    )
    await wait_for_release_status(kit, target, "pending-install")
    os.kill(helm_pid(kit, "upgrade", target), signal.SIGKILL)
    with pytest.raises(errors.RetryableError, match="helm install was killed by signal 9"):
        await first
    assert release_statuses(cluster, target) == [(1, "pending-install")]

    retry = Events()
    assert await reconcile.provision(target, emit=retry, timeout=180, settings=settings) == 2
    # Helm supersedes the unlocked revision once the new one is deployed; its description keeps the story.
    assert release_statuses(cluster, target) == [(1, "superseded"), (2, "deployed")]
    assert retry.steps()[:2] == ["unlock", "install"]
    history = await reconcile.history(target, settings=settings)
    assert "unlocked by Storeplane from stale 'pending-install'" in history[0].description
    assert_one_of_each(cluster, target)


async def test_worker_dying_mid_upgrade_leaves_pending_upgrade_and_the_next_upgrade_finishes(
    cluster: ClusterClient, settings: Settings, kit: Toolkit, target: StoreTarget, events: Events
) -> None:
    await reconcile.provision(target, emit=events, timeout=180, settings=settings)
    changed = without_hold(target, note="second")
    task = asyncio.create_task(
        reconcile.upgrade(
            held(target, "pre-upgrade", note="second"), emit=events, timeout=180, settings=settings
        )
    )
    await wait_for_release_status(kit, target, "pending-upgrade")
    # The worker dies: its helm child is killed and its task never resumes normally.
    os.kill(helm_pid(kit, "upgrade", target), signal.SIGKILL)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert release_statuses(cluster, target) == [(1, "deployed"), (2, "pending-upgrade")]

    assert await reconcile.upgrade(changed, emit=events, timeout=180, settings=settings) == 3
    assert release_statuses(cluster, target)[-1] == (3, "deployed")
    note = cluster.kubectl_json("get", "configmap", f"{target.release}-settings", "-n", target.namespace)
    assert note["data"]["note"] == "second"
    assert_one_of_each(cluster, target)


async def test_worker_dying_mid_delete_leaves_uninstalling_and_the_next_delete_removes_everything(
    cluster: ClusterClient, settings: Settings, kit: Toolkit, target: StoreTarget, events: Events
) -> None:
    await reconcile.provision(held(target, "pre-delete"), emit=events, timeout=180, settings=settings)
    task = asyncio.create_task(reconcile.delete(target, emit=events, timeout=180, settings=settings))
    await wait_for_release_status(kit, target, "uninstalling")
    os.kill(helm_pid(kit, "uninstall", target), signal.SIGKILL)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert release_statuses(cluster, target) == [(1, "uninstalling")]
    assert cluster.kubectl("get", "namespace", target.namespace, "-o", "name").strip()

    retry = Events()
    await reconcile.delete(target, emit=retry, timeout=180, settings=settings)
    assert cluster.kubectl("get", "namespace", target.namespace, "--ignore-not-found", "-o", "name") == ""
    assert volumes_of(cluster, target.namespace) == []
    assert retry.steps()[0] == "uninstall"


async def test_cancelling_an_action_stops_helm_with_sigterm_so_the_release_ends_failed_not_pending(
    cluster: ClusterClient, settings: Settings, kit: Toolkit, target: StoreTarget, events: Events
) -> None:
    """Graceful shutdown: the job runner cancels the action; helm gets SIGTERM (not the shell
    pyhelm3 would have started) and records the release as failed before it exits."""
    held_install = held(target, "pre-install")
    task = asyncio.create_task(reconcile.provision(held_install, emit=events, timeout=180, settings=settings))
    await wait_for_release_status(kit, target, "pending-install")
    pid = helm_pid(kit, "upgrade", target)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pid not in kit.helm.running
    assert release_statuses(cluster, target) == [(1, "failed")]


async def test_worker_dying_mid_rollback_leaves_pending_rollback_and_the_next_rollback_finishes(
    cluster: ClusterClient, settings: Settings, kit: Toolkit, target: StoreTarget, events: Events
) -> None:
    await reconcile.provision(target, emit=events, timeout=180, settings=settings)
    # Helm runs the pre-rollback hook of the revision rolled back to: revision 2 holds a rollback.
    second = held(target, "pre-rollback", note="second")
    assert await reconcile.upgrade(second, emit=events, timeout=180, settings=settings) == 2
    third = without_hold(target, note="third")
    assert await reconcile.upgrade(third, emit=events, timeout=180, settings=settings) == 3
    task = asyncio.create_task(reconcile.rollback(target, 2, emit=events, timeout=180, settings=settings))
    await wait_for_release_status(kit, target, "pending-rollback")
    os.kill(helm_pid(kit, "rollback", target), signal.SIGKILL)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert release_statuses(cluster, target)[-1] == (4, "pending-rollback")

    assert await reconcile.rollback(target, 1, emit=events, timeout=180, settings=settings) == 5
    assert release_statuses(cluster, target)[-2:] == [(4, "failed"), (5, "deployed")]
    note = cluster.kubectl_json("get", "configmap", f"{target.release}-settings", "-n", target.namespace)
    assert note["data"]["note"] == "first"
    assert_one_of_each(cluster, target)
