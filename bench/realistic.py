"""Provisioning at real-cluster speeds (issue 9; DESIGN.md §9): the simulated cluster's `realistic`
latency profile (image pulls, database start-up, set-up Jobs, termination: docs/simulated-cluster.md),
the real platform (`python -m app serve`, SQLite, one worker process at concurrency 4).

Prints, each against its goal:
- one store alone, then 20 created at once: all Ready within 1.5 x one store's time; the peak number
  of helm processes at once (never above the worker concurrency);
- the same 20 as bare `helm upgrade --install --wait` runs at concurrency 4: ours ≤ 0.5 x that;
- one delete, then 20 deletes at once, until every namespace and volume is gone: ≤ 1.5 x one;
- the serving process SIGKILLed with 8 stores mid-install and restarted: seconds from the restart
  until all 8 are Ready, whether any store got a second release revision, and whether two helm
  processes ever acted on one store at once.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

from app.simcluster.client import ClusterClient
from app.simcluster.latency import Latency
from app.simcluster.session import ensure_cluster
from bench.harness import LOCAL_STORE_VALUES, STORE_CHART, platform_env, running_platform
from tests.cluster.e2e.platform import HelmRecorder

# 20 WooCommerce stores of ~0.9 CPU of requests each, plus room: 4 nodes of 16 CPU.
NODES = 4
CONCURRENCY = 4


def _create(http: httpx.Client, names: list[str]) -> list[str]:
    ids = []
    for name in names:
        r = http.post("/api/v1/stores", json={"name": name, "engine": "woocommerce"})
        r.raise_for_status()
        ids.append(r.json()["id"])
    return ids


def _until(http: httpx.Client, ids: list[str], statuses: set[str], limit: float = 1800) -> dict[str, str]:
    deadline = time.monotonic() + limit
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        listing = http.get("/api/v1/stores", params={"include_deleted": "true"}).json()
        rows = listing["items"] if isinstance(listing, dict) else listing
        seen = {s["id"]: s["status"] for s in rows if s["id"] in ids}
        if len(seen) == len(ids) and all(v in statuses for v in seen.values()):
            return seen
        time.sleep(0.5)
    raise RuntimeError(f"stores did not reach {statuses} within {limit:.0f}s: {seen}")


def _platform_args(recorder: HelmRecorder) -> dict[str, str]:
    return {
        "STOREPLANE_HELM_BINARY": str(recorder.binary),
        "STOREPLANE_WORKER_CONCURRENCY": str(CONCURRENCY),
        "STOREPLANE_GLOBAL_CONCURRENCY": str(CONCURRENCY),
    }


def burst(cluster: ClusterClient, tmp: Path, count: int) -> tuple[float, float, int, float]:
    """(one store alone, `count` at once, helm peak, 20 deletes' ratio inputs…) through the API."""
    recorder = HelmRecorder(cluster.bin_dir / "helm", tmp)
    with running_platform(cluster, tmp, **_platform_args(recorder)) as platform, platform.client() as http:
        run = secrets.token_hex(2)
        started = time.monotonic()
        (alone,) = _create(http, [f"one{run}"])
        _until(http, [alone], {"ready"})
        one = time.monotonic() - started

        started = time.monotonic()
        many = _create(http, [f"b{run}-{i}" for i in range(count)])
        _until(http, many, {"ready"})
        burst_s = time.monotonic() - started
        peak = recorder.max_concurrent()
        _print_phases(http, many)

        started = time.monotonic()
        http.delete(f"/api/v1/stores/{alone}").raise_for_status()
        _until(http, [alone], {"deleted"})
        one_delete = time.monotonic() - started

        started = time.monotonic()
        for store_id in many:
            http.delete(f"/api/v1/stores/{store_id}").raise_for_status()
        _until(http, many, {"deleted"})
        deletes = time.monotonic() - started
        print(f"deletes: one {one_delete:.1f} s, {count} at once {deletes:.1f} s: "
              f"ratio {deletes / one_delete:.2f} (goal <= 1.5)")  # fmt: skip
        return one, burst_s, peak, deletes / one_delete


def _print_phases(http: httpx.Client, ids: list[str]) -> None:
    """Where a burst's time goes, per store: queued for a slot, helm applying, waiting for pods
    (read from each store's activity log)."""

    def first(events: list[dict], text: str) -> float | None:
        stamps = [datetime.fromisoformat(e["at"]).timestamp() for e in events if text in e["message"]]
        return stamps[0] if stamps else None

    phases: dict[str, list[float]] = {"queued for a slot": [], "helm applying": [], "waiting": []}
    for store_id in ids:
        events = http.get(f"/api/v1/stores/{store_id}/events").json()
        created = datetime.fromisoformat(events[0]["at"]).timestamp()
        started = first(events, "helm upgrade --install")
        ready = first(events, "is deployed and ready")
        if started is None or ready is None:
            continue
        applied = first(events, " applied; waiting for ") or ready
        phases["queued for a slot"].append(started - created)
        phases["helm applying"].append(applied - started)
        phases["waiting"].append(ready - applied)
    for name, values in phases.items():
        values.sort()
        if values:
            print(f"  {name}: median {values[len(values) // 2]:.1f} s, max {values[-1]:.1f} s")


def bare_helm(cluster: ClusterClient, count: int) -> float:
    run = secrets.token_hex(2)

    def one(i: int) -> None:
        name, namespace = f"bare{run}-{i}", f"bench-bare-{run}-{i}"
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
        cluster.helm(
            "upgrade", "--install", name, str(STORE_CHART), "-n", namespace, "-f", str(LOCAL_STORE_VALUES),
            "--set", f"engine=woocommerce,host={name}.localhost", "--wait=watcher", "--wait-for-jobs",
            "--timeout", "1800s",
        )  # fmt: skip

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.monotonic() - started
    for i in range(count):
        cluster.kubectl("delete", "namespace", f"bench-bare-{run}-{i}", "--wait=false")
    return elapsed


def _jobs(data_dir: Path) -> list[tuple[str, str, str | None]]:
    """(store, status, lease owner) of the provisioning jobs, read from the platform's SQLite."""
    with sqlite3.connect(f"file:{data_dir / 'storeplane.db'}?mode=ro", uri=True, timeout=30) as db:
        rows = db.execute("SELECT store_id, status, lease_owner FROM jobs WHERE kind = 'provision'")
        return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def crash(cluster: ClusterClient, tmp: Path, count: int) -> None:
    """`count` stores to Ready without a crash (the baseline), then the same with `serve`
    SIGKILLed once every store is applied and waiting, and restarted. Prints how soon the new
    process took the jobs over and how much later the stores were Ready than without the crash
    (the downtime itself excluded): the crash's own cost."""
    recorder = HelmRecorder(cluster.bin_dir / "helm", tmp / "crash")
    (tmp / "crash").mkdir()
    # A long lease: a takeover at once can only come from seeing the old process gone.
    extra = {**_platform_args(recorder), "STOREPLANE_LEASE_SECONDS": "120"}
    with running_platform(cluster, tmp / "crash", **extra) as platform, platform.client() as http:
        started = time.monotonic()
        ids = _create(http, [f"base{secrets.token_hex(2)}-{i}" for i in range(count)])
        _until(http, ids, {"ready"})
        baseline = time.monotonic() - started
        for i in ids:
            http.delete(f"/api/v1/stores/{i}").raise_for_status()
        _until(http, ids, {"deleted"})

        started = time.monotonic()
        ids = _create(http, [f"crash{secrets.token_hex(2)}-{i}" for i in range(count)])
        namespaces = [http.get(f"/api/v1/stores/{i}").json()["namespace"] for i in ids]
        while not all(_release_deployed(cluster, ns) for ns in namespaces):  # applied, now waiting
            time.sleep(0.2)
        killed_after = time.monotonic() - started
        os.kill(platform.process.pid, signal.SIGKILL)
        platform.process.wait()
        before = {store: owner for store, _, owner in _jobs(tmp / "crash") if store in ids}
    port = platform.base.rsplit(":", 1)[1]
    env = platform_env(cluster, tmp / "crash", int(port), **extra)
    log = tmp / "crash" / "serve-2.log"
    with log.open("wb") as out:
        restarted = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, stdout=out, stderr=out)
    try:
        while True:  # the new process holds every interrupted job again
            now = {store: owner for store, _, owner in _jobs(tmp / "crash") if store in ids}
            if all(now[s] and now[s] != before[s] for s in ids):
                break
            time.sleep(0.1)
        taken_over = time.monotonic() - restarted
        with httpx.Client(base_url=platform.base, headers=platform.headers, timeout=30) as http:
            _until(http, ids, {"ready", "failed"})
            settled = time.monotonic() - restarted
            statuses = {i: http.get(f"/api/v1/stores/{i}").json()["status"] for i in ids}
            revisions = {i: len(http.get(f"/api/v1/stores/{i}/history").json()) for i in ids}
            for i in ids:
                http.delete(f"/api/v1/stores/{i}")
            _until(http, ids, {"deleted"})
    finally:
        process.terminate()
        process.wait(60)
    overlaps = recorder.overlaps_within_a_namespace()
    cost = killed_after + settled - baseline
    print(
        f"crash: {count} stores, no crash: all Ready in {baseline:.1f} s; with serve SIGKILLed "
        f"{killed_after:.1f} s in (all applied, waiting) and restarted: jobs taken over "
        f"{taken_over:.1f} s after the restart (lease 120 s), all settled {settled:.1f} s after it; "
        f"the crash cost {cost:.1f} s beyond the downtime (goal <= 10); statuses "
        f"{sorted(set(statuses.values()))}; revisions per store {sorted(set(revisions.values()))}; "
        f"helm overlaps on one store: {len(overlaps)}"
    )


