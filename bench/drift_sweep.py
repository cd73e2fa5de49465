"""Drift sweep cost (issue 13): N Ready stores on the simulated cluster; the sweep compares each with
its release every --interval seconds inside `serve` (embedded workers: the same event loop as the
API). Printed: each sweep's time from its log line (the first one reads every release record: cold;
then warm), the API's p95 while sweeps run against the same API with drift detection off, and the
sweep with one list per namespace (what the platform chart's least privilege gives the provisioner)
measured in this process. Every store is compared in the cold sweep (`drift_batch` = the stores), as
before the batch existed. Target: a sweep over 200 stores under 2 s."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from app.db.engine import make_engine, make_sessionmaker
from app.fleet.drift_check import DriftCheck
from app.kube import get_kube
from app.settings import Settings
from app.simcluster.client import ClusterClient
from app.simcluster.session import ensure_cluster
from bench.harness import LOCAL_STORE_VALUES, Platform, all_stores, running_platform, summary

# 200 stores at ~0.5 CPU and 3 pods each need room: 10 fake nodes of 16 CPU and 110 pods.
NODES = 10


def provision(cluster: ClusterClient, data: Path, count: int) -> list[str]:
    with (
        running_platform(
            cluster,
            data,
            STOREPLANE_DRIFT_DETECTION="false",
            STOREPLANE_WORKER_CONCURRENCY="8",
            STOREPLANE_GLOBAL_CONCURRENCY="8",
        ) as platform,
        platform.client() as http,
    ):
        run = secrets.token_hex(3)
        ids = [
            http.post("/api/v1/stores", json={"name": f"dr{run}-{i}", "engine": "woocommerce"}).json()["id"]
            for i in range(count)
        ]
        pending = set(ids)
        started = time.monotonic()
        while pending:
            for s in all_stores(http):
                if s["id"] in pending and s["status"] in ("ready", "failed"):
                    pending.discard(s["id"])
            time.sleep(1)
        print(f"{count} stores provisioned in {time.monotonic() - started:.0f} s")
        return ids


def hammer(platform: Platform, ids: list[str], seconds: float) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"GET /api/v1/stores/{id}": [], "GET /api/v1/stores": []}
    deadline = time.monotonic() + seconds
    n = 0
    with platform.client() as http:
        while time.monotonic() < deadline:
            for label, path in (
                ("GET /api/v1/stores/{id}", f"/api/v1/stores/{ids[n % len(ids)]}"),
                ("GET /api/v1/stores", "/api/v1/stores"),
            ):
                began = time.perf_counter()
                http.get(path).raise_for_status()
                timings[label].append((time.perf_counter() - began) * 1000)
            n += 1
    return timings


def sweeps_in(log: Path) -> list[tuple[float, int, int]]:
    """(seconds, stores, API requests) of every drift sweep `serve` logged."""
    found = []
    for line in log.read_text().splitlines():
        try:
            entry: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if str(entry.get("message", "")).startswith("drift sweep:"):
            requests = int(entry["message"].split(", ")[1].split()[0])
            found.append((float(entry["drift_seconds"]), int(entry["drift_stores"]), requests))
    return found


class PerNamespace:
    """The cluster as the least-privileged provisioner sees it: one list per kind per namespace."""

    def __init__(self, settings: Settings) -> None:
        self.kube = get_kube(settings)

    async def read_secret(self, namespace: str, name: str) -> Any:
        return await self.kube.read_secret(namespace, name)

    async def inventory(
        self, namespaces: list[str], kinds: dict[str, bool], *, concurrency: int = 8, **_: Any
    ) -> Any:
        return await self.kube.inventory(namespaces, kinds, concurrency=concurrency, per_namespace=True)


async def in_process(settings: Settings, kube: Any, rounds: int) -> list[tuple[float, int, int]]:
    engine = make_engine(settings.effective_database_url)
    check = DriftCheck(make_sessionmaker(engine), settings, kube)
    found = []
    for _ in range(rounds):
        summary = await check.run()
        found.append((summary.seconds, summary.checked, summary.requests))
    engine.dispose()
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="API measurement per phase")
    args = parser.parse_args(argv)
    with (
        ensure_cluster(nodes=NODES, reuse=False) as cluster,
        tempfile.TemporaryDirectory(prefix="storeplane-bench-") as tmp,
    ):
        data = Path(tmp)
        ids = provision(cluster, data, args.stores)
        on = {
            "STOREPLANE_LOG_LEVEL": "INFO",
            "STOREPLANE_RECONCILE_INTERVAL_SECONDS": str(args.interval),
            "STOREPLANE_DRIFT_BATCH": str(args.stores),  # every store compared in the cold sweep
        }
        with running_platform(cluster, data, **on) as platform:
            time.sleep(args.interval * 1.5)  # the first (cold) sweep
            during = hammer(platform, ids, args.seconds)
            sweeps = sweeps_in(platform.log)
        with running_platform(cluster, data, STOREPLANE_DRIFT_DETECTION="false") as platform:
            without = hammer(platform, ids, args.seconds)
        if not sweeps:
            raise RuntimeError("no drift sweep was logged")
        cold, warm = sweeps[0], sweeps[1:]
        print(f"sweep (watch index), cold: {cold[1]} stores in {cold[0]:.2f} s, {cold[2]} API requests")
        if warm:
            seconds = [s for s, _, _ in warm]
            print(
                f"sweep (watch index), warm: {len(warm)} sweeps of {warm[0][1]} stores: median "
                f"{statistics.median(seconds):.2f} s, max {max(seconds):.2f} s, "
                f"{warm[0][2]} API requests each (target < 2 s)"
            )
        for label in during:
            print(f"{label:26} with sweeps every {args.interval:.0f} s: {summary(during[label])}")
            print(f"{label:26} drift detection off:      {summary(without[label])}")
        settings = Settings(
            database_url=f"sqlite:///{data / 'storeplane.db'}",
            kubeconfig=str(cluster.kubeconfig),
            store_values_file=str(LOCAL_STORE_VALUES),
            reconcile_interval_seconds=0.001,
            drift_batch=args.stores,
        )
        per_ns = asyncio.run(in_process(settings, PerNamespace(settings), 3))
        for (seconds, stores, requests), label in zip(per_ns, ("cold", "warm", "warm"), strict=True):
            print(
                f"sweep (per-namespace lists), {label}: {stores} stores in {seconds:.2f} s, "
                f"{requests} API requests"
            )


if __name__ == "__main__":
    main()
