"""API latency while stores provision (DESIGN.md §9): p95 of the store list and store detail
requests stays under 50 ms while workers run helm in the same process."""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

from app.simcluster.session import ensure_cluster
from bench.harness import BENCH_NODES, running_platform, summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=12)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    with (
        ensure_cluster(nodes=BENCH_NODES, reuse=False) as cluster,
        tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp,
        running_platform(cluster, Path(tmp)) as platform,
        platform.client() as http,
    ):
        run = secrets.token_hex(3)
        ids = [
            http.post("/api/v1/stores", json={"name": f"lat{run}-{i}", "engine": "woocommerce"}).json()["id"]
            for i in range(args.stores)
        ]
        timings: dict[str, list[float]] = {"GET /api/v1/stores": [], "GET /api/v1/stores/{id}": []}
        busy = 0
        for n in range(args.requests):
            for label, path in (
                ("GET /api/v1/stores", "/api/v1/stores"),
                ("GET /api/v1/stores/{id}", f"/api/v1/stores/{ids[n % len(ids)]}"),
            ):
                started = time.perf_counter()
                http.get(path).raise_for_status()
                timings[label].append((time.perf_counter() - started) * 1000)
            statuses = [s["status"] for s in http.get("/api/v1/stores").json()["items"]]
            busy += any(s in ("pending", "provisioning") for s in statuses)
        print(f"{args.stores} stores provisioning; {busy}/{args.requests} rounds ran while some were")
        for label, samples in timings.items():
            print(f"{label:28} {summary(samples)}  (target p95 < 50 ms)")
        for store_id in ids:
            http.delete(f"/api/v1/stores/{store_id}")


if __name__ == "__main__":
    main()
