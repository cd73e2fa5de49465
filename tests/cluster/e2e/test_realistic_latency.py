"""At real-cluster speeds (the simulated cluster's `realistic` profile, scaled down to a tenth so
the tests stay short): a store that only waits for its pods holds no worker slot, the deadline still
fails a store that never becomes Ready with the concrete cause, and a worker killed while its stores
wait is replaced at once by a worker on the same host — not after the lease — with no duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.models import Job
from app.simcluster.client import ClusterClient
from app.simcluster.latency import Latency
from app.simcluster.session import ensure_cluster
from tests.cluster.e2e.platform import (
    LOCAL_STORE_VALUES,
    HelmRecorder,
    Platform,
    platform_settings,
    running_platform,
    until,
    worker_process,
)

SCALE = 0.1  # a WooCommerce store is Ready in ~5-9 s instead of ~1 min


@pytest.fixture(scope="module")
def slow_cluster() -> Iterator[ClusterClient]:
    with ensure_cluster(reuse=False, latency=Latency("realistic", SCALE)) as client:
        yield client


def jobs(p: Platform) -> list[Job]:
    engine = make_engine(p.settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return list(session.execute(select(Job).order_by(Job.id)).scalars())
    finally:
        engine.dispose()


def create(p: Platform, names: list[str]) -> list[str]:
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        answers = list(pool.map(lambda n: p.post("/stores", {"name": n, "engine": "woocommerce"}), names))
    assert [a.status_code for a in answers] == [202] * len(names), [a.text for a in answers]
    return [a.json()["id"] for a in answers]


def test_stores_that_wait_for_their_pods_give_their_slot_back_so_more_progress_than_there_are_slots(
    slow_cluster: ClusterClient, tmp_path: Path
) -> None:
    recorder = HelmRecorder(slow_cluster.bin_dir / "helm", tmp_path)
    settings = platform_settings(
        slow_cluster, tmp_path, helm_binary=str(recorder.binary), worker_concurrency=1, global_concurrency=1
    )
    most_waiting = 0
    with running_platform(slow_cluster, settings) as p:
        ids = create(p, [f"slow-{i}" for i in range(4)])

        def all_settled() -> bool:
            nonlocal most_waiting
            rows = jobs(p)
            most_waiting = max(most_waiting, sum(1 for j in rows if j.status == "running" and j.waiting_for))
            return all(p.store(i)["status"] in ("ready", "failed") for i in ids)

        until(
            all_settled, limit=300, every=0.2, what=lambda: f"stores to settle: {[p.store(i) for i in ids]}"
        )
        assert [p.store(i)["status"] for i in ids] == ["ready"] * 4, [p.events(i) for i in ids]
    # One slot, yet several stores were waiting for their pods at the same time.
    assert most_waiting >= 2, most_waiting
    assert recorder.max_concurrent() == 1
    assert recorder.overlaps_within_a_namespace() == []


def _never_ready_values(tmp_path: Path) -> Path:
    """The local store defaults, but the set-up Job runs for an hour: the store never becomes Ready."""
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values.setdefault("setup", {})["podAnnotations"] = {"sim.storeplane.io/run-duration": "1h"}
    path = tmp_path / "never-ready-values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_the_deadline_fails_a_store_that_never_becomes_ready_saying_what_it_waited_for(
    slow_cluster: ClusterClient, tmp_path: Path
) -> None:
    # The set-up Job's own deadline follows the long helm timeout (it would end in ~9 min), so the
    # store only ever waits: it is the provisioning deadline, counted from the pick-up, that ends it.
    deadline = 45
    settings = platform_settings(
        slow_cluster,
        tmp_path,
        store_values_file=str(_never_ready_values(tmp_path)),
        provision_deadline=deadline,
        helm_timeout=600,
    )
    with running_platform(slow_cluster, settings) as p:
        (sid,) = create(p, ["stuck"])
        failed = p.wait_for(sid, "failed", "ready", limit=deadline + 120)
        assert failed["status"] == "failed", p.events(sid)
        reason = failed["status_reason"]
        assert reason.startswith(
            f"the store did not become ready within the provisioning deadline ({deadline}s)"
        )
        assert "job/stuck-setup-r1: running" in reason, reason
        history = p.get(f"/stores/{sid}/history").json()
        assert [r["status"] for r in history] == ["failed"], history
        assert "not ready" in history[0]["description"], history


def test_a_worker_killed_while_its_stores_wait_is_replaced_at_once_and_nothing_runs_twice(
    slow_cluster: ClusterClient, tmp_path: Path
) -> None:
    recorder = HelmRecorder(slow_cluster.bin_dir / "helm", tmp_path)
    # A lease of two minutes: if the new worker waited for it, the stores would settle far later.
    settings = platform_settings(
        slow_cluster,
        tmp_path,
        helm_binary=str(recorder.binary),
        lease_seconds=120,
        store_values_file=str(_slow_setup_values(tmp_path)),
    )
    with running_platform(slow_cluster, settings, workers=False) as p:
        with worker_process(settings, tmp_path / "worker-1.log") as first:
            ids = create(p, [f"crash-{i}" for i in range(3)])
            until(
                lambda: sum(1 for j in jobs(p) if j.status == "running" and j.waiting_for) == 3,
                limit=120,
                what=lambda: (
                    f"three stores waiting: {[(j.store_id, j.status, j.waiting_for) for j in jobs(p)]}"
                ),
            )
            leases = {j.id: j.lease_expires_at for j in jobs(p)}
            first.kill()
        with worker_process(settings, tmp_path / "worker-2.log"):
            for sid in ids:
                assert p.wait_for(sid, "ready", "failed", limit=240)["status"] == "ready", p.events(sid)
        for sid in ids:
            taken = [e for e in p.get(f"/stores/{sid}/events").json() if "is gone" in e["message"]]
            assert taken, p.events(sid)
            (job,) = [j for j in jobs(p) if j.store_id == sid and j.kind == "provision"]
            # Taken over while the dead worker's lease still ran.
            assert datetime.fromisoformat(taken[0]["at"]) < leases[job.id], (taken, leases[job.id])
            history = p.get(f"/stores/{sid}/history").json()
            assert [r["status"] for r in history] == ["deployed"], history  # no second revision
    assert recorder.overlaps_within_a_namespace() == []


def _slow_setup_values(tmp_path: Path) -> Path:
    values = yaml.safe_load(LOCAL_STORE_VALUES.read_text())
    values.setdefault("setup", {})["podAnnotations"] = {"sim.storeplane.io/run-duration": "25s"}
    path = tmp_path / "slow-setup-values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path
