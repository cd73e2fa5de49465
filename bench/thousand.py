"""1,000 stores on one platform (issue 15), end to end: the real platform (`python -m app serve` with
its embedded workers, SQLite, worker concurrency 8) provisions real store-chart releases on a private
simulated cluster (fast profile) of 40 fake nodes (16 CPU, 64 GiB, 110 pods each: a WooCommerce
store requests 0.5 CPU and runs 2 pods, so 1,000 stores use 500 of the 640 CPUs), in bursts.

Prints, asserts nothing:
- each burst's time (flat means nothing degrades as the platform fills up);
- at 1,000 Ready stores: the API list p95 per page (first page and a page deep in by cursor), the
  dashboard page p95 (an administrator's), one sweep, the serve process' RSS (goals:
  list < 50 ms, dashboard < 150 ms, sweep < 1 s, RSS < 200 MB);
- deleting all 1,000 at once: the time until every store is Deleted, and what is left in the
  cluster (store namespaces, their volumes): the goal is nothing.
The dashboard during a 200-store burst is `python -m bench dashboard polling` (same goals).
`--stores N --nodes M` scale it down (e.g. 100 stores on 8 nodes to try it).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from app.auth import accounts
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.settings import Settings
from app.simcluster.client import ClusterClient
from app.simcluster.session import ensure_cluster
from app.sweep import Sweeper
from bench.dashboard import PASSWORD, login, timed
from bench.harness import all_stores, percentile, rss_mb, running_platform, summary


def _create(http: httpx.Client, prefix: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        r = http.post("/api/v1/stores", json={"name": f"{prefix}-{i}", "engine": "woocommerce"})
        r.raise_for_status()
        ids.append(r.json()["id"])
    return ids


def _until(http: httpx.Client, ids: set[str], statuses: set[str], limit: float = 3600) -> dict[str, int]:
    """Wait until every store of `ids` has one of `statuses`; returns the count per final status."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        seen = {s["id"]: s["status"] for s in all_stores(http, "include_deleted=true") if s["id"] in ids}
        if len(seen) == len(ids) and all(v in statuses for v in seen.values()):
            counts: dict[str, int] = {}
            for value in seen.values():
                counts[value] = counts.get(value, 0) + 1
            return counts
        time.sleep(2)
    raise RuntimeError(f"stores did not reach {statuses} within {limit:.0f}s")


def _sweep_seconds(data_dir: Path, cluster: ClusterClient) -> float:
    """One sweep of the periodic sweep against the platform's database and cluster."""
    settings = Settings(
        data_dir=data_dir,
        kubeconfig=str(cluster.kubeconfig),
        helm_binary=str(cluster.bin_dir / "helm"),
        orphan_grace_seconds=30 * 24 * 3600.0,
    )
    engine = make_engine(settings.effective_database_url, settings)
    try:
        sweeper = Sweeper(make_sessionmaker(engine), settings)

        async def once() -> float:
            await sweeper.sweep()  # warm: the first builds clients
            started = time.perf_counter()
            await sweeper.sweep()
            return time.perf_counter() - started

        return asyncio.run(once())
    finally:
        engine.dispose()


def _dashboard_user(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'storeplane.db'}")
    try:
        with transaction(make_sessionmaker(engine)) as session:
            accounts.create_user(session, name="boss", password=PASSWORD, is_admin=True)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    with (
        ensure_cluster(nodes=args.nodes, reuse=False) as cluster,
        tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp,
    ):
        data = Path(tmp)
        extra = {
            "STOREPLANE_WORKER_CONCURRENCY": str(args.concurrency),
            "STOREPLANE_GLOBAL_CONCURRENCY": str(args.concurrency),
            "STOREPLANE_PROVISION_DEADLINE": "3600",
            "STOREPLANE_RECONCILE_INTERVAL_SECONDS": "60",
        }
        with running_platform(cluster, data, **extra) as platform, platform.client() as http:
            _dashboard_user(data)
            ids: set[str] = set()
            for n in range(0, args.stores, args.burst):
                started = time.monotonic()
                batch = set(_create(http, f"k{n // args.burst}", min(args.burst, args.stores - n)))
                counts = _until(http, batch, {"ready", "failed"})
                ids |= batch
                print(
                    f"burst {n // args.burst + 1}: {len(batch)} stores in {time.monotonic() - started:.1f} s "
                    f"({counts}); {len(ids)} in all; serve RSS {rss_mb(platform.process.pid):.0f} MB",
                    flush=True,
                )

            first, size = timed(http, "/api/v1/stores?limit=50", 40)
            page = http.get("/api/v1/stores?limit=50").json()
            for _ in range(min(10, args.stores // 50 - 1)):  # a page deep in, by cursor
                page = http.get("/api/v1/stores", params={"limit": 50, "cursor": page["next_cursor"]}).json()
            deep, _ = timed(http, f"/api/v1/stores?limit=50&cursor={page['next_cursor']}", 40)
            with httpx.Client(base_url=platform.base, timeout=30) as browser:
                login(browser, "boss")
                dashboard, dash_size = timed(browser, "/", 30)
            sweep = _sweep_seconds(data, cluster)
            print(f"at {len(ids)} stores: API list, first page: {summary(first)} ({size // 1024} KB)")
            print(f"at {len(ids)} stores: API list, page 11 by cursor: {summary(deep)}")
            print(
                f"at {len(ids)} stores: dashboard page (admin): {summary(dashboard)} ({dash_size // 1024} KB)"
            )
            print(f"at {len(ids)} stores: one sweep {sweep:.2f} s (goal < 1 s)")
            print(f"at {len(ids)} stores: serve RSS {rss_mb(platform.process.pid):.0f} MB (goal < 200 MB)")
            print(
                f"goals: list p95 {percentile(first, 95):.1f} ms / {percentile(deep, 95):.1f} ms (< 50), "
                f"dashboard p95 {percentile(dashboard, 95):.1f} ms (< 150)"
            )

            started = time.monotonic()
            for store_id in ids:
                http.delete(f"/api/v1/stores/{store_id}").raise_for_status()
            counts = _until(http, ids, {"deleted", "failed"}, limit=7200)
            print(f"deleting {len(ids)}: {time.monotonic() - started:.1f} s ({counts})")
        namespaces = [
            n
            for n in cluster.kubectl("get", "namespaces", "-o", "name").split()
            if n.startswith("namespace/store-")
        ]
        volumes = cluster.kubectl("get", "pv", "-o", "name").split()
        print(f"left in the cluster: {len(namespaces)} store namespaces, {len(volumes)} persistent volumes")


if __name__ == "__main__":
    main()
