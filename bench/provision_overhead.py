"""Orchestration overhead (DESIGN.md §9): N stores to Ready through our API at concurrency C, against
N bare `helm upgrade --install --wait` runs of the same chart and values at the same concurrency.
Target: API time within 1.10 times bare helm."""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.simcluster.client import ClusterClient
from app.simcluster.session import ensure_cluster
from bench.harness import BENCH_NODES, LOCAL_STORE_VALUES, STORE_CHART, all_stores, running_platform

PSA = ["pod-security.kubernetes.io/enforce=restricted"]


def bare_helm(cluster: ClusterClient, count: int, concurrency: int) -> float:
    """Wall time of `count` namespace+helm installs, `concurrency` at a time, as our worker runs them."""
    run = secrets.token_hex(3)

    def one(i: int) -> None:
        name, namespace = f"bare{run}-{i}", f"bench-bare-{run}-{i}"
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("label", "namespace", namespace, *PSA)
        cluster.helm(
            "upgrade", "--install", name, str(STORE_CHART), "-n", namespace,
            "-f", str(LOCAL_STORE_VALUES),
            "--set", f"engine=woocommerce,host={name}.localhost,ingress.className=nginx",
            "--wait=watcher", "--wait-for-jobs", "--timeout", "600s",
        )  # fmt: skip

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.monotonic() - started
    for i in range(count):
        cluster.kubectl("delete", "namespace", f"bench-bare-{run}-{i}", "--wait=false")
    return elapsed


def through_api(cluster: ClusterClient, count: int, concurrency: int) -> tuple[float, int]:
    """Wall time from the first POST until every store is Ready; and how many failed."""
    with (
        tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp,
        running_platform(
            cluster,
            Path(tmp),
            STOREPLANE_WORKER_CONCURRENCY=str(concurrency),
            STOREPLANE_GLOBAL_CONCURRENCY=str(concurrency),
        ) as platform,
        platform.client() as http,
    ):
        run = secrets.token_hex(3)
        started = time.monotonic()
        ids = []
        for i in range(count):
            r = http.post("/api/v1/stores", json={"name": f"api{run}-{i}", "engine": "woocommerce"})
            r.raise_for_status()
            ids.append(r.json()["id"])
        pending = set(ids)
        failed = 0
        while pending:
            for store in all_stores(http):
                if store["id"] in pending and store["status"] in ("ready", "failed"):
                    pending.discard(store["id"])
                    failed += store["status"] == "failed"
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        for store_id in ids:
            http.delete(f"/api/v1/stores/{store_id}")
        return elapsed, failed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    with ensure_cluster(nodes=BENCH_NODES, reuse=False) as cluster:
        helm_s = bare_helm(cluster, args.stores, args.concurrency)
        print(f"bare helm:  {args.stores} stores at concurrency {args.concurrency}: {helm_s:.1f} s")
        api_s, failed = through_api(cluster, args.stores, args.concurrency)
        print(f"through API: {args.stores} stores at concurrency {args.concurrency}: {api_s:.1f} s")
        print(f"through API: {failed} of {args.stores} stores failed")
        print(f"overhead ratio: {api_s / helm_s:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
