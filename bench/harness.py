"""A platform process for benchmarks: `python -m app serve` on a free port, SQLite in a temp dir,
the simulated cluster, an admin API token, and a small HTTP client with timings."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.settings import REPO_ROOT
from app.simcluster.client import ClusterClient
from app.simcluster.processes import free_port, tail
from tests.lifted_limits import LIMITS_LIFTED, as_environment

STORE_CHART = REPO_ROOT / "store-chart"
LOCAL_STORE_VALUES = REPO_ROOT / "values" / "stores-local.yaml"
# A private cluster per benchmark, big enough that 40 stores (about 0.9 CPU of requests each) fit:
# the numbers then measure orchestration, not a full cluster.
BENCH_NODES = 4


def platform_env(cluster: ClusterClient, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "STOREPLANE_DATA_DIR": str(data_dir),
        "STOREPLANE_KUBECONFIG": str(cluster.kubeconfig),
        "STOREPLANE_HELM_BINARY": str(cluster.bin_dir / "helm"),
        "STOREPLANE_STORE_VALUES_FILE": str(LOCAL_STORE_VALUES),
        "STOREPLANE_PORT": str(port),
        "STOREPLANE_POLL_SECONDS": "0.2",
        # One benchmark user drives many stores: lift the abuse limits.
        **as_environment(LIMITS_LIFTED),
        "STOREPLANE_ORPHAN_GRACE_SECONDS": str(30 * 24 * 3600),
        "STOREPLANE_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


@dataclass
class Platform:
    base: str
    headers: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=30)


def admin_token(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "app", "tokens", "create", "--user", "bench", "--admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


@contextmanager
def running_platform(
    cluster: ClusterClient, data_dir: Path, *, args: tuple[str, ...] = (), **extra: str
) -> Iterator[Platform]:
    port = free_port()
    env = platform_env(cluster, data_dir, port, **extra)
    subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, check=True, capture_output=True)
    token = admin_token(env)
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    platform = Platform(f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}, process, log)
    try:
        _wait_healthy(platform)
        yield platform
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(platform: Platform, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if platform.process.poll() is not None:
            raise RuntimeError(f"serve exited {platform.process.returncode}:\n{tail(platform.log)}")
        try:
            if httpx.get(f"{platform.base}/api/v1/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"serve not healthy after {limit} s:\n{tail(platform.log)}")


def all_stores(http: httpx.Client, query: str = "") -> list[dict]:
    """Every store GET /api/v1/stores lists, page after page (`query`: its filters)."""
    found: list[dict] = []
    cursor = ""
    while True:
        page = http.get(f"/api/v1/stores?limit=200&{query}{cursor}").raise_for_status().json()
        found += page["items"]
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(samples_ms: list[float]) -> str:
    return (
        f"n={len(samples_ms)} p50={statistics.median(samples_ms):.1f} ms "
        f"p95={percentile(samples_ms, 95):.1f} ms max={max(samples_ms):.1f} ms"
    )
