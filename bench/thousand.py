"""1,000 stores on one platform (issue 15), end to end: the real platform (`python -m app serve` with
its embedded workers, SQLite, worker concurrency 8) provisions real store-chart releases on a private
simulated cluster (fast profile) of 40 fake nodes (16 CPU, 64 GiB, 110 pods each: a WooCommerce
store requests 0.5 CPU and runs 2 pods, so 1,000 stores use 500 of the 640 CPUs), in bursts.

Prints, asserts nothing:
- each burst's time (flat means nothing degrades as the platform fills up);
- at 1,000 Ready stores: the API list p95 per page (first page and a page deep in by cursor), the
  dashboard page p95 (an administrator's), the serve process' RSS, and the sweep: a fresh sweeper
  (as after a restart) swept back to back until its drift step has compared every store (a batch
  per sweep), then warm (goals: list < 50 ms, dashboard < 150 ms, sweep < 1 s, RSS < 200 MB);
- deleting all 1,000 at once: the time until every store is Deleted, and what is left in the
  cluster (store namespaces, their volumes): the goal is nothing.
The dashboard during a 200-store burst is `python -m bench dashboard polling` (same goals).
`--stores N --nodes M` scale it down (e.g. 100 stores on 8 nodes to try it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from app.auth import accounts
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.kube import get_kube
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


def _sweeps(data_dir: Path, cluster: ClusterClient) -> list[tuple[float, int, int, int]]:
    """A fresh sweeper (as after a restart) swept back to back until the drift step has compared
    every store (a batch per sweep), then 5 warm sweeps: (seconds, stores checked, compared,
    API requests) of each."""
    settings = Settings(
        data_dir=data_dir,
        kubeconfig=str(cluster.kubeconfig),
        helm_binary=str(cluster.bin_dir / "helm"),
        orphan_grace_seconds=30 * 24 * 3600.0,
        reconcile_interval_seconds=0.001,  # every store is a candidate every sweep
    )
    engine = make_engine(settings.effective_database_url, settings)
    try:
        sweeper = Sweeper(make_sessionmaker(engine), settings, drift=True)

        async def sweep() -> tuple[float, int, int, int, int]:
            started = time.perf_counter()
            report = await sweeper.sweep()
            seconds = time.perf_counter() - started
            drift = report.drift
            if drift is None or drift.errors or report.errors:
                raise RuntimeError(f"the sweep failed: {report.errors or (drift and drift.errors)}")
            return seconds, drift.checked, drift.compared, drift.requests, drift.deferred

        async def run() -> list[tuple[float, int, int, int]]:
            found = [await sweep()]
            while found[-1][4] and len(found) < 200:  # catching up, a batch per sweep
                found.append(await sweep())
            found += [await sweep() for _ in range(5)]
            await get_kube(settings).close()
            return [row[:4] for row in found]

        return asyncio.run(run())
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
            page, depth = http.get("/api/v1/stores?limit=50").json(), 1
            while depth < 10 and page["next_cursor"]:  # a page deep in (11 at 1,000), by cursor
                page = http.get("/api/v1/stores", params={"limit": 50, "cursor": page["next_cursor"]}).json()
                depth += 1
            deep: list[float] = []
            if page["next_cursor"]:
                deep, _ = timed(http, f"/api/v1/stores?limit=50&cursor={page['next_cursor']}", 40)
            with httpx.Client(base_url=platform.base, timeout=30) as browser:
                login(browser, "boss")
                dashboard, dash_size = timed(browser, "/", 30)
            sweeps = _sweeps(data, cluster)
            print(f"at {len(ids)} stores: API list, first page: {summary(first)} ({size // 1024} KB)")
            if deep:
                print(f"at {len(ids)} stores: API list, page {depth + 1} by cursor: {summary(deep)}")
            print(
                f"at {len(ids)} stores: dashboard page (admin): {summary(dashboard)} ({dash_size // 1024} KB)"
            )
            cold, catching_up, warm = sweeps[0], sweeps[1:-5], [row[0] for row in sweeps[-5:]]
            print(
                f"at {len(ids)} stores: sweep after a restart: {cold[0]:.2f} s ({cold[2]} compared, "
                f"{cold[3]} API requests in its drift step); "
                f"{len(catching_up)} more sweeps to compare every store, "
                f"median {statistics.median([r[0] for r in catching_up] or [0]):.2f} s, "
                f"max {max([r[0] for r in catching_up] or [0]):.2f} s"
            )
            print(
                f"at {len(ids)} stores: warm sweep ({sweeps[-1][1]} stores checked, {sweeps[-1][3]} API "
                f"requests in its drift step): median {statistics.median(warm):.3f} s, "
                f"max {max(warm):.3f} s (goal < 1 s)"
            )
            print(f"at {len(ids)} stores: serve RSS {rss_mb(platform.process.pid):.0f} MB (goal < 200 MB)")
            deep_p95 = f"{percentile(deep, 95):.1f} ms" if deep else "(no deep page)"
            print(
                f"goals: list p95 {percentile(first, 95):.1f} ms / {deep_p95} (< 50), "
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
