"""Stores that cannot become ready fail with a permanent error naming the cause; an unreachable
API server is a retryable error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app import errors, reconcile
from app.helm import HelmDriver
from app.kube import Kube
from app.reconcile import StoreTarget
from app.settings import Settings
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import Events, release_statuses


def with_values(t: StoreTarget, **values: object) -> StoreTarget:
    return StoreTarget(**{**t.__dict__, "values": values})


async def test_an_impossible_cpu_request_fails_permanently_naming_failed_scheduling(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    greedy = with_values(target, web={"cpu": "64"})
    with pytest.raises(errors.StoreNotReady) as failure:
        await reconcile.provision(greedy, emit=events, timeout=170, settings=settings)
    assert re.search(
        r"FailedScheduling: 0/\d+ nodes are available: \d+ Insufficient cpu", failure.value.message
    )
    # Stopped waiting early (not at the timeout), and the history says the revision failed.
    assert release_statuses(cluster, target) == [(1, "failed")]
    assert ("history", "revision 1 recorded as failed in Helm's history") in events.seen
    history = await reconcile.history(target, settings=settings)
    assert history[0].description.startswith("Storeplane: not ready: install cannot succeed:")


async def test_a_namespace_quota_that_refuses_the_pods_fails_permanently_naming_the_quota(
    settings: Settings, target: StoreTarget, events: Events
) -> None:
    capped = with_values(target, quota={"enabled": True, "cpu": "15m"})
    with pytest.raises(errors.StoreNotReady, match=r"QuotaExceeded: .*exceeded quota"):
        await reconcile.provision(capped, emit=events, timeout=170, settings=settings)


async def test_a_failed_setup_job_fails_permanently_with_its_exit_code_and_message(
    settings: Settings, target: StoreTarget, events: Events
) -> None:
    broken = with_values(target, setup={"exitCode": 3, "message": "wp plugin install woocommerce: 404"})
    with pytest.raises(errors.StoreNotReady) as failure:
        await reconcile.provision(broken, emit=events, timeout=170, settings=settings)
    message = failure.value.message
    assert f"job/{target.release}-setup-1: JobFailed: failed (BackoffLimitExceeded" in message
    assert "container setup exited with code 3 (Error): wp plugin install woocommerce: 404" in message


async def test_a_retry_after_a_failed_setup_job_is_not_stopped_by_that_old_job(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    """The failed Job of attempt 1 stays (for its logs); attempt 2 must not take it as its own cause."""
    broken = with_values(target, setup={"exitCode": 3, "message": "mirror down", "keep": True})
    with pytest.raises(errors.StoreNotReady, match="mirror down"):
        await reconcile.provision(broken, emit=events, timeout=170, settings=settings)
    fixed = with_values(target, setup={"keep": True})
    assert await reconcile.provision(fixed, emit=events, timeout=170, settings=settings) == 2
    jobs = cluster.kubectl("get", "jobs", "-n", target.namespace, "-o", "name").split()
    assert f"job.batch/{target.release}-setup-1" in jobs


async def test_a_failed_upgrade_rolls_back_and_says_which_revision_the_store_runs(
    cluster: ClusterClient, settings: Settings, target: StoreTarget, events: Events
) -> None:
    assert await reconcile.provision(target, emit=events, timeout=170, settings=settings) == 1
    with pytest.raises(errors.StoreNotReady) as failure:
        await reconcile.upgrade(
            with_values(target, web={"cpu": "64"}), emit=events, timeout=170, settings=settings
        )
    assert "Insufficient cpu" in failure.value.message
    assert "rolled back" in failure.value.message
    statuses = release_statuses(cluster, target)
    assert statuses[1] == (2, "failed")
    assert statuses[-1] == (3, "deployed")
    web = cluster.kubectl_json("get", "deployment", f"{target.release}-web", "-n", target.namespace)
    assert web["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "10m"


def unreachable(cluster: ClusterClient, tmp_path: Path) -> Settings:
    """Settings whose kubeconfig points at a port nothing listens on (connection refused)."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = "https://127.0.0.1:1"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return Settings(kubeconfig=str(path), helm_binary=str(cluster.bin_dir / "helm"))


async def test_connection_refused_by_the_api_server_is_retryable(
    cluster: ClusterClient, tmp_path: Path, target: StoreTarget, events: Events
) -> None:
    down = unreachable(cluster, tmp_path)
    with pytest.raises(errors.ClusterUnreachable, match="unreachable"):
        await reconcile.provision(target, emit=events, timeout=60, settings=down)
    with pytest.raises(errors.ClusterUnreachable, match="connection refused"):
        await HelmDriver(down).history(target.release, target.namespace)
    kube = Kube(down)
    with pytest.raises(errors.ClusterUnreachable):
        await kube.ping()
    await kube.close()
