"""Horizontal workers (DESIGN.md §9): stores to Ready with one worker process against two, both on
PostgreSQL, the API in its own process (`serve --no-workers`). Target: two give >= 1.6 times the
throughput of one. Each worker runs `--concurrency` helm actions at once."""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.simcluster.client import ClusterClient
from app.simcluster.session import ensure_cluster
from bench.harness import BENCH_NODES, all_stores, platform_env, running_platform
from tests.fixtures_db import fresh_postgres_database, throwaway_postgres


def run(cluster: ClusterClient, admin_url: str, workers: int, stores: int, concurrency: int) -> float:
    database = fresh_postgres_database(admin_url)
    knobs = {
        "STOREPLANE_DATABASE_URL": database,
        "STOREPLANE_WORKER_CONCURRENCY": str(concurrency),
        "STOREPLANE_GLOBAL_CONCURRENCY": str(concurrency * workers),
    }
    with tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp:
        data = Path(tmp)
        with (
            running_platform(cluster, data, args=("--no-workers",), **knobs) as platform,
            platform.client() as http,
        ):
            env = platform_env(cluster, data, 1, **knobs)
            procs = [
                subprocess.Popen([sys.executable, "-m", "app", "worker"], env=env, stdout=subprocess.DEVNULL)
                for _ in range(workers)
            ]
            try:
                tag = secrets.token_hex(3)
                started = time.monotonic()
                ids = {
                    http.post("/api/v1/stores", json={"name": f"w{tag}-{i}", "engine": "woocommerce"}).json()[
                        "id"
                    ]
                    for i in range(stores)
                }
                while ids:
                    done = {s["id"] for s in all_stores(http) if s["status"] in ("ready", "failed")}
                    ids -= done
                    time.sleep(0.2)
                return time.monotonic() - started
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(timeout=60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    with ensure_cluster(nodes=BENCH_NODES, reuse=False) as cluster, throwaway_postgres() as admin_url:
        one = run(cluster, admin_url, 1, args.stores, args.concurrency)
        print(f"1 worker  x {args.concurrency}: {args.stores} stores in {one:.1f} s")
        two = run(cluster, admin_url, 2, args.stores, args.concurrency)
        print(f"2 workers x {args.concurrency}: {args.stores} stores in {two:.1f} s")
        print(f"throughput ratio: {one / two:.2f} (target >= 1.6)")


if __name__ == "__main__":
    main()
