"""A worker process SIGKILLed mid-install or mid-delete; a new worker finishes the job.

The worker runs as `python -m app worker` in its own process group; the kill takes its helm child
too, as when a pod dies. The new worker, on the same host, sees that the old one is gone and takes
its jobs over at once (a worker elsewhere would wait for the lease to expire); the store action
resumes the wait, or unlocks a stale release, before finishing.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import (
    LOCAL_STORE_VALUES,
    names,
    platform_settings,
    release_status,
    running_platform,
    until,
    volumes_of,
    wait_for_release,
    worker_process,
)


def crash_settings(cluster: ClusterClient, tmp_path: Path):
    return platform_settings(cluster, tmp_path, lease_seconds=5, reconcile_interval_seconds=2.0)


def slow_setup(tmp_path: Path) -> Path:
    """The local store defaults with a set-up Job that runs 20 s: the store waits for it."""
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values.setdefault("setup", {})["podAnnotations"] = {"sim.storeplane.io/run-duration": "20s"}
    path = tmp_path / "slow-setup-values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_a_worker_killed_mid_install_is_replaced_and_the_store_ends_ready_without_duplicates(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    settings = platform_settings(
        cluster, tmp_path, lease_seconds=30, store_values_file=str(slow_setup(tmp_path))
    )
    with running_platform(cluster, settings, workers=False) as p:
        with worker_process(settings, tmp_path / "worker-1.log") as first:
            sid = p.post("/stores", {"name": "crashy", "engine": "woocommerce"}).json()["id"]
            ns = f"store-{sid}"
            wait_for_release(cluster, ns, "deployed")  # applied; the store waits for its set-up
            first.kill()
        assert p.store(sid)["status"] == "provisioning"

        with worker_process(settings, tmp_path / "worker-2.log"):
            ready = p.wait_for(sid, "ready", "failed")
        assert ready["status"] == "ready", p.events(sid)
        assert len(names(cluster, "statefulset", ns)) == 1
        assert len(names(cluster, "deployment", ns)) == 1
        assert len(names(cluster, "pvc", ns)) == len(volumes_of(cluster, ns))
        statuses = cluster.kubectl(
            "get", "secret", "-n", ns, "-l", "owner=helm", "-o", "jsonpath={.items[*].metadata.labels.status}"
        ).split()
        assert statuses == ["deployed"]  # the new worker waited for revision 1, wrote no second one
        messages = [m for _, m in p.events(sid)]
        assert any("is gone (its process ended)" in m for m in messages), messages
        assert any("already applied" in m for m in messages), messages


def test_a_worker_killed_mid_delete_is_replaced_and_the_store_ends_deleted_with_nothing_left(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    settings = crash_settings(cluster, tmp_path)
    with running_platform(cluster, settings, workers=False) as p:
        with worker_process(settings, tmp_path / "worker-1.log") as first:
            sid = p.post("/stores", {"name": "doomed", "engine": "woocommerce"}).json()["id"]
            ns = f"store-{sid}"
            assert p.wait_for(sid, "ready", "failed")["status"] == "ready", p.events(sid)
            volumes = volumes_of(cluster, ns)
            assert volumes
            p.delete(f"/stores/{sid}")
            until(
                lambda: (
                    release_status(cluster, ns) == "uninstalling"
                    or bool(cluster.kubectl_json("get", "namespace", ns)["metadata"].get("deletionTimestamp"))
                ),
                limit=120,
                every=0.1,
                what=lambda: "the delete to be under way",
            )
            first.kill()
        assert p.store(sid)["status"] == "deleting"

        with worker_process(settings, tmp_path / "worker-2.log"):
            gone = p.wait_for(sid, "deleted", "failed")
        assert gone["status"] == "deleted", p.events(sid)
        assert cluster.kubectl("get", "namespace", ns, "--ignore-not-found") == ""
        remaining = {pv["metadata"]["name"] for pv in cluster.kubectl_json("get", "pv")["items"]}
        assert not set(volumes) & remaining


def test_sigterm_while_a_store_waits_hands_its_job_back_at_once_and_the_next_worker_resumes(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    # A long grace: only a job that still works would be waited for; this one only waits.
    settings = platform_settings(
        cluster,
        tmp_path,
        shutdown_grace_seconds=60,
        lease_seconds=30,
        store_values_file=str(slow_setup(tmp_path)),
    )
    with running_platform(cluster, settings, workers=False) as p:
        with worker_process(settings, tmp_path / "worker-1.log") as first:
            sid = p.post("/stores", {"name": "polite", "engine": "woocommerce"}).json()["id"]
            ns = f"store-{sid}"
            wait_for_release(cluster, ns, "deployed")
            until(
                lambda: any("waiting for" in m for _, m in p.events(sid)),
                limit=60,
                what=lambda: f"the store to wait; events {p.events(sid)}",
            )
            started = time.monotonic()
            assert first.terminate() == 0
            assert time.monotonic() - started < 30  # not the 60 s grace
        assert release_status(cluster, ns) == "deployed"
        assert ("provision", "interrupted by shutdown") in p.events(sid)
        # Handed back at once (no lease to wait out), so the next worker resumes straight away.
        with worker_process(settings, tmp_path / "worker-2.log"):
            ready = p.wait_for(sid, "ready", "failed")
        assert ready["status"] == "ready", p.events(sid)
