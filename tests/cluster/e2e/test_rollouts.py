"""A rollout of a new store chart over 10 stores on the simulated cluster, real helm and the real
store chart, with the worker as its own process (`python -m app worker`, which runs the rollout
controller too), so that it can be SIGKILLed mid-wave like a crashed pod.

The stores are created on a copy of the store chart whose Chart.yaml says 0.1.9; "shipping" the new
chart is editing that copy to 0.2.0 (and its set-up to run 3 s, a window to kill the worker in),
exactly what deploying a new platform image with a new chart looks like to the workers. One store
is made to fail: it carries a value (Store.chart_values, which no API sets: an operator's hand edit)
that makes its set-up pod exit 3 on the simulated cluster (`sim.storeplane.io/exit-code`).
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.models import Job, Store
from app.db.users import get_or_create_user, issue_token
from app.helm import storage
from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import (
    HelmRecorder,
    Platform,
    platform_settings,
    running_platform,
    until,
    worker_process,
)
from tests.fleet_charts import FAILING_SETUP, chart_copy, set_version


def admin_headers(p: Platform) -> dict[str, str]:
    engine = make_engine(p.settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            token = issue_token(session, get_or_create_user(session, "root", is_admin=True))
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {token}"}


def set_values(p: Platform, store_id: str, values: dict[str, Any]) -> None:
    engine = make_engine(p.settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            session.get_one(Store, store_id).chart_values = values
    finally:
        engine.dispose()


def upgrade_jobs(p: Platform, store_id: str) -> int:
    engine = make_engine(p.settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            query = select(Job.id).where(Job.store_id == store_id, Job.kind == "upgrade")
            return len(session.execute(query).all())
    finally:
        engine.dispose()


def revisions(cluster: ClusterClient, namespace: str) -> list[tuple[int, str, str]]:
    """(revision, status, chart version) of every revision Helm stores, oldest first."""
    items = cluster.kubectl_json("get", "secret", "-n", namespace, "-l", "owner=helm")["items"]
    found = []
    for item in items:
        record = storage.decode_release(base64.b64decode(item["data"]["release"]))
        found.append(
            (int(record["version"]), record["info"]["status"], record["chart"]["metadata"]["version"])
        )
    return sorted(found)


def test_a_rollout_goes_canary_then_waves_halts_on_a_failure_survives_a_crash_resumes_and_aborts(
    cluster: ClusterClient, tmp_path: Path
) -> None:
    chart = chart_copy(tmp_path, "0.1.9")
    recorder = HelmRecorder(cluster.bin_dir / "helm", tmp_path)
    settings = platform_settings(
        cluster,
        tmp_path,
        store_chart=str(chart),
        helm_binary=str(recorder.binary),
        lease_seconds=30,
        rollout_tick_seconds=0.5,
        worker_concurrency=6,
        global_concurrency=6,
    )
    with running_platform(cluster, settings, workers=False) as p:
        root = admin_headers(p)
        with worker_process(settings, tmp_path / "worker-1.log") as first:
            ids = [
                p.post("/stores", {"name": f"fleet-{i}", "engine": "woocommerce"}).json()["id"]
                for i in range(10)
            ]
            for sid in ids:
                assert p.wait_for(sid, "ready", "failed")["status"] == "ready", p.events(sid)
            assert {p.store(sid)["chart_version"] for sid in ids} == {"0.1.9"}
            bad = ids[6]  # the last store of wave 2
            set_values(p, bad, FAILING_SETUP)
            set_version(chart, "0.2.0", setup_seconds=3)  # the new chart ships

            fleet = p.client.get("/api/v1/fleet", headers=root).json()
            assert (fleet["current"]["chart_version"], fleet["behind_total"]) == ("0.2.0", 10)
            assert fleet["by_chart_version"] == {"0.1.9": 10}

            r = p.client.post(
                "/api/v1/rollouts",
                json={"selection": {"all": True}, "canary": 1, "wave_size": 3, "parallelism": 2},
                headers=root,
            )
            assert r.status_code == 201, r.text
            rid = r.json()["id"]
            rollout = lambda: p.client.get(f"/api/v1/rollouts/{rid}", headers=root).json()  # noqa: E731
            steps = lambda: {s["store_id"]: s for w in rollout()["waves"] for s in w["steps"]}  # noqa: E731
            assert [len(w["steps"]) for w in rollout()["waves"]] == [1, 3, 3, 3]

            # Mid wave 1: a store applied its new revision and waits for its set-up. The owner's own
            # action is refused with the reason; then the worker dies.
            victim = until(
                lambda: next(
                    (
                        sid
                        for sid in ids[1:4]
                        if steps()[sid]["state"] == "upgrading" and _applied(cluster, sid)
                    ),
                    None,
                ),
                limit=180,
                what=lambda: f"a wave-1 store to be applied; rollout {rollout()}",
                every=0.2,
            )
            refused = p.post(f"/stores/{victim}/verify")
            assert refused.status_code == 409 and refused.json()["type"].endswith("store-in-rollout"), (
                refused.text
            )
            first.kill()

        with worker_process(settings, tmp_path / "worker-2.log"):
            halted = until(
                lambda: (x := rollout())["status"] == "halted" and x,
                limit=300,
                what=lambda: f"the rollout to halt; {rollout()}",
            )
            assert halted["status_reason"] == "halted: 1 store(s) failed, none tolerated"
            state = steps()
            assert state[bad]["state"] == "failed" and "rolled back" in state[bad]["error"], state[bad]
            assert [state[sid]["state"] for sid in ids[7:]] == ["pending"] * 3  # wave 3 never started
            assert {state[sid]["state"] for sid in ids[:6]} == {"succeeded"}
            # The killed worker's store: the new worker waited for the revision it had applied.
            assert revisions(cluster, f"store-{victim}") == [
                (1, "superseded", "0.1.9"),
                (2, "deployed", "0.2.0"),
            ]
            assert upgrade_jobs(p, victim) == 1
            # The failing store is back on its last good revision; the untouched ones never moved.
            assert revisions(cluster, f"store-{bad}")[-2:] == [
                (2, "failed", "0.2.0"),
                (3, "deployed", "0.1.9"),
            ]
            for sid in ids[7:]:
                assert revisions(cluster, f"store-{sid}") == [(1, "deployed", "0.1.9")]
                assert p.store(sid)["chart_version"] == "0.1.9"

            set_values(p, bad, {})  # fixed
            assert p.client.post(f"/api/v1/rollouts/{rid}/resume", headers=root).status_code == 200
            done = until(
                lambda: (x := rollout())["status"] == "completed" and x,
                limit=300,
                what=lambda: f"the rollout to complete; {rollout()}",
            )
            assert done["counts"]["succeeded"] == 10
            assert max_in_flight(steps().values()) <= 2  # the parallelism was never exceeded
            for sid in ids:
                assert revisions(cluster, f"store-{sid}")[-1][1:] == ("deployed", "0.2.0")
                assert p.store(sid)["chart_version"] == "0.2.0"
            assert p.client.get("/api/v1/fleet", headers=root).json()["behind_total"] == 0

            # Abort: a chart 0.2.1 rolled out to three stores one at a time, aborted during the canary.
            set_version(chart, "0.2.1")
            r = p.client.post(
                "/api/v1/rollouts",
                json={"selection": {"stores": ids[:3]}, "canary": 1, "wave_size": 2, "parallelism": 1},
                headers=root,
            )
            rid = r.json()["id"]
            until(
                lambda: steps()[ids[0]]["state"] == "upgrading",
                limit=60,
                what=lambda: f"{rollout()}",
                every=0.2,
            )
            assert p.client.post(f"/api/v1/rollouts/{rid}/abort", headers=root).status_code == 200
            aborted = until(
                lambda: (x := rollout())["finished_at"] and x, limit=120, what=lambda: f"{rollout()}"
            )
            assert aborted["status"] == "aborted"
            assert [steps()[sid]["state"] for sid in ids[:3]] == ["succeeded", "skipped", "skipped"]
            assert [p.store(sid)["chart_version"] for sid in ids[:3]] == ["0.2.1", "0.2.0", "0.2.0"]

    # Never two helm processes on one store at once.
    assert recorder.overlaps_within_a_namespace() == []


def max_in_flight(steps: Any) -> int:
    edges = []
    for s in steps:
        if s["started_at"] and s["finished_at"]:
            edges += [
                (datetime.fromisoformat(s["started_at"]), 1),
                (datetime.fromisoformat(s["finished_at"]), -1),
            ]
    peak = running = 0
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak


def _applied(cluster: ClusterClient, store_id: str) -> bool:
    labels = [
        s["metadata"]["labels"]
        for s in cluster.kubectl_json("get", "secret", "-n", f"store-{store_id}", "-l", "owner=helm")["items"]
    ]
    return any(label["version"] == "2" and label["status"] == "deployed" for label in labels)
