"""A Medusa store's whole life through the API on the simulated cluster (real helm, real store-chart):
create → Ready → verify → upgrade → roll back → delete with nothing left; and a set-up step that
fails, whose reason reaches the store's status and events.

KWOK runs no container, so Ready and "verified" prove the orchestration, objects and admission; the
store serving an order is proven natively (tests/native, tests/browser/test_medusa_storefront.py).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import (
    LOCAL_STORE_VALUES,
    Platform,
    names,
    platform_settings,
    running_platform,
    until,
    volumes_of,
)


def test_a_medusa_store_goes_from_create_to_deleted_leaving_nothing_behind(platform: Platform) -> None:
    cluster = platform.cluster
    r = platform.post("/stores", {"name": "medu", "engine": "medusa"})
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["urls"] == {"storefront": "http://medu.localhost/", "admin": "http://medu.localhost/app/"}
    sid, ns = created["id"], created["namespace"]

    ready = platform.wait_for(sid, "ready", "failed")
    assert ready["status"] == "ready", platform.events(sid)
    assert names(cluster, "statefulset", ns) == ["statefulset.apps/medu-postgres"]
    assert names(cluster, "deployment", ns) == ["deployment.apps/medu-medusa"]
    assert names(cluster, "pvc", ns) == ["persistentvolumeclaim/data-medu-postgres-0"]
    ingress = cluster.kubectl_json("get", "ingress", "medu-web", "-n", ns)
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == ["medu.localhost"]
    labels = cluster.kubectl_json("get", "namespace", ns)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    volumes = set(volumes_of(cluster, ns))
    assert len(volumes) == 1

    # The admin password is revealed from the chart's Secret, with how to log in (the e-mail).
    revealed = platform.get(f"/stores/{sid}/admin-password").json()
    assert revealed["secret"] == f"{ns}/medu-credentials"
    assert len(revealed["password"]) == 32 and revealed["password"].isalnum()
    assert "e-mail" in revealed["login"]

    assert platform.post(f"/stores/{sid}/verify").status_code == 202
    until(
        lambda: ("verify", "helm test passed") in platform.events(sid),
        limit=240,
        what=lambda: f"the verification; events: {platform.events(sid)}",
    )

    assert platform.post(f"/stores/{sid}/upgrade").json()["status"] == "upgrading"
    assert platform.wait_for(sid, "ready", "failed")["helm_revision"] == 2
    assert platform.post(f"/stores/{sid}/rollback", {"revision": 1}).status_code == 202
    rolled = platform.wait_for(sid, "ready", "failed")
    assert (rolled["status"], rolled["helm_revision"]) == ("ready", 3)

    assert platform.delete(f"/stores/{sid}").json()["status"] == "deleting"
    gone = platform.wait_for(sid, "deleted", "failed")
    assert gone["status"] == "deleted", platform.events(sid)
    assert cluster.kubectl("get", "namespace", ns, "--ignore-not-found") == ""
    assert not volumes & {pv["metadata"]["name"] for pv in cluster.kubectl_json("get", "pv")["items"]}


def _failing_setup_values(tmp_path: Path) -> Path:
    """The local store defaults, with the set-up pod made to fail the way scripts/setup.sh does."""
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values["setup"] = {
        "backoffLimit": 0,
        "podAnnotations": {
            "sim.storeplane.io/exit-code": "1",
            "sim.storeplane.io/message": "setup FAILED at step 'seed': medusa exec exited 1",
        },
    }
    path = tmp_path / "failing-setup-values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_a_failing_medusa_set_up_step_fails_the_store_with_the_step_in_its_reason_and_events(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    settings = platform_settings(cluster, tmp_path, store_values_file=str(_failing_setup_values(tmp_path)))
    with running_platform(cluster, settings) as p:
        sid = p.post("/stores", {"name": "broken", "engine": "medusa"}).json()["id"]
        failed = p.wait_for(sid, "failed", "ready")
        assert failed["status"] == "failed", p.events(sid)
        reason = failed["status_reason"]
        assert "broken-setup" in reason
        assert "setup FAILED at step 'seed'" in reason
        assert any("setup FAILED at step 'seed'" in message for _, message in p.events(sid))


def test_medusa_values_the_chart_schema_refuses_fail_the_store_naming_the_value(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values["medusa"]["currency"] = "US Dollar"  # an operator's typo in the environment's store defaults
    path = tmp_path / "bad-values.yaml"
    path.write_text(yaml.safe_dump(values))
    with running_platform(cluster, platform_settings(cluster, tmp_path, store_values_file=str(path))) as p:
        sid = p.post("/stores", {"name": "typo", "engine": "medusa"}).json()["id"]
        failed = p.wait_for(sid, "failed", "ready")
        assert failed["status"] == "failed", p.events(sid)
        assert "values don't meet the specifications of the schema" in failed["status_reason"]
        assert "/medusa/currency" in failed["status_reason"]
        # Refused before anything was applied: no release, no workload in the namespace.
        assert names(p.cluster, "deployment", f"store-{sid}") == []
