"""Things going wrong: delete mid-install, a store that can never be ready, the API server down."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml

from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import (
    LOCAL_STORE_VALUES,
    Platform,
    platform_settings,
    running_platform,
    until,
    volumes_of,
    wait_for_release,
)


def test_deleting_a_store_while_it_provisions_ends_deleted_with_nothing_left(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    # A short lease means a frequent heartbeat, which is when the worker notices the delete; the
    # set-up runs 20 s, so the store is still waiting for it when the delete comes.
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values.setdefault("setup", {})["podAnnotations"] = {"sim.storeplane.io/run-duration": "20s"}
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(values))
    settings = platform_settings(
        cluster, tmp_path, lease_seconds=6, store_values_file=str(tmp_path / "slow.yaml")
    )
    with running_platform(cluster, settings) as p:
        sid = p.post("/stores", {"name": "brief", "engine": "woocommerce"}).json()["id"]
        ns = f"store-{sid}"
        wait_for_release(cluster, ns, "deployed")
        r = p.delete(f"/stores/{sid}")
        assert (r.status_code, r.json()["status"]) == (202, "deleting")
        gone = p.wait_for(sid, "deleted", "failed")
        assert gone["status"] == "deleted", p.events(sid)
        assert cluster.kubectl("get", "namespace", ns, "--ignore-not-found") == ""
        assert volumes_of(cluster, ns) == []
        steps = p.events(sid)
        assert ("provision", "stopping it to delete the store") in steps
        # Either the heartbeat cancelled the install, or the install finished first; both hand over.
        assert ("provision", "cancelled") in steps or ("provision", "finished") in steps, steps
        assert ("delete", "queued after the running job stopped") in steps


def _impossible_values(tmp_path: Path) -> Path:
    """The local store defaults, but WordPress asks for more CPU than any node has (8 per node).
    Quota and LimitRange are raised so that the scheduler, not admission, is what says no."""
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values["wordpress"]["resources"] = {
        "requests": {"cpu": "64", "memory": "256Mi"},
        "limits": {"cpu": "64", "memory": "768Mi"},
    }
    values["quota"] = {"requestsCpu": "200", "limitsCpu": "200"}
    values["limitRange"] = {"maxCpu": "100"}
    path = tmp_path / "impossible-values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_a_store_that_cannot_become_ready_fails_within_the_deadline_naming_the_cause(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    deadline = 90
    settings = platform_settings(
        cluster,
        tmp_path,
        store_values_file=str(_impossible_values(tmp_path)),
        provision_deadline=deadline,
        helm_timeout=deadline,
    )
    with running_platform(cluster, settings) as p:
        created = p.post("/stores", {"name": "greedy", "engine": "woocommerce"}).json()
        failed = p.wait_for(created["id"], "failed", "ready", limit=deadline + 120)
        assert failed["status"] == "failed", p.events(created["id"])
        reason = failed["status_reason"]
        assert "Insufficient cpu" in reason or "FailedScheduling" in reason, reason
        # Within the deadline: the failure was recorded no later than the deadline (plus the time
        # it takes to record it), measured on the store's own clock.
        last = p.get(f"/stores/{created['id']}/events").json()[-1]
        took = datetime.fromisoformat(last["at"]) - datetime.fromisoformat(created["created_at"])
        assert took.total_seconds() <= deadline + 30, (took, p.events(created["id"]))


def test_a_job_started_while_the_api_server_is_down_is_retried_and_succeeds_once_it_is_back(
    platform: Platform,
) -> None:
    cluster = platform.cluster
    cluster.pause_apiserver()
    try:
        sid = platform.post("/stores", {"name": "patient", "engine": "woocommerce"}).json()["id"]
        until(
            lambda: any("retrying" in m for _, m in platform.events(sid)),
            limit=120,
            what=lambda: f"a retry while the API server is down; events: {platform.events(sid)}",
        )
    finally:
        cluster.resume_apiserver()
    ready = platform.wait_for(sid, "ready", "failed")
    assert ready["status"] == "ready", platform.events(sid)
    retries = [m for _, m in platform.events(sid) if "retrying" in m]
    assert retries and all("attempt" in m for m in retries)
