"""Two worker processes sharing one PostgreSQL job table never run two jobs for one store at once,
and both do work."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import HelmRecorder, platform_settings, running_platform, worker_process
from tests.fixtures_db import fresh_postgres_database

pytestmark = pytest.mark.postgres

STORES = 4


def test_two_workers_on_postgresql_share_the_work_and_never_overlap_on_a_store(
    cluster: ClusterClient, tmp_path: Path, postgres_admin_url: str
) -> None:
    recorder = HelmRecorder(cluster.bin_dir / "helm", tmp_path)
    settings = platform_settings(
        cluster,
        tmp_path,
        database_url=fresh_postgres_database(postgres_admin_url),
        helm_binary=str(recorder.binary),
        worker_concurrency=2,
        global_concurrency=4,
        lease_seconds=6,
    )
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    with (
        running_platform(cluster, settings, workers=False) as p,
        worker_process(settings, logs[0]),
        worker_process(settings, logs[1]),
    ):
        ids = [
            p.post("/stores", {"name": f"pg-{i}", "engine": "woocommerce"}).json()["id"]
            for i in range(STORES)
        ]
        for sid in ids:
            assert p.wait_for(sid, "ready", "failed", limit=600)["status"] == "ready", p.events(sid)
        # Each store gets two more jobs back to back while the others run theirs.
        for sid in ids:
            assert p.post(f"/stores/{sid}/upgrade").status_code == 202
        for sid in ids:
            assert p.wait_for(sid, "ready", "failed", limit=600)["helm_revision"] == 2
            assert p.delete(f"/stores/{sid}").status_code == 202
        for sid in ids:
            assert p.wait_for(sid, "deleted", "failed", limit=600)["status"] == "deleted", p.events(sid)

    assert recorder.overlaps_within_a_namespace() == []
    installs = [log.read_text().count("running: ") for log in logs]
    print(f"\nhelm commands per worker: {installs}; peak helm processes at once: {recorder.max_concurrent()}")
    assert all(n > 0 for n in installs), installs
    assert recorder.max_concurrent() <= 4