def _release_deployed(cluster: ClusterClient, namespace: str) -> bool:
    out = cluster.kubectl(
        "get", "secret", "-n", namespace, "-l", "owner=helm,status=deployed", "-o", "name", check=False
    )
    return bool(out.strip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--crash-stores", type=int, default=8)
    parser.add_argument("--scale", type=float, default=1.0, help="scale every realistic delay")
    parser.add_argument("--skip-bare", action="store_true", help="skip the bare-helm comparison")
    args = parser.parse_args(argv)
    latency = Latency("realistic", args.scale)
    with ensure_cluster(nodes=NODES, reuse=False, latency=latency) as cluster:
        print(f"simulated cluster: {NODES} nodes, latency {json.dumps(latency.as_state())}")
        with tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp:
            one, burst_s, peak, _ = burst(cluster, Path(tmp), args.stores)
        print(f"one store alone: {one:.1f} s to Ready")
        print(
            f"{args.stores} stores at once (worker concurrency {CONCURRENCY}): {burst_s:.1f} s: "
            f"ratio {burst_s / one:.2f} (goal <= 1.5); "
            f"helm processes at once: peak {peak} (cap {CONCURRENCY})"
        )
        if not args.skip_bare:
            bare = bare_helm(cluster, args.stores)
            print(f"bare helm --wait, {args.stores} at concurrency {CONCURRENCY}: {bare:.1f} s: "
                  f"ours / bare {burst_s / bare:.2f} (goal <= 0.5)")  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp:
            crash(cluster, Path(tmp), args.crash_stores)


if __name__ == "__main__":
    main()
