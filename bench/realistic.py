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
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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


def crash(cluster: ClusterClient, tmp: Path, count: int) -> None:
    """SIGKILL `serve` while `count` stores install, restart it, time until all are Ready."""
    recorder = HelmRecorder(cluster.bin_dir / "helm", tmp)
    extra = {**_platform_args(recorder), "STOREPLANE_LEASE_SECONDS": "60"}
    with running_platform(cluster, tmp, **extra) as platform, platform.client() as http:
        ids = _create(http, [f"crash{secrets.token_hex(2)}-{i}" for i in range(count)])
        time.sleep(8)  # every store applied or being applied, none Ready yet
        os.kill(platform.process.pid, signal.SIGKILL)
        platform.process.wait()
    port = platform.base.rsplit(":", 1)[1]
    env = platform_env(cluster, tmp, int(port), **extra)
    log = tmp / "serve-2.log"
    with log.open("wb") as out:
        restarted = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, stdout=out, stderr=out)
    try:
        with httpx.Client(base_url=platform.base, headers=platform.headers, timeout=30) as http:
            while True:
                try:
                    _until(http, ids, {"ready", "failed"})
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
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
    print(
        f"crash: {count} stores mid-install, serve SIGKILLed and restarted: all settled "
        f"{settled:.1f} s after the restart; statuses {sorted(set(statuses.values()))}; "
        f"revisions per store {sorted(set(revisions.values()))}; "
        f"helm overlaps on one store: {len(overlaps)}"
    )


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
