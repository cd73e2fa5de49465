"""The worker's readiness probe script (platform-chart/files/worker-probe.py) run as the kubelet
would, against a real database and the simulated cluster's API server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.simcluster.client import ClusterClient
from tests.unit.platform.platform_render import CHART, ROOT

PROBE = CHART / "files" / "worker-probe.py"


def probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # In the image PYTHONPATH=/app; here the repository root plays /app.
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, str(PROBE), "ready"],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_ready_when_database_and_cluster_answer(cluster: ClusterClient, tmp_path: Path) -> None:
    done = probe(
        {
            "STOREPLANE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            "STOREPLANE_KUBECONFIG": str(cluster.kubeconfig),
        }
    )
    assert done.returncode == 0, done.stderr


def test_not_ready_when_the_database_does_not_answer(cluster: ClusterClient) -> None:
    done = probe(
        {
            "STOREPLANE_DATABASE_URL": "postgresql://probe@127.0.0.1:1/none",
            "STOREPLANE_KUBECONFIG": str(cluster.kubeconfig),
        }
    )
    assert done.returncode != 0
    assert done.stderr.startswith("not ready: database: OperationalError: ")
    assert "Traceback" not in done.stderr


def test_not_ready_when_the_kubernetes_api_does_not_answer(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    done = probe(
        {
            "STOREPLANE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            "STOREPLANE_KUBECONFIG": str(kubeconfig),
        }
    )
    assert done.returncode != 0
    assert done.stderr.startswith("not ready: kubernetes: ClusterUnreachable: ")
    assert "Traceback" not in done.stderr
