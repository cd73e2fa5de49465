"""Many stores at once: all become Ready, and Helm never runs more processes than configured."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import HelmRecorder, platform_settings, running_platform

LIMIT = 3


def test_ten_stores_created_at_once_all_become_ready_within_the_helm_process_limit(
    cluster: ClusterClient, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    recorder = HelmRecorder(cluster.bin_dir / "helm", tmp_path)
    settings = platform_settings(
        cluster,
        tmp_path,
        helm_binary=str(recorder.binary),
        worker_concurrency=LIMIT,
        global_concurrency=LIMIT,
    )
    with running_platform(cluster, settings) as p:
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(
                pool.map(
                    lambda i: p.post("/stores", {"name": f"shop-{i}", "engine": "woocommerce"}), range(10)
                )
            )
        assert [r.status_code for r in answers] == [202] * 10
        stores = [p.wait_for(r.json()["id"], "ready", "failed", limit=900) for r in answers]
        assert [s["status"] for s in stores] == ["ready"] * 10, [p.events(s["id"]) for s in stores]

        peak = recorder.max_concurrent()
        record_property("helm_processes_peak", peak)
        record_property("helm_processes_total", len(recorder.spans()))
        print(f"\nhelm processes: peak {peak} at once (limit {LIMIT}), {len(recorder.spans())} in all")
        assert 2 <= peak <= LIMIT  # in parallel, and never past the limit
        assert recorder.overlaps_within_a_namespace() == []
