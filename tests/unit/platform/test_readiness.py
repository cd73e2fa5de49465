"""Readiness is what the pod needs to serve (the database); the Kubernetes API's state is reported in
/readyz's body and in /metrics, and never makes the pod unready. In process for the state changes,
then a real `python -m app serve` whose kubeconfig names an API server that does not answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from app import metrics
from app.errors import ClusterUnreachable
from app.main import create_app
from app.settings import Settings
from tests.fixtures_db import free_port, fresh_postgres_database
from tests.unit.platform.platform_render import ROOT


class SwitchableCluster:
    """A ping that fails until told otherwise, as an API server restarting would."""

    def __init__(self) -> None:
        self.up = False

    async def ping(self) -> None:
        if not self.up:
            raise ClusterUnreachable("reach the Kubernetes API: connection refused")


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path, metrics_port=0, embedded_workers=False)


def gauge(name: str) -> float:
    for line in generate_latest(metrics.REGISTRY).decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exported")


def test_an_unreachable_cluster_is_reported_but_the_pod_stays_ready(tmp_path: Path) -> None:
    cluster = SwitchableCluster()
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'db'}", tmp_path), cluster_ping=cluster.ping)
    with TestClient(app) as client:
        down = client.get("/readyz")
        assert down.status_code == 200
        body = down.json()
        assert body["status"] == "ok" and body["required"] == ["database"]
        assert body["checks"] == {
            "database": "ok",
            "cluster": "unavailable: reach the Kubernetes API: connection refused",
        }
        assert body["cluster"]["reachable"] is False and body["cluster"]["last_success"] is None
        assert gauge("storeplane_kubernetes_api_up") == 0

        cluster.up = True
        client.portal.call(app.state.cluster_status.check)  # what the background task does every 10 s
        up = client.get("/readyz").json()
        assert up["checks"]["cluster"] == "ok" and up["cluster"]["reachable"] is True
        assert gauge("storeplane_kubernetes_api_up") == 1
        assert gauge("storeplane_kubernetes_api_last_success_timestamp_seconds") > time.time() - 60


def test_a_cluster_that_hangs_does_not_hold_up_readiness(tmp_path: Path) -> None:
    import asyncio

    calls = 0

    async def answers_once_then_hangs() -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            await asyncio.sleep(3600)

    app = create_app(
        settings_for(f"sqlite:///{tmp_path / 'db'}", tmp_path), cluster_ping=answers_once_then_hangs
    )
    with TestClient(app) as client:
        app.state.cluster_status._timeout = 0.2  # the real bound is 5 s; the behaviour is the same
        client.portal.call(app.state.cluster_status.check)
        started = time.monotonic()
        body = client.get("/readyz").json()
        assert time.monotonic() - started < 2
    assert body["status"] == "ok"
    assert body["checks"]["cluster"] == "unavailable: no answer within 0.2 s"


@pytest.mark.postgres
def test_the_pod_is_unready_when_its_database_is_gone(postgres_admin_url: str, tmp_path: Path) -> None:
    url = fresh_postgres_database(postgres_admin_url)
    cluster = SwitchableCluster()
    cluster.up = True
    app = create_app(settings_for(url, tmp_path), cluster_ping=cluster.ping)
    from app.db.migrate import upgrade_to_head

    upgrade_to_head(url)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # name is ours: hex only
        gone = client.get("/readyz")
    assert gone.status_code == 503
    assert gone.json()["status"] == "unavailable"
    assert gone.json()["checks"]["database"].startswith("unavailable: ")
    assert gone.json()["checks"]["cluster"] == "ok"


def dead_kubeconfig(path: Path) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{free_port()}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our loopback server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_real_api_process_serves_and_reports_an_unreachable_cluster(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "STOREPLANE_DATABASE_URL": f"sqlite:///{tmp_path / 'storeplane.db'}",
        "STOREPLANE_DATA_DIR": str(tmp_path),
        "STOREPLANE_KUBECONFIG": str(dead_kubeconfig(tmp_path / "kubeconfig")),
        "STOREPLANE_PORT": str(port),
        "STOREPLANE_METRICS_PORT": str(metrics_port),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--no-workers"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/readyz")
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the API did not start within 60 s"
                time.sleep(0.2)
        assert status == 200, body
        report = json.loads(body)
        assert report["status"] == "ok" and report["checks"]["database"] == "ok"
        assert report["checks"]["cluster"].startswith("unavailable: reach the Kubernetes API")
        _, exported = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert "storeplane_kubernetes_api_up 0.0" in exported
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    assert "the Kubernetes API does not answer" in err
