"""Rollout overhead (issue 13): N Ready stores moved to a new store chart by a rollout (a canary, then
waves of ordinary upgrade jobs, each waiting for Ready) at parallelism P, against the same N
releases upgraded by bare `helm upgrade --reuse-values --wait=watcher --wait-for-jobs` at the same
parallelism. Target: the rollout within 1.15 times bare helm.

The stores are made on a copy of the store chart at 0.1.9; the rollout ships 0.2.0, bare helm then
0.2.1 (editing the copy is what deploying a new chart looks like to the workers)."""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.simcluster.client import ClusterClient
from app.simcluster.session import ensure_cluster
from bench.harness import BENCH_NODES, all_stores, running_platform
from tests.fleet_charts import chart_copy, set_version


def bare_helm(
    cluster: ClusterClient, chart: Path, releases: list[tuple[str, str]], parallelism: int
) -> float:
    def one(release: tuple[str, str]) -> None:
        name, namespace = release
        cluster.helm(
            "upgrade", name, str(chart), "-n", namespace, "--reuse-values",
            "--wait=watcher", "--wait-for-jobs", "--timeout", "600s",
        )  # fmt: skip

    started = time.monotonic()
    with ThreadPoolExecutor(parallelism) as pool:
        list(pool.map(one, releases))
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--canary", type=int, default=1)
    parser.add_argument("--wave-size", type=int, default=16)
    args = parser.parse_args(argv)
    with (
        ensure_cluster(nodes=BENCH_NODES, reuse=False) as cluster,
        tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp,
    ):
        chart = chart_copy(Path(tmp), "0.1.9")
        concurrency = str(args.parallelism)
        with (
            running_platform(
                cluster,
                Path(tmp),
                STOREPLANE_STORE_CHART=str(chart),
                STOREPLANE_WORKER_CONCURRENCY=concurrency,
                STOREPLANE_GLOBAL_CONCURRENCY=concurrency,
            ) as platform,
            platform.client() as http,
        ):
            run = secrets.token_hex(3)
            stores = [
                http.post("/api/v1/stores", json={"name": f"ro{run}-{i}", "engine": "woocommerce"}).json()
                for i in range(args.stores)
            ]
            pending = {s["id"] for s in stores}
            while pending:
                for s in all_stores(http):
                    if s["id"] in pending and s["status"] in ("ready", "failed"):
                        if s["status"] == "failed":
                            raise RuntimeError(f"store {s['name']} failed: {s['status_reason']}")
                        pending.discard(s["id"])
                time.sleep(0.5)
            print(f"{args.stores} stores ready on store 0.1.9")

            set_version(chart, "0.2.0")
            body = {
                "selection": {"all": True},
                "canary": args.canary,
                "wave_size": args.wave_size,
                "parallelism": args.parallelism,
            }
            started = time.monotonic()
            rollout = http.post("/api/v1/rollouts", json=body).json()
            while rollout["status"] == "running":
                time.sleep(0.2)
                rollout = http.get(f"/api/v1/rollouts/{rollout['id']}").json()
            rollout_s = time.monotonic() - started
            print(
                f"rollout:   {args.stores} stores, canary {args.canary}, waves of {args.wave_size}, "
                f"{args.parallelism} at once: {rollout_s:.1f} s ({rollout['status']}; {rollout['counts']})"
            )

        set_version(chart, "0.2.1")
        releases = [(s["name"], s["namespace"]) for s in stores]
        helm_s = bare_helm(cluster, chart, releases, args.parallelism)
        print(f"bare helm: {args.stores} `helm upgrade --wait` at {args.parallelism} at once: {helm_s:.1f} s")
        print(f"overhead ratio: {rollout_s / helm_s:.3f} (target <= 1.15)")


if __name__ == "__main__":
    main()
