"""Bursts of authenticated reads (DESIGN.md §9): 80 concurrent `GET /api/v1/stores` against a real
`python -m app serve --no-workers` process, on SQLite and on a throwaway PostgreSQL, with the default
pool and rate-limit settings. Target: no 500; every request is answered (it queued) or refused with
429/503 and Retry-After.

No cluster is needed: reads never touch Kubernetes. Prints the status counts and latencies per round.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.simcluster.processes import free_port, tail
from bench.harness import summary
from tests.fixtures_db import fresh_postgres_database, throwaway_postgres
from tests.lifted_limits import LIMITS_LIFTED, as_environment


@contextmanager
def serving(database_url: str, data_dir: Path, **extra: str) -> Iterator[tuple[str, dict[str, str]]]:
    """`serve --no-workers` on a free port; yields (base URL, bearer headers of a plain user)."""
    port = free_port()
    # The burst is one user's: keep the read limit at its default, lift only the creation limits
    # the seeding needs.
    lifted = {k: v for k, v in LIMITS_LIFTED.items() if not k.startswith("ratelimit_reads")}
    env = {
        **os.environ,
        "STOREPLANE_DATABASE_URL": database_url,
        "STOREPLANE_DATA_DIR": str(data_dir),
        "STOREPLANE_PORT": str(port),
        "STOREPLANE_LOG_LEVEL": "WARNING",
        **as_environment(lifted),
        **extra,
    }
    subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, check=True, capture_output=True)
    token = (
        subprocess.run(
            [sys.executable, "-m", "app", "tokens", "create", "--user", "burst"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--no-workers"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited {process.returncode}:\n{tail(log)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve not healthy:\n{tail(log)}")
            time.sleep(0.2)
        yield base, {"Authorization": f"Bearer {token}"}
    finally:
        process.terminate()
        process.wait(timeout=60)


async def burst(
    base: str, headers: dict[str, str], path: str, n: int
) -> tuple[collections.Counter, list[float], set[str]]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as http:

        async def one() -> tuple[int, float, str | None]:
            started = time.perf_counter()
            response = await http.get(path)
            return (
                response.status_code,
                (time.perf_counter() - started) * 1000,
                response.headers.get("retry-after"),
            )

        results = await asyncio.gather(*(one() for _ in range(n)))
    codes = collections.Counter(code for code, _, _ in results)
    missing_retry_after = {str(code) for code, _, ra in results if code in (429, 503) and ra is None}
    return codes, [ms for _, ms, _ in results], missing_retry_after


def run(label: str, database_url: str, rounds: int, concurrency: int, stores: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="storeplane-burst-") as tmp,
        serving(database_url, Path(tmp)) as (base, headers),
    ):
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for i in range(stores):
                http.post(
                    "/api/v1/stores", json={"name": f"burst-{i}", "engine": "woocommerce"}
                ).raise_for_status()
        total: collections.Counter = collections.Counter()
        for r in range(rounds):
            started = time.perf_counter()
            codes, samples, missing = asyncio.run(burst(base, headers, "/api/v1/stores", concurrency))
            took = time.perf_counter() - started
            total += codes
            note = f"  429/503 without Retry-After: {sorted(missing)}" if missing else ""
            counts = dict(sorted(codes.items()))
            print(f"{label:10} round {r + 1}: {counts} in {took:.1f} s; {summary(samples)}{note}")
        print(f"{label:10} total: {dict(sorted(total.items()))}  (target: no 500)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=80)
    parser.add_argument("--stores", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="storeplane-burst-db-") as tmp:
        run("sqlite", f"sqlite:///{tmp}/storeplane.db", args.rounds, args.concurrency, args.stores)
    with throwaway_postgres() as admin_url:
        run("postgresql", fresh_postgres_database(admin_url), args.rounds, args.concurrency, args.stores)


if __name__ == "__main__":
    main()
