"""The platform's own upgrades and rollbacks on the simulated cluster: a real second revision of the
chart values (a new image tag), `helm rollback --wait` back to the first, and what the rolled-back
pods' migrate command then does, run as a real process against a database a newer image migrated.
Then the bundled PostgreSQL across upgrades: existing Secrets, a refused volume resize, a chart bump
that does not restart it.

KWOK runs no container: the cluster shows objects and revisions; the migrate logic runs here as the
same command line the live Deployment holds (docs/operations.md §7 has the real-cluster check)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.simcluster.client import ClusterClient, CommandFailed
from tests.cluster.platform.platform_cluster import Platform, install, uninstall
from tests.cluster.platform.test_platform_install import RESTRICTED, migrated, pods, ready, secret_data
from tests.unit.platform.newer_image import NewerImage, this_image_head
from tests.unit.platform.platform_render import CHART, ROOT


@pytest.fixture
def platform_namespace(cluster: ClusterClient) -> Iterator[str]:
    name = f"sp-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("label", "namespace", name, *RESTRICTED)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


def deployment(cluster: ClusterClient, platform: Platform, component: str) -> dict[str, Any]:
    name = f"{platform.fullname}-{component}"
    return cluster.kubectl_json("get", "deployment", name, "-n", platform.namespace)


def history(cluster: ClusterClient, platform: Platform) -> list[dict[str, Any]]:
    return yaml.safe_load(cluster.helm("history", platform.release, "-n", platform.namespace, "-o", "yaml"))


def run_like_the_pod(container: dict[str, Any], url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The container's command line, as its image would run it, with this database."""
    assert container["command"][:3] == ["python", "-m", "app"]
    env = {**os.environ, "STOREPLANE_DATABASE_URL": url, "STOREPLANE_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, *container["command"][1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rolling_back_to_the_previous_image_works_and_its_migrate_runs_on_the_newer_schema(
    cluster: ClusterClient, platform_namespace: str, tmp_path: Path
) -> None:
    local = ("-f", str(ROOT / "values" / "local.yaml"))
    platform = install(cluster, platform_namespace, *local, "--set", "image.tag=0.1.0")
    try:
        generated = secret_data(cluster, platform_namespace, f"{platform.fullname}-secrets")
        install(
            cluster, platform_namespace, *local, "--set", "image.tag=0.2.0", "--set", "logLevel=DEBUG",
            release=platform.release,
        )  # fmt: skip
        api = deployment(cluster, platform, "api")
        assert api["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.2.0")

        cluster.helm("rollback", platform.release, "1", "-n", platform_namespace, "--wait", "--timeout=180s")

        revisions = history(cluster, platform)
        assert [r["revision"] for r in revisions] == [1, 2, 3]
        assert [r["status"] for r in revisions] == ["superseded", "superseded", "deployed"]
        assert revisions[-1]["description"] == "Rollback to 1"
        api = deployment(cluster, platform, "api")
        spec = api["spec"]["template"]["spec"]
        assert spec["containers"][0]["image"].endswith(":0.1.0")
        assert spec["initContainers"][0]["image"].endswith(":0.1.0")
        assert api["spec"]["strategy"]["type"] == "Recreate"
        (pod,) = pods(cluster, platform, "api")
        assert ready(pod) and migrated(pod)
        assert secret_data(cluster, platform_namespace, f"{platform.fullname}-secrets") == generated

        # What the rolled-back image's init container does with the schema 0.2.0 left behind.
        (init,) = spec["initContainers"]
        compatible = NewerImage.create(tmp_path / "compatible")
        compatible.add("9001", oldest_compatible=this_image_head())
        url = f"sqlite:///{tmp_path / 'compatible.db'}"
        compatible.migrate(url)
        done = run_like_the_pod(init, url, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "newer than this image's" in done.stdout and "runs on it unchanged" in done.stdout

        breaking = NewerImage.create(tmp_path / "breaking")
        breaking.add("9001", oldest_compatible="9001")
        url = f"sqlite:///{tmp_path / 'breaking.db'}"
        breaking.migrate(url)
        refused = run_like_the_pod(init, url, tmp_path)
        assert refused.returncode == 3
        assert "Refusing to start on it: roll forward" in refused.stderr
    finally:
        uninstall(cluster, platform)


def existing_secrets(cluster: ClusterClient, namespace: str, release: str) -> tuple[str, str]:
    """The Secrets a GitOps user creates by hand (platform-chart/README.md, "GitOps")."""
    password = secrets.token_hex(16)
    url = f"postgresql://storeplane:{password}@{release}-storeplane-postgresql:5432/storeplane"
    cluster.kubectl(
        "create", "secret", "generic", "db", "-n", namespace,
        f"--from-literal=password={password}", f"--from-literal=database-url={url}",
    )  # fmt: skip
    cluster.kubectl(
        "create", "secret", "generic", "app-keys", "-n", namespace,
        f"--from-literal=session-secret={secrets.token_hex(32)}", f"--from-literal=admin-password={password}",
    )  # fmt: skip
    return "db", "app-keys"


def test_bundled_postgresql_keeps_its_volume_and_pod_across_upgrades(
    cluster: ClusterClient, platform_namespace: str, tmp_path: Path
) -> None:
    release = f"sp{secrets.token_hex(3)}"
    db_secret, app_secret = existing_secrets(cluster, platform_namespace, release)
    base = (
        "-f", str(CHART / "ci" / "postgresql-values.yaml"),
        "--set", f"postgresql.existingSecret={db_secret}", "--set", f"auth.existingSecret={app_secret}",
    )  # fmt: skip
    platform = install(cluster, platform_namespace, *base, release=release)
    try:
        selector = f"app.kubernetes.io/instance={release}"
        owned = cluster.kubectl("get", "secrets", "-n", platform_namespace, "-l", selector, "-o", "name")
        assert owned.strip() == "", "with existing Secrets the chart generates none"
        statefulset = f"{platform.fullname}-postgresql"
        live = cluster.kubectl_json("get", "statefulset", statefulset, "-n", platform_namespace)
        governing = live["spec"]["serviceName"]
        headless = cluster.kubectl_json("get", "service", governing, "-n", platform_namespace)
        assert headless["spec"]["clusterIP"] == "None"
        (database,) = pods(cluster, platform, "postgresql")
        assert ready(database)

        with pytest.raises(CommandFailed) as refused:
            grow = ("--set", "postgresql.persistence.size=20Gi")
            install(cluster, platform_namespace, *base, *grow, release=release)
        message = refused.value.stderr
        assert "postgresql.persistence.size cannot change from 8Gi to 20Gi through the chart" in message
        assert f"kubectl -n {platform_namespace} patch pvc data-{statefulset}-0" in message
        assert f"delete statefulset {statefulset} --cascade=orphan" in message
        assert len(history(cluster, platform)) == 1, "the refused upgrade left no revision behind"

        # A new chart version that changes nothing in the database's pod must not restart it.
        bumped = tmp_path / "chart"
        shutil.copytree(CHART, bumped)
        chart_yaml = bumped / "Chart.yaml"
        chart_yaml.write_text(chart_yaml.read_text().replace("version: 0.1.0", "version: 0.1.1", 1))
        cluster.helm(
            "upgrade", release, str(bumped), "-n", platform_namespace, *base, "--wait", "--timeout", "180s"
        )
        after = cluster.kubectl_json("get", "statefulset", statefulset, "-n", platform_namespace)
        assert after["metadata"]["labels"]["helm.sh/chart"].endswith("0.1.1")
        assert after["metadata"]["generation"] == live["metadata"]["generation"]
        (still,) = pods(cluster, platform, "postgresql")
        assert still["metadata"]["uid"] == database["metadata"]["uid"]
    finally:
        uninstall(cluster, platform)
        cluster.kubectl("delete", "secret", db_secret, app_secret, "-n", platform_namespace)
